package copier

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// copyXattrs copies extended attributes, except those that describe the host rather than
// the file: SELinux labels and overlayfs's own bookkeeping.
func copyXattrs(src, dst string) error {
	names, err := listXattrs(src)
	if err != nil || len(names) == 0 {
		return err
	}
	buf := make([]byte, 4096)
	for _, name := range names {
		if name == "security.selinux" || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		n, err := unix.Lgetxattr(src, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err2 := unix.Lgetxattr(src, name, nil)
			if err2 != nil {
				return err2
			}
			buf = make([]byte, size)
			n, err = unix.Lgetxattr(src, name, buf)
		}
		if err != nil {
			return err
		}
		if err := unix.Lsetxattr(dst, name, buf[:n], 0); err != nil {
			return err
		}
	}
	return nil
}

func listXattrs(path string) ([]string, error) {
	size, err := unix.Llistxattr(path, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name != "" {
			names = append(names, name)
		}
	}
	return names, nil
}
