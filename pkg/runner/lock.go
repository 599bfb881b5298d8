package runner

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The supervisor holds an exclusive flock on its container's directory while it lives
// (a directory, not a file in it: one inode less to create per container); the kernel
// drops it when the process dies, however it dies.

// lockSupervisor takes the lock for the calling supervisor, waiting for a previous
// supervisor of the same container to be gone.
func (m *Manager) lockSupervisor(id string) (*os.File, error) {
	f, err := os.Open(m.dir(id))
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	return f, nil
}

// supervised reports whether a supervisor holds id's lock.
func (m *Manager) supervised(id string) bool {
	f, err := os.Open(m.dir(id))
	if err != nil {
		return false
	}
	defer f.Close()
	err = flock(f, unix.LOCK_SH|unix.LOCK_NB)
	return errors.Is(err, unix.EWOULDBLOCK)
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// waitSupervisor waits up to timeout for id's supervisor to be done: its process to
// exit, or an inline one (which may live on) to release the lock.
func (m *Manager) waitSupervisor(id string, timeout time.Duration) error {
	st := State{}
	if err := readJSON(m.statePath(id), &st); err != nil || st.SupervisorPid == 0 {
		return nil
	}
	if st.Inline {
		return m.waitUnlocked(id, timeout)
	}
	fd, err := unix.PidfdOpen(st.SupervisorPid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wait for supervisor %d: %w", st.SupervisorPid, err)
	}
	defer unix.Close(fd)
	// The pid is the supervisor's only while the lock is held; checked after pidfd_open,
	// so that fd cannot refer to a process that reused the pid.
	if !m.supervised(id) {
		return nil
	}
	if !waitPidfd(fd, timeout) {
		return fmt.Errorf("supervisor of container %s (pid %d) still running after %s", id[:12], st.SupervisorPid, timeout)
	}
	return nil
}

// waitUnlocked polls id's lock until no supervisor holds it.
func (m *Manager) waitUnlocked(id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for pause := time.Millisecond; m.supervised(id); pause = min(2*pause, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("supervisor of container %s still running after %s", id[:12], timeout)
		}
		time.Sleep(pause)
	}
	return nil
}

// waitPid waits up to timeout for pid to exit; it reports whether it did.
func waitPid(pid int, timeout time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return true // ESRCH: already gone
	}
	defer unix.Close(fd)
	return waitPidfd(fd, timeout)
}

// waitPidfd polls a pidfd, which becomes readable when its process exits.
func waitPidfd(fd int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		n, err := unix.Poll(fds, int(left.Milliseconds()))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return false
		case n > 0:
			return true
		case left == 0:
			return false
		}
	}
}
