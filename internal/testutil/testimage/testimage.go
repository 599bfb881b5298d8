// Package testimage makes small images in a local store for tests: a busybox root plus
// a few files, with an image config. It lives apart from testutil because it imports
// pkg/store, whose own tests use testutil.
package testimage

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/store"
)

// Busybox stores, under ref, a one-layer image of a busybox root with files added (path
// → content; a script ("#!") or an ELF binary is made executable) and config cfg. It returns
// the image's manifest digest.
func Busybox(t testing.TB, s *store.Store, ref string, cfg v1.Config, files map[string]string) v1.Hash {
	t.Helper()
	dir := testutil.BusyboxRootfs(t)
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") || strings.HasPrefix(content, "\x7fELF") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	layer, err := s.WriteLayerDir(context.Background(), dir, layers.WriteOptions{})
	if err != nil {
		t.Fatalf("write layer: %v", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", runtime.GOARCH, cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	d, err := s.WriteImage(img, ref)
	if err != nil {
		t.Fatalf("write image %s: %v", ref, err)
	}
	return d
}
