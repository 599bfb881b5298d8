package layers

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	paxXattrPrefix = "SCHILY.xattr."

	overlayOpaqueXattr   = "trusted.overlay.opaque"
	overlayRedirectXattr = "trusted.overlay.redirect"
	overlayMetacopyXattr = "trusted.overlay.metacopy"
)

// keepXattr is the one policy for both directions: what a layer tar may carry, and what a
// tar may set on disk. File capabilities and IMA signatures matter at run time; user.* is
// user data. security.selinux is host labelling, and trusted.* / user.overlay.* are
// overlayfs metadata: letting a tar set them would forge whiteouts or redirects.
func keepXattr(name string) bool {
	switch {
	case name == "security.capability", name == "security.ima":
		return true
	case strings.HasPrefix(name, "user.overlay."):
		return false
	case strings.HasPrefix(name, "user."):
		return true
	}
	return false
}

// listXattrs returns every xattr of path (not following a final symlink), sorted by name.
func listXattrs(path string) (map[string][]byte, []string, error) {
	names, err := llistxattr(path)
	if err != nil || len(names) == 0 {
		return nil, nil, err
	}
	vals := make(map[string][]byte, len(names))
	for _, name := range names {
		v, err := lgetxattr(path, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed between list and get
		}
		if err != nil {
			return nil, nil, err
		}
		vals[name] = v
	}
	return vals, names, nil
}

func llistxattr(path string) ([]string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
			}
			buf = make([]byte, size+64)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
		}
		var names []string
		for name := range bytes.SplitSeq(buf[:n], []byte{0}) {
			if len(name) > 0 {
				names = append(names, string(name))
			}
		}
		slices.Sort(names)
		return names, nil
	}
}

func lgetxattr(path, name string) ([]byte, error) {
	buf := make([]byte, 128)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Lgetxattr(path, name, nil)
			if err != nil {
				return nil, fmt.Errorf("get xattr %s of %s: %w", name, path, err)
			}
			buf = make([]byte, size+64)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, path, err)
		}
		return buf[:n], nil
	}
}
