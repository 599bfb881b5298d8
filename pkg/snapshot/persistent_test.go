package snapshot

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// TestPrepareAtKeepsUpper mounts a persistent root twice: what was written through the
// first mount is there through the second, and RemoveAt leaves nothing.
func TestPrepareAtKeepsUpper(t *testing.T) {
	testutil.RequireRoot(t)
	lower := t.TempDir()
	if err := os.WriteFile(filepath.Join(lower, "image-file"), []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ctr")
	ctx := context.Background()
	m, err := PrepareAt(ctx, dir, []string{lower}, DefaultStubs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareAt(ctx, dir, []string{lower}, nil); err == nil {
		t.Error("second PrepareAt on a mounted dir succeeded")
	}
	if err := os.WriteFile(filepath.Join(m.Root, "written"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"proc", "etc/hosts", "image-file"} {
		if _, err := os.Lstat(filepath.Join(m.Root, p)); err != nil {
			t.Errorf("%s missing in the root: %v", p, err)
		}
	}
	if err := UnmountAt(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "merged", "image-file")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("root still mounted after UnmountAt (stat: %v)", err)
	}
	m, err = PrepareAt(ctx, dir, []string{lower}, DefaultStubs)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(m.Root, "written")); err != nil || string(b) != "kept" {
		t.Errorf("written file after remount = %q, %v; want kept", b, err)
	}
	if _, err := os.Stat(filepath.Join(lower, "written")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write reached the lower dir (stat: %v)", err)
	}
	if err := RemoveAt(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dir still there after RemoveAt (stat: %v)", err)
	}
	if err := RemoveAt(dir); err != nil {
		t.Errorf("RemoveAt twice: %v", err)
	}
}
