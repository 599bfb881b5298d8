package layers

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// whiteout handles an entry whose base name starts with ".wh." in directory dir.
func (x *extractor) whiteout(hdr *tar.Header, dir, base string) error {
	if base == whiteoutOpaque {
		switch x.opts.Whiteouts {
		case WhiteoutsApply:
			return x.clearLower(dir)
		case WhiteoutsFiles:
			return x.fileWhiteout(hdr, dir, "")
		}
		return x.markOpaque(dir)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // aufs bookkeeping (.wh..wh.plnk and friends), as docker skips it
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("invalid whiteout name %q", base)
	}
	switch x.opts.Whiteouts {
	case WhiteoutsApply:
		return x.applyWhiteout(dir, name)
	case WhiteoutsFiles:
		return x.fileWhiteout(hdr, dir, name)
	}
	return x.overlayWhiteout(hdr, dir, name)
}

// fileWhiteout records the deletion of dir/name (name "": dir's opaque marker) as a DirOCI
// layer dir does: name goes, and an empty marker file takes the whiteout's own name.
func (x *extractor) fileWhiteout(hdr *tar.Header, dir, name string) error {
	pfd, err := x.root.openDir(dir, true)
	if err != nil {
		return fmt.Errorf("parent dir: %w", err)
	}
	defer unix.Close(pfd)
	marker := whiteoutOpaque
	if name != "" {
		marker = whiteoutPrefix + name
		if err := removeAllAt(pfd, name); err != nil {
			return fmt.Errorf("replace existing: %w", err)
		}
	}
	if err := removeAllAt(pfd, marker); err != nil {
		return fmt.Errorf("replace existing: %w", err)
	}
	// mknod makes a regular file too, with no open fd to leak and no umask to undo.
	if err := unix.Mknodat(pfd, marker, unix.S_IFREG, 0); err != nil {
		return fmt.Errorf("create whiteout file: %w", err)
	}
	t := target{dirfd: pfd, name: marker}
	if !x.opts.NoChown {
		if err := t.chown(-1, 0, 0); err != nil {
			return fmt.Errorf("chown whiteout: %w", err)
		}
	}
	if name != "" {
		x.markers[path.Join(dir, marker)] = true
	}
	return t.setMtime(hdr.ModTime)
}

var errMarkerDir = errors.New("a directory named .wh.* cannot be kept in a layer dir of the oci format (it would read as a whiteout)")

// hasMarkerDir reports whether a component of the relative dir path starts with ".wh.".
func hasMarkerDir(dir string) bool {
	return strings.HasPrefix(dir, whiteoutPrefix) || strings.Contains(dir, "/"+whiteoutPrefix)
}

// dropMarker removes the whiteout file of dir/base this extraction made, before an entry
// of that name replaces it (one layer dir never holds both).
func (x *extractor) dropMarker(pfd int, dir, base string) error {
	if len(x.markers) == 0 {
		return nil
	}
	rel := path.Join(dir, whiteoutPrefix+base)
	if !x.markers[rel] {
		return nil
	}
	delete(x.markers, rel)
	if err := removeAllAt(pfd, whiteoutPrefix+base); err != nil {
		return fmt.Errorf("replace whiteout: %w", err)
	}
	return nil
}

// overlayWhiteout records the deletion the way overlayfs does: a char device 0/0.
func (x *extractor) overlayWhiteout(hdr *tar.Header, dir, name string) error {
	pfd, err := x.root.openDir(dir, true)
	if err != nil {
		return fmt.Errorf("parent dir: %w", err)
	}
	defer unix.Close(pfd)
	if err := removeAllAt(pfd, name); err != nil {
		return fmt.Errorf("replace existing: %w", err)
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("create whiteout device: %w", err)
	}
	t := target{dirfd: pfd, name: name}
	if !x.opts.NoChown {
		if err := t.chown(-1, 0, 0); err != nil {
			return fmt.Errorf("chown whiteout: %w", err)
		}
	}
	return t.setMtime(hdr.ModTime)
}

// applyWhiteout removes dir/name left by a lower layer. A path this layer wrote itself
// stays: OCI whiteouts only hide lower content.
func (x *extractor) applyWhiteout(dir, name string) error {
	if x.unpacked[path.Join(dir, name)] {
		return nil
	}
	pfd, err := x.root.openDir(dir, false)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing below to hide
	}
	if err != nil {
		return fmt.Errorf("parent dir: %w", err)
	}
	defer unix.Close(pfd)
	return removeAllAt(pfd, name)
}

// markOpaque sets the overlay opaque flag on dir, creating it if the marker came first.
func (x *extractor) markOpaque(dir string) error {
	pfd, err := x.root.openDir(dir, true)
	if err != nil {
		return fmt.Errorf("opaque dir: %w", err)
	}
	unix.Close(pfd)
	fd, err := x.root.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open opaque dir: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, overlayOpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("set %s: %w", overlayOpaqueXattr, err)
	}
	return nil
}

// clearLower empties dir of everything this layer did not write, descending into
// directories the layer wrote so that their lower children go too.
func (x *extractor) clearLower(dir string) error {
	fd, err := x.root.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open opaque dir: %w", err)
	}
	d := os.NewFile(uintptr(fd), dir)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read opaque dir: %w", err)
	}
	for _, name := range names {
		child := path.Join(dir, name)
		if !x.unpacked[child] {
			if err := removeAllAt(fd, name); err != nil {
				return err
			}
			continue
		}
		if st, ok, err := lstatAt(fd, name); err == nil && ok && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := x.clearLower(child); err != nil {
				return err
			}
		}
	}
	return nil
}
