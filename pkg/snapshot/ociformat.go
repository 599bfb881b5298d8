package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/layers"
)

// The marker names of a layers.DirOCI layer dir: the OCI tar's own whiteout files.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	whiteoutMeta   = ".wh..wh." // aufs bookkeeping, never a deletion
)

// markerTarget tells a marker of a DirOCI dir from a plain entry: marker is true for every
// ".wh." name, and hidden is the sibling it deletes ("" for the opaque marker, aufs names
// and names that could only point at the directory itself).
func markerTarget(name string) (hidden string, marker bool) {
	hidden, marker = strings.CutPrefix(name, whiteoutPrefix)
	if !marker || strings.HasPrefix(name, whiteoutMeta) || hidden == "." || hidden == ".." {
		return "", marker
	}
	return hidden, true
}

// opaqueIn reports whether the layer dir's directory dir hides the lowers' contents.
func opaqueIn(format layers.DirFormat, dir string) bool {
	if format == layers.DirOCI {
		var st unix.Stat_t
		return unix.Lstat(filepath.Join(dir, opaqueMarker), &st) == nil
	}
	return isOpaque(dir)
}

// writeWhiteout records in a diff that path was deleted.
func writeWhiteout(format layers.DirFormat, path string) error {
	if format == layers.DirOCI {
		return putMarker(filepath.Join(filepath.Dir(path), whiteoutPrefix+filepath.Base(path)))
	}
	return unix.Mknod(path, unix.S_IFCHR, 0)
}

// markOpaque records in a diff that the directory dir hides the lowers' contents. The
// marker file must not change dir's times, which the layer carries.
func markOpaque(format layers.DirFormat, dir string) error {
	if format != layers.DirOCI {
		if err := unix.Lsetxattr(dir, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("set %s on %s: %w", opaqueXattr, dir, err)
		}
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if err := putMarker(filepath.Join(dir, opaqueMarker)); err != nil {
		return err
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dir, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", dir, err)
	}
	return nil
}

// putMarker makes path an empty marker file, replacing what a step may have put there
// under that name (which would read as a marker anyway).
func putMarker(path string) error {
	if err := os.RemoveAll(path); err != nil {
		return err
	}
	if err := unix.Mknod(path, unix.S_IFREG, 0); err != nil {
		return fmt.Errorf("whiteout file %s: %w", path, err)
	}
	return nil
}
