package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/layers"
)

// Copy is the snapshotter for machines where overlayfs cannot be mounted. Prepare merges
// the lowers into a pristine base tree of hard links to the layer files (no data is
// copied, and nothing ever writes to it), then copies that tree into the root. Commit is
// a double walk of the root against the base that writes the diff in exactly the form
// the overlay snapshotter leaves in its upper dir: changed entries with every parent
// directory, whiteouts as 0/0 character devices, replaced directories opaque. With layer
// dirs in the layers.DirOCI format (a store on overlayfs) it reads and writes whiteouts
// as marker files instead; the layers written from the diffs are the same bytes.
//
// What changed is told by ctime, which no process can set: Prepare ends with a fence
// time, and an entry whose ctime is past it was written, chmod'ed, chown'ed, touched or
// linked afterwards, which is exactly when overlayfs would have copied it up.
type Copy struct {
	work   string
	format layers.DirFormat
}

// copyRoot is what Commit needs to know about a root Copy prepared.
type copyRoot struct {
	base  string            // the lowers merged: hard links, never written after Prepare
	fence unix.Timespec     // every change in Root after Prepare has a later ctime
	dirs  map[string]uint64 // inode of each directory of Root at the fence, by relative path
}

// NewCopy returns a copy snapshotter for layer dirs of this format, keeping its roots
// under work, which must be on the same filesystem as the layer dirs for hard links to
// work (it copies where they fail).
func NewCopy(work string, format layers.DirFormat) (*Copy, error) {
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("copy snapshotter: %w", err)
	}
	return &Copy{work: work, format: format}, nil
}

// Format is the layer dir format the snapshotter reads and writes.
func (c *Copy) Format() layers.DirFormat { return c.format }

func (c *Copy) String() string { return KindCopy }

// Prepare builds a root holding lowers merged, lowers[0] on top.
func (c *Copy) Prepare(ctx context.Context, lowers []string, stubs []Stub) (_ *Mount, err error) {
	dir, err := os.MkdirTemp(c.work, "root-")
	if err != nil {
		return nil, fmt.Errorf("prepare root: %w", err)
	}
	cr := &copyRoot{base: filepath.Join(dir, "base"), dirs: map[string]uint64{}}
	m := &Mount{dir: dir, upper: filepath.Join(dir, "diff"), Root: filepath.Join(dir, "merged"), copy: cr}
	defer func() {
		if err != nil {
			c.Release(ctx, m)
		}
	}()
	if err := os.Mkdir(cr.base, 0o755); err != nil {
		return nil, fmt.Errorf("prepare root: %w", err)
	}
	lowers = topmostOnce(lowers)
	for i := len(lowers) - 1; i >= 0; i-- {
		if err := c.mergeDir(ctx, lowers[i], cr.base); err != nil {
			return nil, fmt.Errorf("prepare root: merge layer %s: %w", lowers[i], err)
		}
	}
	if err := addStubs(cr.base, stubs); err != nil {
		return nil, err
	}
	if err := os.Mkdir(m.Root, 0o755); err != nil {
		return nil, fmt.Errorf("prepare root: %w", err)
	}
	if err := cloneDir(ctx, cr.base, m.Root, "", cr.dirs); err != nil {
		return nil, fmt.Errorf("prepare root: copy %s: %w", cr.base, err)
	}
	if cr.fence, err = fence(dir); err != nil {
		return nil, err
	}
	return m, nil
}

// Release removes the root and everything it used. It is safe after Commit and twice.
func (c *Copy) Release(ctx context.Context, m *Mount) error {
	if m.released {
		return nil
	}
	if err := os.RemoveAll(m.dir); err != nil {
		return fmt.Errorf("release root %s: %w", m.dir, err)
	}
	m.released = true
	return nil
}

// mergeDir applies the layer dir src onto the tree dst, as overlayfs shows a layer over
// those below it: whiteouts delete, opaque directories hide what was there, a directory
// takes its attributes from the topmost layer holding it.
func (c *Copy) mergeDir(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	names, err := readDirNames(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		if c.format == layers.DirOCI {
			if hidden, ok := markerTarget(name); ok {
				if err := removeHidden(dst, hidden); err != nil {
					return err
				}
				continue
			}
		}
		s, d := filepath.Join(src, name), filepath.Join(dst, name)
		var st unix.Stat_t
		if err := unix.Lstat(s, &st); err != nil {
			return fmt.Errorf("stat %s: %w", s, err)
		}
		if isWhiteoutStat(&st) {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
			if err := linkOrCopy(s, d, &st); err != nil {
				return err
			}
			continue
		}
		if err := c.mergeSubdir(ctx, s, d, &st); err != nil {
			return err
		}
	}
	return nil
}

// removeHidden deletes what a DirOCI marker hides in dst ("" hides nothing by name).
func removeHidden(dst, hidden string) error {
	if hidden == "" {
		return nil
	}
	return os.RemoveAll(filepath.Join(dst, hidden))
}

func (c *Copy) mergeSubdir(ctx context.Context, s, d string, st *unix.Stat_t) error {
	var dst unix.Stat_t
	err := unix.Lstat(d, &dst)
	switch {
	case err == nil && dst.Mode&unix.S_IFMT == unix.S_IFDIR:
		if opaqueIn(c.format, s) {
			if err := emptyDir(d); err != nil {
				return err
			}
		}
	case err == nil || !errors.Is(err, unix.ENOENT):
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		fallthrough
	default:
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	if err := c.mergeDir(ctx, s, d); err != nil {
		return err
	}
	return copyMeta(s, d, st, true)
}

// cloneDir copies the directory src (relative path rel) into the existing dst, recording
// the inode of every directory it makes.
func cloneDir(ctx context.Context, src, dst, rel string, dirs map[string]uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	names, err := readDirNames(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		s, d := filepath.Join(src, name), filepath.Join(dst, name)
		var st unix.Stat_t
		if err := unix.Lstat(s, &st); err != nil {
			return fmt.Errorf("stat %s: %w", s, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
			var made unix.Stat_t
			if err := unix.Lstat(d, &made); err != nil {
				return err
			}
			dirs[filepath.Join(rel, name)] = made.Ino
			if err := cloneDir(ctx, s, d, filepath.Join(rel, name), dirs); err != nil {
				return err
			}
			if err := copyMeta(s, d, &st, true); err != nil {
				return err
			}
			continue
		}
		if err := copyEntry(s, d, &st); err != nil {
			return err
		}
	}
	return nil
}

// linkOrCopy makes dst the same file as src, or a copy where a link cannot be made
// (another filesystem, too many links).
func linkOrCopy(src, dst string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		return nil // layers never carry sockets
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyEntry(src, dst, st)
}

// copyEntry copies a non-directory with its owner, mode, xattrs and times.
func copyEntry(src, dst string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := copyData(src, dst); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknod(dst, st.Mode&unix.S_IFMT, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", dst, err)
		}
	default:
		return nil // sockets
	}
	return copyMeta(src, dst, st, false)
}

// copyData copies a regular file's bytes: a reflink where the filesystem can share
// extents, else copy_file_range (which io.Copy uses between files).
func copyData(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if unix.IoctlFileClone(int(out.Fd()), int(in.Fd())) != nil {
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return fmt.Errorf("copy %s: %w", src, err)
		}
	}
	return out.Close()
}

// copyMeta gives dst src's owner, mode, kept xattrs and times. For a directory the xattrs
// dst has but src lacks go (an upper layer's dir replaces a lower one's attributes).
func copyMeta(src, dst string, st *unix.Stat_t, dir bool) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	// Chmod after chown: chown clears setuid and setgid.
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", dst, err)
		}
	}
	if err := copyXattrs(src, dst, dir); err != nil {
		return err
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", dst, err)
	}
	return nil
}

// fence returns a time that every change made from now on in this filesystem has a
// ctime after: the ctime of a fresh file, once the clock has been seen to move past it.
func fence(dir string) (unix.Timespec, error) {
	p := filepath.Join(dir, "fence")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return unix.Timespec{}, fmt.Errorf("prepare root: %w", err)
	}
	var first, now unix.Stat_t
	if err := unix.Lstat(p, &first); err != nil {
		return unix.Timespec{}, fmt.Errorf("prepare root: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for mode := uint32(0o644); ; mode ^= 0o044 {
		if err := unix.Chmod(p, mode); err != nil {
			return unix.Timespec{}, fmt.Errorf("prepare root: %w", err)
		}
		if err := unix.Lstat(p, &now); err != nil {
			return unix.Timespec{}, fmt.Errorf("prepare root: %w", err)
		}
		if after(now.Ctim, first.Ctim) {
			return first.Ctim, nil
		}
		if time.Now().After(deadline) {
			return unix.Timespec{}, fmt.Errorf("prepare root: the ctime of %s does not advance", p)
		}
		time.Sleep(time.Millisecond)
	}
}

func after(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || (a.Sec == b.Sec && a.Nsec > b.Nsec)
}

func isWhiteoutStat(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func isOpaque(dir string) bool {
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(dir, opaqueXattr, buf)
	return err == nil && string(buf[:n]) == "y"
}

// emptyDir removes every entry of dir.
func emptyDir(dir string) error {
	names, err := readDirNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}
