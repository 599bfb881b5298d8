package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Overlayfs mounts a fresh overlay in a temp dir, unmounted at cleanup, and returns its
// merged dir: a filesystem that holds neither whiteout devices nor trusted.overlay
// xattrs, where a CI job running inside a container finds its store.
func Overlayfs(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(dir, "m")
	opts := "lowerdir=" + dir + "/l,upperdir=" + dir + "/u,workdir=" + dir + "/w"
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		Missing(t, "overlayfs mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}
