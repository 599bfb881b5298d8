package layers

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WhiteoutMode says what Extract does with OCI whiteout entries.
type WhiteoutMode int

const (
	// WhiteoutsOverlay keeps deletions as overlayfs expects them in a layer dir:
	// .wh.x becomes a char device 0/0 at x, .wh..wh..opq sets trusted.overlay.opaque=y.
	WhiteoutsOverlay WhiteoutMode = iota
	// WhiteoutsApply performs deletions, for flattening layers into one root: .wh.x
	// removes x recursively, .wh..wh..opq removes every child the layer itself did not
	// write.
	WhiteoutsApply
	// WhiteoutsKeep extracts whiteout entries as the plain files they are in the tar: an
	// archive that ADD unpacks is not a layer (docker's Untar does the same).
	WhiteoutsKeep
	// WhiteoutsFiles keeps deletions as a DirOCI layer dir holds them: .wh.x becomes an
	// empty file .wh.x (mode 0, owned by root) and x goes, .wh..wh..opq an empty file of
	// that name. A later entry x removes the marker .wh.x, as it replaces an overlay
	// whiteout device, and a directory named .wh.* is refused: it would read as a marker.
	WhiteoutsFiles
)

// ExtractOptions controls Extract.
type ExtractOptions struct {
	Whiteouts WhiteoutMode
	// SkipDevices leaves out char and block device entries (needed without CAP_MKNOD).
	// Fifos and overlay whiteouts are still created.
	SkipDevices bool
	// NoChown keeps the extracting user as owner instead of the tar's uid/gid.
	NoChown bool
	// Owner, when set, owns every entry ({uid, gid}) whatever the tar says (ADD --chown).
	Owner *[2]int
}

// Extract unpacks an uncompressed tar stream into root (created if missing). Every path is
// resolved by the kernel inside root (openat2 RESOLVE_IN_ROOT), so symlinks in the tree
// act as in a chroot; names with ".." components, ".." whiteouts and hard links to
// outside the root are rejected, and leading "/" is stripped. A later entry replaces an
// earlier one as in docker (a directory over a directory merges). Directory mtimes are set
// last. A truncated stream is an error, and the rest of r after the end-of-archive marker
// is drained so a decompressor below can verify its checksum.
func Extract(ctx context.Context, r io.Reader, root string, opts ExtractOptions) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create extraction root: %w", err)
	}
	ir, err := openInRoot(root)
	if err != nil {
		return err
	}
	defer ir.close()
	x := &extractor{root: ir, opts: opts, buf: make([]byte, 256<<10)}
	switch opts.Whiteouts {
	case WhiteoutsApply:
		x.unpacked = map[string]bool{}
	case WhiteoutsFiles:
		x.markers = map[string]bool{}
	}
	if err := x.run(ctx, r); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("read layer stream after the tar end: %w", err)
	}
	return nil
}

type extractor struct {
	root     *inRoot
	opts     ExtractOptions
	unpacked map[string]bool // WhiteoutsApply: paths this layer wrote, with their parents
	markers  map[string]bool // WhiteoutsFiles: the .wh.<name> files made, by relative path
	dirTimes []dirTime
	buf      []byte
}

type dirTime struct {
	rel   string
	mtime time.Time
}

func (x *extractor) run(ctx context.Context, r io.Reader) error {
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	var dataEnd int64 // stream offset where the last entry's data and padding end
	last := "(start of stream)"
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar header after %q: %w", last, err)
		}
		last = hdr.Name
		dataEnd = cr.n + paddedDataLen(hdr)
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extract %q: %w", hdr.Name, err)
		}
	}
	// archive/tar accepts a stream that stops at an entry boundary; a layer that lacks
	// the two zero blocks of the end-of-archive marker was cut short.
	if cr.n < dataEnd+2*512 {
		return fmt.Errorf("tar stream truncated after %q: no end-of-archive marker", last)
	}
	return x.setDirTimes()
}

func paddedDataLen(hdr *tar.Header) int64 {
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return 0
	}
	return (hdr.Size + 511) &^ 511
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var errEscape = errors.New("path has a \"..\" component (would escape the root)")

// cleanName turns a tar name into a clean path relative to the root ("" is the root).
// Leading slashes are stripped as GNU tar does; ".." is refused rather than clamped,
// because only a hostile archive uses it.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	for comp := range strings.SplitSeq(name, "/") {
		if comp == ".." {
			return "", errEscape
		}
	}
	return path.Clean("/" + name)[1:], nil
}

func splitRel(rel string) (dir, base string) {
	dir, base = path.Split(rel)
	return strings.TrimSuffix(dir, "/"), base
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if isSparse(hdr) {
		return errors.New("sparse tar entries are not supported")
	}
	dir, base := splitRel(rel)
	if x.markers != nil && hasMarkerDir(dir) {
		return errMarkerDir
	}
	if strings.HasPrefix(base, whiteoutPrefix) && x.opts.Whiteouts != WhiteoutsKeep {
		return x.whiteout(hdr, dir, base)
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // archive-wide PAX defaults; nothing to create
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("only a directory may name the root")
		}
		return x.rootDir(hdr)
	}
	x.markUnpacked(rel)
	pfd, err := x.root.openDir(dir, true)
	if err != nil {
		return fmt.Errorf("parent dir: %w", err)
	}
	defer unix.Close(pfd)
	if err := x.dropMarker(pfd, dir, base); err != nil {
		return err
	}
	return x.create(hdr, pfd, rel, base, r)
}

// create makes one non-root entry named base in the parent dir pfd.
func (x *extractor) create(hdr *tar.Header, pfd int, rel, base string, r io.Reader) error {
	if hdr.Typeflag == tar.TypeDir {
		return x.dir(hdr, pfd, rel, base)
	}
	if (hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock) && x.opts.SkipDevices {
		return nil
	}
	if hdr.Typeflag == tar.TypeLink {
		return x.hardlink(hdr, pfd, rel, base)
	}
	if err := removeAllAt(pfd, base); err != nil {
		return fmt.Errorf("replace existing: %w", err)
	}
	t := target{dirfd: pfd, name: base}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont:
		return x.file(hdr, t, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, nodeType(hdr.Typeflag)|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	if err := x.setMeta(hdr, t, -1); err != nil {
		return err
	}
	return t.setMtime(hdr.ModTime)
}

// dir creates or merges a directory; its mtime is applied after all children are written.
func (x *extractor) dir(hdr *tar.Header, pfd int, rel, base string) error {
	st, exists, err := lstatAt(pfd, base)
	if err != nil {
		return err
	}
	if exists && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := removeAllAt(pfd, base); err != nil {
			return fmt.Errorf("replace existing: %w", err)
		}
		exists = false
	}
	if !exists {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	if err := x.setMeta(hdr, target{dirfd: pfd, name: base}, -1); err != nil {
		return err
	}
	x.dirTimes = append(x.dirTimes, dirTime{rel: rel, mtime: hdr.ModTime})
	return nil
}

// rootDir applies a "./" entry to root itself: its mode becomes the image's "/".
func (x *extractor) rootDir(hdr *tar.Header) error {
	if err := x.setMeta(hdr, target{dirfd: unix.AT_FDCWD, name: x.root.path}, -1); err != nil {
		return err
	}
	x.dirTimes = append(x.dirTimes, dirTime{rel: "", mtime: hdr.ModTime})
	return nil
}

func (x *extractor) file(hdr *tar.Header, t target, r io.Reader) error {
	fd, err := unix.Openat(t.dirfd, t.name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	f := os.NewFile(uintptr(fd), t.name)
	defer f.Close()
	// Hiding os.File's ReadFrom makes CopyBuffer use our buffer instead of allocating.
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, r, x.buf); err != nil {
		return fmt.Errorf("write file data: %w", err)
	}
	if err := x.setMeta(hdr, t, fd); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close file: %w", err)
	}
	return t.setMtime(hdr.ModTime)
}

// hardlink links base to an entry already extracted inside the root. The link itself gets
// no metadata: chown on the shared inode would clear its setuid bits and capabilities.
func (x *extractor) hardlink(hdr *tar.Header, pfd int, rel, base string) error {
	trel, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	if trel == "" || trel == rel {
		return fmt.Errorf("hard link target %q: not a file of the archive", hdr.Linkname)
	}
	tdir, tbase := splitRel(trel)
	if x.markers != nil && strings.HasPrefix(tbase, whiteoutPrefix) {
		return fmt.Errorf("hard link target %q: a whiteout, not a file of the archive", hdr.Linkname)
	}
	tfd, err := x.root.openDir(tdir, false)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	if _, ok, err := lstatAt(tfd, tbase); err != nil || !ok {
		return fmt.Errorf("hard link target %q: does not exist in the root", hdr.Linkname)
	}
	if err := removeAllAt(pfd, base); err != nil {
		return fmt.Errorf("replace existing: %w", err)
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

func nodeType(flag byte) uint32 {
	switch flag {
	case tar.TypeChar:
		return unix.S_IFCHR
	case tar.TypeBlock:
		return unix.S_IFBLK
	}
	return unix.S_IFIFO
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func (x *extractor) markUnpacked(rel string) {
	if x.unpacked == nil {
		return
	}
	for p := rel; p != "." && p != "" && !x.unpacked[p]; p = path.Dir(p) {
		x.unpacked[p] = true
	}
}

func (x *extractor) setDirTimes() error {
	for _, dt := range x.dirTimes {
		if err := x.setDirTime(dt); err != nil {
			return fmt.Errorf("set mtime of %q: %w", dt.rel, err)
		}
	}
	return nil
}

func (x *extractor) setDirTime(dt dirTime) error {
	if dt.rel == "" {
		return target{dirfd: unix.AT_FDCWD, name: x.root.path}.setMtime(dt.mtime)
	}
	dir, base := splitRel(dt.rel)
	pfd, err := x.root.openDir(dir, false)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // removed by a later entry
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	err = target{dirfd: pfd, name: base}.setMtime(dt.mtime)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
