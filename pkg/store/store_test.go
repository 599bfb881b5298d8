package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/pkg/layers"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sha(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

func TestBlobsAreVerifiedBeforeTheyAppear(t *testing.T) {
	s := open(t)
	data := []byte("hello blob")
	h, n, err := s.WriteBlob(bytes.NewReader(data), sha(data))
	if err != nil || h != sha(data) || n != int64(len(data)) {
		t.Fatalf("WriteBlob = %v %d %v", h, n, err)
	}
	wrong := sha([]byte("other"))
	if _, _, err := s.WriteBlob(bytes.NewReader(data), wrong); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("a blob with the wrong digest was accepted: %v", err)
	}
	if s.HasBlob(wrong) {
		t.Error("a mismatching blob is visible")
	}
	se, _ := s.Scratch()
	left, _ := os.ReadDir(se.Dir)
	if len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

func TestReferences(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                   "docker.io/library/busybox:latest",
		"busybox:1.36":              "docker.io/library/busybox:1.36",
		"team/app":                  "docker.io/team/app:latest",
		"localhost:5000/app:1":      "localhost:5000/app:1",
		"registry.example/a/b/c:v2": "registry.example/a/b/c:v2",
	} {
		got, err := Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got := FamiliarName("docker.io/library/busybox:latest"); got != "busybox:latest" {
		t.Errorf("FamiliarName = %q", got)
	}
	if _, err := Normalize("UPPER/case"); err == nil {
		t.Error("an invalid reference was accepted")
	}
}

// layerFrom writes dir as a stored layer.
func layerFrom(t *testing.T, s *Store, files map[string]string) *Layer {
	t.Helper()
	se, err := s.Scratch()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(se.Dir, "dir-")
	if err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.WriteLayerDir(context.Background(), dir, layers.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testImage(t *testing.T, s *Store) v1.Image {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layerFrom(t, s, map[string]string{"a": "1"}), layerFrom(t, s, map[string]string{"b": "2"}))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImagesTagsAndResolve(t *testing.T) {
	s := open(t)
	img := testImage(t, s)
	d, err := s.WriteImage(img, "app:1", "localhost:5000/app:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"app:1", "docker.io/library/app:1", "localhost:5000/app:1", "app@" + d.String(), d.Hex[:12]} {
		got, err := s.Resolve(ref)
		if err != nil || got != d {
			t.Errorf("Resolve(%q) = %v, %v; want %v", ref, got, err, d)
		}
	}
	cfg, _ := img.ConfigName()
	if got, err := s.Resolve(cfg.Hex[:10]); err != nil || got != d {
		t.Errorf("Resolve(image ID prefix) = %v, %v", got, err)
	}
	if _, err := s.Resolve("app:2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(app:2) = %v, want ErrNotFound", err)
	}
	stored, err := s.Image("app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(stored); err != nil {
		t.Errorf("stored image does not validate: %v", err)
	}
	if err := s.Untag("app:1"); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.Images()
	if len(recs) != 1 || recs[0].Ref != "localhost:5000/app:1" {
		t.Errorf("after untag: %v", recs)
	}
}

// An independent reader: skopeo finds the tag in the layout by its ref.name annotation.
func TestSkopeoReadsTheLayout(t *testing.T) {
	skopeo := testutil.RequireBinary(t, "skopeo")
	s := open(t)
	d, err := s.WriteImage(testImage(t, s), "app:1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+s.LayoutPath()+":docker.io/library/app:1").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	if got := sha(bytes.TrimSpace(out)); got != d && sha(out) != d {
		t.Errorf("skopeo read a manifest with digest %v, want %v", got, d)
	}
}

func TestLayerDirsExtractWhatIsMissing(t *testing.T) {
	testutil.RequireRoot(t)
	s := open(t)
	img := testImage(t, s)
	ls, _ := img.Layers()
	bottom, _ := ls[0].DiffID()
	if err := os.RemoveAll(s.LayerDir(bottom)); err != nil {
		t.Fatal(err)
	}
	dirs, err := s.LayerDirs(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 2 || dirs[1] != s.LayerDir(bottom) {
		t.Fatalf("LayerDirs = %v; want the bottom layer last", dirs)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[1], "a")); err != nil || string(b) != "1" {
		t.Errorf("re-extracted layer: %q %v", b, err)
	}
}

func TestRecoverRemovesDeadSessions(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	// A process that dies without Close: its lock goes with it.
	dead := filepath.Join(root, "tmp", "sess-dead")
	if err := os.MkdirAll(filepath.Join(dead, "junk"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dead+".lock", nil, 0o600)
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	live, err := s.Scratch()
	if err != nil {
		t.Fatal(err)
	}
	var cleaned []string
	if err := s.Recover(func(dir string) error { cleaned = append(cleaned, dir); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(cleaned) != 1 || cleaned[0] != dead {
		t.Errorf("cleanup ran on %v, want only %s", cleaned, dead)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("the dead session survived")
	}
	if _, err := os.Stat(live.Dir); err != nil {
		t.Errorf("our own live session was removed: %v", err)
	}
}
