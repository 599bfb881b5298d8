package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/layers"
)

const opaqueXattr = "trusted.overlay.opaque"

// Commit walks the root against its base and hands over the diff, in the snapshotter's
// layer dir format. Changed entries are moved, not copied, out of the root, which goes
// with it.
func (c *Copy) Commit(ctx context.Context, m *Mount) (string, error) {
	if m.released {
		return "", errors.New("commit: root already released")
	}
	if m.copy == nil {
		return "", errors.New("commit: not a root of the copy snapshotter")
	}
	if err := os.Mkdir(m.upper, 0o755); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	d := &differ{ctx: ctx, root: m.Root, base: m.copy.base, diff: m.upper, cr: m.copy, format: c.format}
	if _, err := d.walk(""); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if err := d.setDirTimes(); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	diff := filepath.Join(c.work, "diff-"+filepath.Base(m.dir))
	if err := os.Rename(m.upper, diff); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if err := c.Release(ctx, m); err != nil {
		os.RemoveAll(diff)
		return "", err
	}
	return diff, nil
}

// differ writes the diff of root against base into diff.
type differ struct {
	ctx              context.Context
	root, base, diff string
	cr               *copyRoot
	format           layers.DirFormat
	stack            []pendingDir // the directories being walked, outermost first
	made             []pendingDir // directories made in diff, for their times at the end
}

// pendingDir is a directory of the root, with its attributes as they were before the
// walk moved anything out of it.
type pendingDir struct {
	rel  string
	st   unix.Stat_t
	made bool
}

// walk compares the root's original directory rel with the base's and reports whether it
// put anything of it into the diff. rel's own entry is on the stack already (but for "").
func (d *differ) walk(rel string) (bool, error) {
	if err := d.ctx.Err(); err != nil {
		return false, err
	}
	rootNames, err := readDirNames(filepath.Join(d.root, rel))
	if err != nil {
		return false, err
	}
	baseNames, err := readDirNames(filepath.Join(d.base, rel))
	if err != nil {
		return false, err
	}
	emitted := false
	for _, n := range union(rootNames, baseNames) {
		changed, err := d.entry(rel, n.name, n.inRoot, n.inBase)
		if err != nil {
			return false, err
		}
		emitted = emitted || changed
	}
	return emitted, nil
}

// entry puts rel/name into the diff if it changed.
func (d *differ) entry(rel, name string, inRoot, inBase bool) (bool, error) {
	r := filepath.Join(rel, name)
	var rst, bst unix.Stat_t
	if inRoot {
		if err := unix.Lstat(filepath.Join(d.root, r), &rst); err != nil {
			return false, fmt.Errorf("stat %s: %w", r, err)
		}
	}
	if inBase {
		if err := unix.Lstat(filepath.Join(d.base, r), &bst); err != nil {
			return false, fmt.Errorf("stat %s: %w", r, err)
		}
	}
	rdir := rst.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case !inRoot: // deleted
		return true, d.whiteout(r)
	case !inBase:
		if isWhiteoutStat(&rst) {
			return false, nil // a 0/0 device a step made itself, which overlayfs refuses
		}
		return true, d.move(r, false)
	case rdir && bst.Mode&unix.S_IFMT == unix.S_IFDIR && d.original(r, &rst):
		d.stack = append(d.stack, pendingDir{rel: r, st: rst})
		sub, err := d.walk(r)
		if err == nil && (sub || after(rst.Ctim, d.cr.fence)) {
			err = d.ensureDirs()
			sub = true
		}
		d.stack = d.stack[:len(d.stack)-1]
		return sub, err
	case rdir: // made anew where something else was: overlayfs makes it opaque
		return true, d.move(r, true)
	case after(rst.Ctim, d.cr.fence) || rst.Mode&unix.S_IFMT != bst.Mode&unix.S_IFMT:
		return true, d.move(r, false)
	}
	return false, nil
}

// original reports whether the root's directory at r is the one Prepare made there, not
// one a step made after removing or renaming it: same inode, not born after the fence.
func (d *differ) original(r string, st *unix.Stat_t) bool {
	if ino, ok := d.cr.dirs[r]; !ok || ino != st.Ino {
		return false
	}
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, filepath.Join(d.root, r), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &stx)
	if err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return true // no birth time on this filesystem: the inode has to do
	}
	born := unix.Timespec{Sec: stx.Btime.Sec, Nsec: int64(stx.Btime.Nsec)}
	return !after(born, d.cr.fence)
}

// ensureDirs makes in diff every directory on the stack not made yet, with the root's
// attributes, as overlayfs copies up the parents of what changes.
func (d *differ) ensureDirs() error {
	for i := range d.stack {
		p := &d.stack[i]
		if p.made {
			continue
		}
		dst := filepath.Join(d.diff, p.rel)
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		if err := copyMeta(filepath.Join(d.root, p.rel), dst, &p.st, true); err != nil {
			return err
		}
		p.made = true
		d.made = append(d.made, *p)
	}
	return nil
}

// move moves the root's entry r (a whole tree for a directory) into the diff.
func (d *differ) move(r string, opaque bool) error {
	if err := d.ensureDirs(); err != nil {
		return err
	}
	dst := filepath.Join(d.diff, r)
	if err := os.Rename(filepath.Join(d.root, r), dst); err != nil {
		return err
	}
	if opaque {
		return markOpaque(d.format, dst)
	}
	return nil
}

// whiteout records the deletion of r as overlayfs does (or with a marker file).
func (d *differ) whiteout(r string) error {
	if err := d.ensureDirs(); err != nil {
		return err
	}
	if err := writeWhiteout(d.format, filepath.Join(d.diff, r)); err != nil {
		return fmt.Errorf("whiteout %s: %w", r, err)
	}
	return nil
}

// setDirTimes gives the directories made in diff their times last, deepest first: the
// entries made in them changed them meanwhile.
func (d *differ) setDirTimes() error {
	for i := len(d.made) - 1; i >= 0; i-- {
		p := d.made[i]
		times := []unix.Timespec{p.st.Atim, p.st.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(d.diff, p.rel), times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}

// addStubs makes the stub targets base lacks. The directory they go in keeps its times,
// so a root whose steps never touch it has nothing to show for the stubs.
func addStubs(base string, stubs []Stub) error {
	for _, s := range stubs {
		resolved, err := securejoin.SecureJoin(base, s.Path)
		if err != nil {
			return fmt.Errorf("stub %s: %w", s.Path, err)
		}
		rel, err := filepath.Rel(base, resolved)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		if _, err := os.Lstat(resolved); err == nil {
			continue
		}
		parent := filepath.Dir(resolved)
		for {
			if _, err := os.Lstat(parent); err == nil {
				break
			}
			parent = filepath.Dir(parent)
		}
		var pst unix.Stat_t
		if err := unix.Lstat(parent, &pst); err != nil || pst.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // a file where a directory is needed: nothing can be mounted there
		}
		if err := makeStub(resolved, s.Dir); err != nil {
			return fmt.Errorf("stub %s: %w", s.Path, err)
		}
		times := []unix.Timespec{pst.Atim, pst.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, parent, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stub %s: %w", s.Path, err)
		}
	}
	return nil
}

func makeStub(path string, dir bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if dir {
		return os.Mkdir(path, 0o755)
	}
	return os.WriteFile(path, nil, 0o644)
}

// keepXattr is pkg/layers' policy: the xattrs a layer carries.
func keepXattr(name string) bool {
	switch {
	case name == "security.capability", name == "security.ima":
		return true
	case strings.HasPrefix(name, "user.overlay."):
		return false
	}
	return strings.HasPrefix(name, "user.")
}

// copyXattrs copies the xattrs a layer may carry from src to dst; with clear, those dst
// has and src lacks are removed.
func copyXattrs(src, dst string, clear bool) error {
	want, err := xattrs(src)
	if err != nil {
		return err
	}
	if clear {
		have, err := xattrs(dst)
		if err != nil {
			return err
		}
		for name := range have {
			if _, ok := want[name]; !ok {
				if err := unix.Lremovexattr(dst, name); err != nil {
					return fmt.Errorf("remove xattr %s of %s: %w", name, dst, err)
				}
			}
		}
	}
	for name, v := range want {
		if err := unix.Lsetxattr(dst, name, v, 0); err != nil {
			return fmt.Errorf("set xattr %s of %s: %w", name, dst, err)
		}
	}
	return nil
}

// xattrs returns the kept xattrs of path.
func xattrs(path string) (map[string][]byte, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
	}
	out := map[string][]byte{}
	for raw := range bytes.SplitSeq(buf[:n], []byte{0}) {
		name := string(raw)
		if !keepXattr(name) {
			continue
		}
		vsize, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, path, err)
		}
		v := make([]byte, vsize)
		vn, err := unix.Lgetxattr(path, name, v)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, path, err)
		}
		out[name] = v[:vn]
	}
	return out, nil
}

// readDirNames lists dir sorted, so walks are deterministic.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

type unionName struct {
	name           string
	inRoot, inBase bool
}

// union merges the sorted names of the root's and the base's directory.
func union(root, base []string) []unionName {
	out := make([]unionName, 0, max(len(root), len(base)))
	i, j := 0, 0
	for i < len(root) || j < len(base) {
		switch {
		case j == len(base) || (i < len(root) && root[i] < base[j]):
			out = append(out, unionName{name: root[i], inRoot: true})
			i++
		case i == len(root) || base[j] < root[i]:
			out = append(out, unionName{name: base[j], inBase: true})
			j++
		default:
			out = append(out, unionName{name: root[i], inRoot: true, inBase: true})
			i, j = i+1, j+1
		}
	}
	return out
}
