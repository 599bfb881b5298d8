package layers

import (
	"archive/tar"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// target is one directory entry: name inside the resolved directory fd dirfd, or an
// absolute path with dirfd AT_FDCWD (only ever the extraction root itself).
type target struct {
	dirfd int
	name  string
}

// xattrPath names t for path-only xattr calls without resolving anything again.
func (t target) xattrPath() string {
	if t.dirfd == unix.AT_FDCWD {
		return t.name
	}
	return procPath(t.dirfd, t.name)
}

func (t target) setMtime(mtime time.Time) error {
	ts := unix.Timespec{Sec: mtime.Unix(), Nsec: int64(mtime.Nanosecond())}
	if err := unix.UtimesNanoAt(t.dirfd, t.name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

const maxID = 1<<32 - 2 // (uid_t)-1 means "unchanged" to chown

// setMeta applies ownership, mode and xattrs, in that order: chown clears setuid bits and
// file capabilities, so both must come after it. fd, if not -1, is t opened for writing.
func (x *extractor) setMeta(hdr *tar.Header, t target, fd int) error {
	if !x.opts.NoChown {
		uid, gid := hdr.Uid, hdr.Gid
		if o := x.opts.Owner; o != nil {
			uid, gid = o[0], o[1]
		}
		if uid < 0 || uid > maxID || gid < 0 || gid > maxID {
			return fmt.Errorf("uid/gid %d/%d out of range", uid, gid)
		}
		if err := t.chown(fd, uid, gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := t.chmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	return t.setXattrs(fd, hdr.PAXRecords)
}

func (t target) chown(fd, uid, gid int) error {
	if fd >= 0 {
		return unix.Fchown(fd, uid, gid)
	}
	return unix.Fchownat(t.dirfd, t.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

func (t target) chmod(fd int, mode uint32) error {
	if fd >= 0 {
		return unix.Fchmod(fd, mode)
	}
	// fchmodat2 (Linux 6.6) refuses to follow a final symlink; older kernels fall back to
	// fchmodat, safe here because t was created or checked as a non-symlink just before.
	err := unix.Fchmodat(t.dirfd, t.name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		err = unix.Fchmodat(t.dirfd, t.name, mode, 0)
	}
	return err
}

// setXattrs applies the tar's SCHILY.xattr records that keepXattr allows; overlay and
// trusted names are never taken from a tar. A filesystem without xattr support is not an
// error (docker behaves the same).
func (t target) setXattrs(fd int, pax map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(pax)) {
		name, ok := strings.CutPrefix(key, paxXattrPrefix)
		if !ok || !keepXattr(name) {
			continue
		}
		var err error
		if fd >= 0 {
			err = unix.Fsetxattr(fd, name, []byte(pax[key]), 0)
		} else {
			err = unix.Lsetxattr(t.xattrPath(), name, []byte(pax[key]), 0)
		}
		if err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}
