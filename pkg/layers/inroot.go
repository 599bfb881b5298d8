package layers

import (
	"errors"
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// inRoot resolves paths inside a directory the way a chroot would, with the kernel doing
// the work: openat2(RESOLVE_IN_ROOT) treats "/" and ".." as the root, so a symlink such as
// `a -> /` or `a -> ../../..` inside the tree can never lead outside it. Final components
// are then handled with *at calls that do not follow symlinks.
type inRoot struct {
	path string
	file *os.File // O_PATH; kept as a File for pathrs
	fd   int
}

func openInRoot(root string) (*inRoot, error) {
	f, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open extraction root: %w", err)
	}
	return &inRoot{path: root, file: f, fd: int(f.Fd())}, nil
}

func (r *inRoot) close() { r.file.Close() }

// open resolves rel (relative, cleaned) inside the root. openat2 may fail with EAGAIN when
// a rename raced with ".." resolution; that is retried.
func (r *inRoot) open(rel string, flags uint64) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 16 {
		fd, err := unix.Openat2(r.fd, rel, how)
		if err == nil {
			return fd, nil
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			return -1, &os.PathError{Op: "openat2 in root", Path: rel, Err: err}
		}
	}
	return -1, &os.PathError{Op: "openat2 in root", Path: rel, Err: unix.EAGAIN}
}

// openDir returns an O_PATH fd of the directory rel. With create, missing directories are
// made 0755, as docker does for parents a tar does not list. pathrs-lite does that without
// leaving the root; like it, we refuse to create through a dangling symlink (docker would
// create the link's target).
func (r *inRoot) openDir(rel string, create bool) (int, error) {
	fd, err := r.open(rel, unix.O_PATH|unix.O_DIRECTORY)
	if err == nil || !create || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	dir, err := pathrs.MkdirAllHandle(r.file, rel, 0o755)
	if err != nil {
		return -1, fmt.Errorf("create dir %s: %w", rel, err)
	}
	defer dir.Close()
	fd, err = unix.FcntlInt(dir.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup dir fd: %w", err)
	}
	return fd, nil
}

// lstatAt stats name in dirfd without following it; ok is false if it does not exist.
func lstatAt(dirfd int, name string) (st unix.Stat_t, ok bool, err error) {
	err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	return st, err == nil, err
}

// removeAllAt removes name in dirfd and, for a directory, everything below it, never
// following symlinks. A missing name is not an error.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := removeChildrenAt(dirfd, name); err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove dir %s: %w", name, err)
	}
	return nil
}

// removeChildrenAt empties the directory name in dirfd, never following symlinks.
func removeChildrenAt(dirfd int, name string) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", name, err)
	}
	dir := os.NewFile(uintptr(fd), name)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read dir %s: %w", name, err)
	}
	for _, child := range names {
		if err := removeAllAt(fd, child); err != nil {
			return err
		}
	}
	return nil
}

// procPath names entry name of the already-resolved dir fd through procfs, so that
// path-only syscalls (lsetxattr) cannot be redirected by the path above it.
func procPath(dirfd int, name string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, name)
}
