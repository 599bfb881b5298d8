package push_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociImage is a random OCI image of n layers of size bytes each (plus tar headers).
func ociImage(t testing.TB, n int, size int64) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for i := 0; i < n; i++ {
		l, err := random.Layer(size, types.OCILayer)
		if err != nil {
			t.Fatalf("random layer: %v", err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatalf("append layer: %v", err)
		}
	}
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: mustConfig(t, img).RootFS})
	if err != nil {
		t.Fatalf("set config: %v", err)
	}
	return img
}

func mustConfig(t testing.TB, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("config file: %v", err)
	}
	return cf
}

func mustDigest(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return d
}

// blobCount is the number of blobs a push of img writes: its layers and its config.
func blobCount(t testing.TB, img v1.Image) int {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatalf("layers: %v", err)
	}
	return len(ls) + 1
}

// skopeo runs skopeo with args and returns its standard output.
func skopeo(t testing.TB, args ...string) []byte {
	t.Helper()
	bin := testutil.RequireBinary(t, "skopeo")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// skopeoDigest is the manifest digest skopeo reads for ref (docker://…).
func skopeoDigest(t testing.TB, args ...string) string {
	t.Helper()
	var out struct{ Digest string }
	if err := json.Unmarshal(skopeo(t, append([]string{"inspect"}, args...)...), &out); err != nil {
		t.Fatalf("parse skopeo inspect: %v", err)
	}
	return out.Digest
}

// staticKeychain hands out the same credentials for every registry.
type staticKeychain struct{ user, pass string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.pass}, nil
}

// isolateDockerConfig points DOCKER_CONFIG at an empty directory so no real credentials
// leak into (or out of) a test.
func isolateDockerConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	return dir
}

// warnings collects Warn messages.
type warnings struct{ msgs []string }

func (w *warnings) add(s string)   { w.msgs = append(w.msgs, s) }
func (w *warnings) String() string { return strings.Join(w.msgs, "\n") }
