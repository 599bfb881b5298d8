package build

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/pkg/store"
)

// TestImportDirAndTarball: importing a directory or a tarball leaves the layer's dir in
// the store at once (the image is ready to stack, nothing to extract on first use), and
// the imported directory as it was.
func TestImportDirAndTarball(t *testing.T) {
	testutil.RequireRoot(t) // the layer dir keeps the tree's owners
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "etc", "motd"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("etc/motd", filepath.Join(src, "motd")); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "root.tar")
	writeTar(t, tarball, src)

	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, source := range []string{src, tarball} {
		res, err := Import(context.Background(), ImportOptions{Store: s, Source: source, Tags: []string{"imported:" + strconv.Itoa(i)}})
		if err != nil {
			t.Fatalf("import %s: %v", source, err)
		}
		cf, err := res.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		diffID := cf.RootFS.DiffIDs[0]
		if !s.HasLayerDir(diffID) {
			t.Errorf("import %s: the store has no layer dir for %s", source, diffID)
		}
		if b, err := os.ReadFile(filepath.Join(s.LayerDir(diffID), "etc", "motd")); err != nil || string(b) != "hi\n" {
			t.Errorf("import %s: layer dir's etc/motd = %q, %v", source, b, err)
		}
		if l, err := os.Readlink(filepath.Join(s.LayerDir(diffID), "motd")); err != nil || l != "etc/motd" {
			t.Errorf("import %s: layer dir's motd links to %q, %v", source, l, err)
		}
	}
	if entries, _ := os.ReadDir(src); len(entries) != 2 {
		t.Errorf("the imported dir changed: %d entries", len(entries))
	}
}

// writeTar writes the tree at root (dirs, regular files, symlinks) as a tarball.
func writeTar(t *testing.T, path, root string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
