package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A persistent root lives in a directory the caller names, and outlives the process that
// mounted it: a container's writable layer is kept from one start to the next until the
// container is removed, by another process than the one that created it. Its layout is
// the one Prepare uses: upper/, work/, merged/ (Root) and stubs/.

// PrepareAt mounts lowers (lowers[0] on top) under dir/upper at dir/merged, creating what
// is missing. An existing upper dir, such as a stopped container's writable layer, is
// kept, so its changes are there again. Stubs are made once, on the first call.
func PrepareAt(ctx context.Context, dir string, lowers []string, stubs []Stub) (*Mount, error) {
	m := &Mount{dir: dir, upper: filepath.Join(dir, "upper"), Root: filepath.Join(dir, "merged")}
	work := filepath.Join(dir, "work")
	for _, d := range []string{dir, m.upper, work, m.Root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("prepare root at %s: %w", dir, err)
		}
	}
	if mounted, err := isMountPoint(m.Root); err != nil {
		return nil, err
	} else if mounted {
		return nil, fmt.Errorf("prepare root at %s: already mounted", dir)
	}
	if len(lowers) == 0 {
		empty := filepath.Join(dir, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, fmt.Errorf("prepare root at %s: %w", dir, err)
		}
		lowers = []string{empty}
	}
	stubDir := filepath.Join(dir, "stubs")
	if _, err := os.Stat(stubDir); errors.Is(err, fs.ErrNotExist) && len(stubs) > 0 {
		if _, err := (&Overlay{work: dir}).stubLayer(dir, lowers, stubs); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(stubDir); err == nil {
		lowers = append([]string{stubDir}, lowers...)
	}
	if err := mountOverlay(m.Root, lowers, m.upper, work); err != nil {
		return nil, err
	}
	m.mounted = true
	return m, nil
}

// UnmountAt unmounts the root PrepareAt mounted at dir, keeping its upper dir. It is a
// no-op when nothing is mounted, and works from any process.
func UnmountAt(dir string) error {
	return unmount(filepath.Join(dir, "merged"))
}

// RemoveAt unmounts the root at dir, if mounted, and removes dir with everything in it.
func RemoveAt(dir string) error {
	if err := UnmountAt(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove root %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether path is a mount point: its mount id differs from its
// parent's.
func isMountPoint(path string) (bool, error) {
	id, err := mountID(path)
	if err != nil {
		return false, err
	}
	parent, err := mountID(filepath.Dir(path))
	if err != nil {
		return false, err
	}
	return id != parent, nil
}

func mountID(path string) (uint64, error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &st); err != nil {
		return 0, fmt.Errorf("statx %s: %w", path, err)
	}
	return st.Mnt_id, nil
}
