package copier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

var unixENOTDIR = unix.ENOTDIR

const defaultDirMode = 0o755

// copySource copies one resolved source to dest, BuildKit's way: a directory's contents
// go into dest; a file goes to dest, or into it when dest is (or is written as) a directory.
func (c *copier) copySource(ctx context.Context, s source, dest string) error {
	fi, err := os.Lstat(s.abs)
	if err != nil {
		return err
	}
	c.top = s.rel
	ensure := path.Dir(dest)
	if strings.HasSuffix(dest, "/") {
		ensure = dest
	}
	c.keepTimes(ensure)
	if _, err := c.mkdirAll(ensure); err != nil {
		return err
	}
	target, err := securejoin.SecureJoin(c.dstRoot, dest)
	if err != nil {
		return fmt.Errorf("destination %s: %w", dest, err)
	}
	targetFi, err := os.Stat(target)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("destination %s: %w", dest, err)
	}
	if c.opts.Unpack && fi.Mode().IsRegular() {
		if ok, err := c.unpack(ctx, s.abs, target); ok || err != nil {
			return err
		}
	}
	if !fi.IsDir() && targetFi != nil && targetFi.IsDir() {
		target = filepath.Join(target, s.name)
	}
	parent := filepath.Dir(target)
	if fi.IsDir() && targetFi == nil {
		parent = target
	}
	if _, err := c.mkdirAllResolved(parent); err != nil {
		return err
	}
	return c.copy(ctx, s.abs, s.rel, target, false)
}

// copy copies src to target, recursively. overwriteMeta is false only for the top of a
// directory source, whose existing destination keeps its own mode and owner.
func (c *copier) copy(ctx context.Context, src, rel, target string, overwriteMeta bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return nil // sockets never travel in a layer
	}
	hidden, skip, err := c.hide(rel, fi.IsDir())
	if err != nil {
		return err
	}
	if hidden && (!fi.IsDir() || skip) {
		return nil
	}
	if !hidden {
		if err := c.makePending(); err != nil {
			return err
		}
	}
	targetFi, err := os.Lstat(target)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if fi.IsDir() {
		return c.copyDir(ctx, src, rel, target, fi, targetFi, overwriteMeta, hidden)
	}
	if targetFi != nil {
		if targetFi.IsDir() {
			return fmt.Errorf("cannot replace directory %s with a file", c.show(target))
		}
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	switch {
	case fi.Mode().IsRegular():
		if err := c.copyRegular(src, target, fi); err != nil {
			return err
		}
	case fi.Mode()&os.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, target); err != nil {
			return err
		}
	default: // devices and fifos
		st := fi.Sys().(*syscall.Stat_t)
		if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("create %s: %w", c.show(target), err)
		}
	}
	return c.copyInfo(src, target, fi)
}

// copyDir copies a directory. A directory the filter or the patterns hide is still
// walked when something below it may be shown, but only made when that happens.
func (c *copier) copyDir(ctx context.Context, src, rel, target string, fi, targetFi os.FileInfo, overwriteMeta, hidden bool) error {
	if targetFi != nil && !targetFi.IsDir() {
		return fmt.Errorf("cannot copy a directory onto non-directory %s", c.show(target))
	}
	created := false
	var pending *pendingDir
	switch {
	case hidden && targetFi == nil:
		pending = &pendingDir{target: target}
		c.pending = append(c.pending, pending)
	case !hidden && targetFi == nil:
		if err := os.Mkdir(target, 0o700); err != nil {
			return err
		}
		created = true
	}
	err := c.copyEntries(ctx, src, rel, target)
	if pending != nil {
		c.pending = c.pending[:len(c.pending)-1]
	}
	if err != nil {
		return err
	}
	if hidden {
		if pending == nil || !pending.made {
			return nil // nothing below was shown, or the destination was there already
		}
		created = true
	}
	switch {
	case created || overwriteMeta:
		return c.copyInfo(src, target, fi)
	default:
		// An existing destination keeps its owner and mode; BuildKit still takes the
		// source directory's times.
		return c.setTimes(target, fi)
	}
}

func (c *copier) copyEntries(ctx context.Context, src, rel, target string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := c.copy(ctx, filepath.Join(src, e.Name()), path.Join(rel, e.Name()), filepath.Join(target, e.Name()), true); err != nil {
			return err
		}
	}
	return nil
}

// pendingDir is a hidden directory being walked, made once something below it is shown.
type pendingDir struct {
	target string
	made   bool
}

// makePending makes the hidden directories above an entry about to be copied, outermost
// first; their metadata is copied when their walk ends.
func (c *copier) makePending() error {
	for _, p := range c.pending {
		if p.made {
			continue
		}
		if err := os.Mkdir(p.target, 0o700); err != nil {
			return err
		}
		p.made = true
	}
	return nil
}

func (c *copier) copyRegular(src, target string, fi os.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if st.Nlink > 1 {
		if first, ok := c.inodes[st.Ino]; ok {
			return os.Link(first, target)
		}
		c.inodes[st.Ino] = target
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	// *os.File to *os.File: copy_file_range, so the kernel moves (or reflinks) the data.
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy to %s: %w", c.show(target), err)
	}
	return out.Close()
}

// copyInfo gives target its owner, mode, xattrs and times: the source's, or the options'.
func (c *copier) copyInfo(src, target string, fi os.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	owner := Owner{UID: int(st.Uid), GID: int(st.Gid)}
	switch {
	case c.opts.Chown != nil:
		owner = *c.opts.Chown
	case c.opts.Context:
		owner = Owner{} // the build context arrives owned by root, as with docker build
	}
	if err := os.Lchown(target, owner.UID, owner.GID); err != nil {
		return fmt.Errorf("chown %s: %w", c.show(target), err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		mode := uint32(st.Mode & 0o7777)
		switch {
		case c.opts.Mode != nil:
			mode = modeBits(*c.opts.Mode)
		case c.opts.Chmod != nil:
			mode = c.opts.Chmod.apply(mode, fi.IsDir())
		}
		// After chown, which clears setuid and setgid.
		if err := unix.Chmod(target, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", c.show(target), err)
		}
	}
	if err := copyXattrs(src, target); err != nil {
		return fmt.Errorf("xattrs of %s: %w", c.show(target), err)
	}
	return c.setTimes(target, fi)
}

func (c *copier) setTimes(target string, fi os.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	if m := unix.Timespec(st.Mtim); m.Nano() > c.newest.Nano() {
		c.newest = m
	}
	if c.opts.Time != nil {
		t := unix.NsecToTimespec(c.opts.Time.UnixNano())
		ts = []unix.Timespec{t, t}
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", c.show(target), err)
	}
	return nil
}

func modeBits(m os.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		bits |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		bits |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		bits |= unix.S_ISVTX
	}
	return bits
}

// mkdirAll creates dir (a path inside the destination root) and its missing parents.
func (c *copier) mkdirAll(dir string) (string, error) {
	abs, err := securejoin.SecureJoin(c.dstRoot, dir)
	if err != nil {
		return "", fmt.Errorf("destination %s: %w", dir, err)
	}
	return c.mkdirAllResolved(abs)
}

// mkdirAllResolved creates the missing tail of abs, a path already resolved inside the
// root. New directories get the copy's owner and mode, as BuildKit gives them.
func (c *copier) mkdirAllResolved(abs string) (string, error) {
	fi, err := os.Stat(abs)
	if err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("destination %s is not a directory", c.show(abs))
		}
		return abs, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if parent := filepath.Dir(abs); parent != abs && len(parent) >= len(c.dstRoot) {
		if _, err := c.mkdirAllResolved(parent); err != nil {
			return "", err
		}
	}
	if err := os.Mkdir(abs, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	owner := Owner{}
	if c.opts.Chown != nil {
		owner = *c.opts.Chown
	}
	if err := os.Lchown(abs, owner.UID, owner.GID); err != nil {
		return "", err
	}
	mode := uint32(defaultDirMode)
	if c.opts.Mode != nil {
		mode = modeBits(*c.opts.Mode)
	}
	if err := unix.Chmod(abs, mode); err != nil {
		return "", err
	}
	c.created = append(c.created, abs)
	return abs, nil
}

// keepTimes remembers the times of the existing directories on the way to dir (inside
// the root), which the copy is about to add entries to.
func (c *copier) keepTimes(dir string) {
	cur := "/"
	for _, part := range append([]string{""}, strings.Split(strings.Trim(dir, "/"), "/")...) {
		cur = path.Join(cur, part)
		abs, err := securejoin.SecureJoin(c.dstRoot, cur)
		if err != nil {
			return
		}
		var st unix.Stat_t
		if unix.Lstat(abs, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return
		}
		c.kept = append(c.kept, keptTimes{path: abs, ts: [2]unix.Timespec{st.Atim, st.Mtim}})
	}
}

// settleTimes gives created directories the newest copied time (or the fixed Time) and
// existing ones their own back, whatever the copy did to them.
func (c *copier) settleTimes() {
	t := c.newest
	if c.opts.Time != nil {
		t = unix.NsecToTimespec(c.opts.Time.UnixNano())
	}
	for _, d := range c.created {
		unix.UtimesNanoAt(unix.AT_FDCWD, d, []unix.Timespec{t, t}, unix.AT_SYMLINK_NOFOLLOW)
	}
	for i := len(c.kept) - 1; i >= 0; i-- {
		k := c.kept[i]
		unix.UtimesNanoAt(unix.AT_FDCWD, k.path, k.ts[:], unix.AT_SYMLINK_NOFOLLOW)
	}
}

// show names a destination the way the user wrote it: as a path inside the image.
func (c *copier) show(abs string) string {
	rel, err := filepath.Rel(c.dstRoot, abs)
	if err != nil {
		return abs
	}
	return "/" + filepath.ToSlash(rel)
}

// MkdirAll creates dir inside root, resolving existing components inside it; created
// directories get owner (root when nil), mode 0755 and mtime t, as WORKDIR makes them,
// and the existing ones keep their times, so the result depends only on its inputs.
func MkdirAll(root, dir string, owner *Owner, t time.Time) error {
	c := &copier{dstRoot: root, opts: Options{Chown: owner, Time: &t}}
	c.keepTimes(dir)
	defer c.settleTimes()
	_, err := c.mkdirAll(dir)
	return err
}
