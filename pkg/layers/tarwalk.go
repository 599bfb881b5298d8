package layers

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
	// whiteoutMeta prefixes aufs bookkeeping entries (.wh..wh.plnk, ...), never real files.
	whiteoutMeta = ".wh..wh."
)

// whiteoutTime is the mtime of every whiteout header: a deletion has no meaningful time,
// and a fixed one keeps layers reproducible without SourceDateEpoch (containerd 2 does
// the same).
var whiteoutTime = time.Unix(0, 0)

type inodeKey struct{ dev, ino uint64 }

// tarWalker writes one layer directory as a tar; one per WriteTar call.
type tarWalker struct {
	ctx    context.Context
	root   string
	tw     *tar.Writer
	epoch  *time.Time
	format DirFormat
	links  map[inodeKey]string // first tar name of each multiply-linked regular file
	buf    []byte
}

func newTarWalker(ctx context.Context, root string, w io.Writer, opts WriteOptions) *tarWalker {
	return &tarWalker{
		ctx:    ctx,
		root:   root,
		tw:     tar.NewWriter(w),
		epoch:  opts.SourceDateEpoch,
		format: opts.Format,
		links:  map[inodeKey]string{},
		buf:    make([]byte, 1<<20),
	}
}

func (t *tarWalker) run() error {
	var st unix.Stat_t
	if err := unix.Stat(t.root, &st); err != nil {
		return fmt.Errorf("stat layer dir %s: %w", t.root, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("layer dir %s: not a directory", t.root)
	}
	if err := t.walkDir(t.root, "", false); err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("finish tar of %s: %w", t.root, err)
	}
	return nil
}

type child struct {
	name string
	st   unix.Stat_t
}

// walkDir emits the entries inside abs (whose tar name is rel, "" for the root): the opaque
// marker, then whiteouts, then the other children by name, each dir followed by its
// contents. The dir's own header has already been written by the caller. In a DirOCI dir
// every name starting with ".wh." is a marker: whatever the file, only the whiteout header
// is written, so both formats give the same bytes.
func (t *tarWalker) walkDir(abs, rel string, opaque bool) error {
	names, err := readDirNames(abs)
	if err != nil {
		return err
	}
	var whiteouts []string
	var children []child
	for _, name := range names {
		if t.format == DirOCI && strings.HasPrefix(name, whiteoutPrefix) {
			switch target := name[len(whiteoutPrefix):]; {
			case name == whiteoutOpaque:
				// As with the overlay xattr, the root's own marker is not written: a
				// layer's "/" hides nothing.
				opaque = opaque || rel != ""
			case target != "" && !strings.HasPrefix(name, whiteoutMeta):
				whiteouts = append(whiteouts, target)
			}
			continue
		}
		c := child{name: name}
		if err := unix.Lstat(filepath.Join(abs, name), &c.st); err != nil {
			return fmt.Errorf("stat %s: %w", filepath.Join(abs, name), err)
		}
		if isOverlayWhiteout(&c.st) {
			whiteouts = append(whiteouts, name)
			continue
		}
		children = append(children, c)
	}
	if t.format == DirOCI {
		slices.Sort(whiteouts) // marker files and any 0/0 devices, in one order
	}
	if opaque {
		if err := t.writeWhiteout(rel + whiteoutOpaque); err != nil {
			return err
		}
	}
	for _, name := range whiteouts {
		if err := t.writeWhiteout(rel + whiteoutPrefix + name); err != nil {
			return err
		}
	}
	for i := range children {
		if err := t.writeChild(abs, rel, &children[i]); err != nil {
			return err
		}
	}
	return nil
}

// readDirNames lists abs sorted by byte order, the tar order contract.
func readDirNames(abs string) ([]string, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("open dir %s: %w", abs, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", abs, err)
	}
	slices.Sort(names)
	return names, nil
}

func isOverlayWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func (t *tarWalker) writeWhiteout(name string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		ModTime:  whiteoutTime,
		Format:   tar.FormatPAX,
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write tar header %s: %w", name, err)
	}
	return nil
}

// writeChild emits one entry of dir abs (and, for a directory, everything below it).
func (t *tarWalker) writeChild(dirAbs, dirRel string, c *child) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	abs := filepath.Join(dirAbs, c.name)
	rel := dirRel + c.name
	hdr, skip, err := t.header(abs, rel, &c.st)
	if err != nil || skip {
		return err
	}
	opaque, err := t.addXattrs(abs, hdr)
	if err != nil {
		return err
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write tar header %s: %w", hdr.Name, err)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return t.walkDir(abs, hdr.Name, opaque)
	case tar.TypeReg:
		return t.copyFile(abs, hdr.Size)
	}
	return nil
}

// header builds the tar header for abs; skip is true for entries a layer never carries.
func (t *tarWalker) header(abs, rel string, st *unix.Stat_t) (hdr *tar.Header, skip bool, err error) {
	hdr = &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: t.clamp(time.Unix(st.Mtim.Sec, st.Mtim.Nsec)),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFREG:
		t.fileHeader(hdr, st)
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = os.Readlink(abs); err != nil {
			return nil, false, fmt.Errorf("read symlink %s: %w", abs, err)
		}
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	default: // sockets: meaningless outside the process that bound them
		return nil, true, nil
	}
	return hdr, false, nil
}

// fileHeader fills a regular file's header: the first name of a multiply-linked inode
// carries the data, later names (in walk order) become hard links to it.
func (t *tarWalker) fileHeader(hdr *tar.Header, st *unix.Stat_t) {
	hdr.Typeflag = tar.TypeReg
	hdr.Size = st.Size
	if st.Nlink <= 1 {
		return
	}
	key := inodeKey{dev: st.Dev, ino: st.Ino}
	if first, ok := t.links[key]; ok {
		hdr.Typeflag = tar.TypeLink
		hdr.Linkname = first
		hdr.Size = 0
		return
	}
	t.links[key] = hdr.Name
}

func (t *tarWalker) clamp(mt time.Time) time.Time {
	if t.epoch != nil && mt.After(*t.epoch) {
		return *t.epoch
	}
	return mt
}

// addXattrs copies the allowed xattrs of abs into hdr and reports whether abs is an opaque
// overlay dir. It refuses dirs whose upper holds only a redirect or metadata: their diff
// cannot be read from the upper dir alone.
func (t *tarWalker) addXattrs(abs string, hdr *tar.Header) (opaque bool, err error) {
	vals, names, err := listXattrs(abs)
	if err != nil {
		return false, err
	}
	for _, name := range names {
		v, ok := vals[name]
		if !ok {
			continue
		}
		switch name {
		case overlayOpaqueXattr:
			opaque = hdr.Typeflag == tar.TypeDir && string(v) == "y"
			continue
		case overlayRedirectXattr, overlayMetacopyXattr:
			return false, fmt.Errorf("layer entry %s has %s: overlay must be mounted with redirect_dir=off,metacopy=off", abs, name)
		}
		if !keepXattr(name) || hdr.Typeflag == tar.TypeLink {
			continue
		}
		if strings.Contains(name, "=") {
			return false, fmt.Errorf("xattr %q of %s: a name with '=' cannot be stored in a PAX header", name, abs)
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattrPrefix+name] = string(v)
	}
	return opaque, nil
}

// copyFile streams exactly size bytes of abs into the tar. The data is read through the
// path (never a metacopy lower), and a file that shrank meanwhile is an error.
func (t *tarWalker) copyFile(abs string, size int64) error {
	f, err := os.OpenFile(abs, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", abs, err)
	}
	defer f.Close()
	for size > 0 {
		if err := t.ctx.Err(); err != nil {
			return err // a big file must not hold up an interrupt
		}
		chunk := t.buf[:min(int64(len(t.buf)), size)]
		n, err := io.ReadFull(f, chunk)
		if err != nil {
			return fmt.Errorf("read %s: %w (file changed while writing the layer?)", abs, err)
		}
		if _, err := t.tw.Write(chunk[:n]); err != nil {
			return fmt.Errorf("write tar data of %s: %w", abs, err)
		}
		size -= int64(n)
	}
	return nil
}
