package layers

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DirFormat is how a layer directory records what its layer deletes. Both formats give
// the same tar: WriteTar turns either into OCI whiteouts.
type DirFormat int

const (
	// DirOverlay is overlayfs's upper dir format: a deleted path is a character device 0/0,
	// a directory hiding its lower contents carries trusted.overlay.opaque=y. Overlayfs can
	// stack such dirs as they are.
	DirOverlay DirFormat = iota
	// DirOCI keeps the tar's own markers, as empty files: .wh.<name> deletes name, and
	// .wh..wh..opq hides what lower layers hold in its directory. It is for filesystems
	// that can hold neither whiteout devices nor trusted.overlay xattrs (overlayfs itself,
	// a user namespace without CAP_MKNOD); only the copy snapshotter stacks such dirs.
	DirOCI
)

func (f DirFormat) String() string {
	switch f {
	case DirOverlay:
		return "overlay"
	case DirOCI:
		return "oci"
	}
	return fmt.Sprintf("DirFormat(%d)", int(f))
}

// ParseDirFormat is the inverse of String.
func ParseDirFormat(s string) (DirFormat, error) {
	switch s {
	case "overlay":
		return DirOverlay, nil
	case "oci":
		return DirOCI, nil
	}
	return 0, fmt.Errorf("layer dir format %q: want overlay or oci", s)
}

// Whiteouts is the extraction mode that makes a layer dir of this format.
func (f DirFormat) Whiteouts() WhiteoutMode {
	if f == DirOCI {
		return WhiteoutsFiles
	}
	return WhiteoutsOverlay
}

// ProbeDirFormat reports which format layer dirs on dir's filesystem can have: DirOverlay
// where a 0/0 character device can be made and trusted.overlay.opaque set, else DirOCI.
// It works in a temporary directory below dir, removed before it returns.
func ProbeDirFormat(dir string) (DirFormat, error) {
	p, err := os.MkdirTemp(dir, "probe-")
	if err != nil {
		return 0, fmt.Errorf("probe layer dir format in %s: %w", dir, err)
	}
	defer os.RemoveAll(p)
	// Overlayfs answers EPERM to both, a user namespace EPERM to mknod, a filesystem
	// without xattrs EOPNOTSUPP: whatever the reason, the overlay format cannot be kept.
	if err := unix.Mknod(filepath.Join(p, "whiteout"), unix.S_IFCHR, 0); err != nil {
		return DirOCI, nil
	}
	if err := unix.Lsetxattr(p, overlayOpaqueXattr, []byte("y"), 0); err != nil {
		return DirOCI, nil
	}
	return DirOverlay, nil
}
