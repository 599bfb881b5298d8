package testutil

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Hostile-input tests (tar extraction, COPY) run as root. Should containment ever regress,
// an archive such as `s -> /` + `s/.wh..wh..opq` would empty the host's "/" (this happened
// once while mutation-testing those tests). So they run confined: a Landlock domain on one
// locked OS thread lets that thread modify the filesystem only beneath one directory;
// anything else fails with EACCES, which the tests treat as an escape.

const landlockWrites = unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR |
	unix.LANDLOCK_ACCESS_FS_REMOVE_FILE | unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR |
	unix.LANDLOCK_ACCESS_FS_MAKE_REG | unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO |
	unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK | unix.LANDLOCK_ACCESS_FS_MAKE_SYM | unix.LANDLOCK_ACCESS_FS_REFER |
	unix.LANDLOCK_ACCESS_FS_TRUNCATE

// RequireLandlock stops the test where the kernel cannot confine it (ABI 3 adds TRUNCATE).
func RequireLandlock(t testing.TB) {
	t.Helper()
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 || v < 3 {
		Missing(t, "Landlock ABI >= 3 to confine hostile-archive tests (got %d, %v)", v, errno)
	}
}

// Confined runs fn on a fresh OS thread that may only modify paths beneath dir. The thread
// is never unlocked, so the runtime discards it (and its Landlock domain) afterwards. fn
// must not hand work to other goroutines. An EACCES from fn means it tried to escape.
func Confined(dir string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := restrictThread(dir); err != nil {
			errc <- fmt.Errorf("landlock: %w", err)
			return
		}
		errc <- fn()
	}()
	err := <-errc
	if errors.Is(err, unix.EACCES) {
		return fmt.Errorf("write outside %s blocked by landlock (containment broken): %w", dir, err)
	}
	return err
}

func restrictThread(dir string) error {
	// Required without CAP_SYS_ADMIN; per thread, so it goes away with this one too.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	attr := struct{ fs, net, scoped uint64 }{fs: landlockWrites} // the ABI-1 prefix of landlock_ruleset_attr
	rfd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return fmt.Errorf("create ruleset: %w", errno)
	}
	defer unix.Close(int(rfd))
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	rule := unix.LandlockPathBeneathAttr{Allowed_access: landlockWrites, Parent_fd: int32(dfd)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, rfd, unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("add rule for %s: %w", dir, errno)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, rfd, 0, 0); errno != 0 {
		return fmt.Errorf("restrict self: %w", errno)
	}
	return nil
}
