package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/mountinfo"
)

// Session is a process's scratch directory under tmp/. It is locked for as long as the
// process lives, so a later process can tell the leftovers of a killed one from the work
// of a running one.
type Session struct {
	Dir  string
	lock *fileLock
}

type sessions struct {
	mu  sync.Mutex
	own *Session
}

// Scratch is this process's session, created on first use and removed by Close.
func (s *Store) Scratch() (*Session, error) {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	if s.sess.own != nil {
		return s.sess.own, nil
	}
	// Lock first, then make the dir: another process's Recover takes a session dir whose
	// lock it can get for a dead one's, and must never see ours unlocked.
	f, err := os.CreateTemp(s.tmpDir(), "sess-*.lock")
	if err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	f.Close()
	l, err := lockFile(f.Name(), true, false)
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	dir := strings.TrimSuffix(f.Name(), ".lock")
	if err := os.Mkdir(dir, 0o700); err != nil {
		l.unlock()
		os.Remove(f.Name())
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	s.sess.own = &Session{Dir: dir, lock: l}
	return s.sess.own, nil
}

// Close removes this process's scratch space.
func (s *Store) Close() error {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	if s.sess.own == nil {
		return nil
	}
	se := s.sess.own
	s.sess.own = nil
	err := removeSession(se.Dir)
	se.lock.unlock()
	os.Remove(se.Dir + ".lock")
	return err
}

// deadSessions calls fn for each session whose process died, holding its lock (so that no
// other process takes it meanwhile).
func (s *Store) deadSessions(fn func(dir string)) error {
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "sess-") {
			continue
		}
		dir := filepath.Join(s.tmpDir(), e.Name())
		l, err := lockFile(dir+".lock", true, false)
		if err != nil {
			continue // its process is alive
		}
		fn(dir)
		l.unlock()
	}
	return nil
}

// Recover removes the sessions of processes that died without cleaning up. cleanup runs
// first on each such directory, for what only a caller knows how to undo (containers
// whose state lives there); mounts under it are detached here.
func (s *Store) Recover(cleanup func(dir string) error) error {
	var errs []error
	err := s.deadSessions(func(dir string) {
		if cleanup != nil {
			if err := cleanup(dir); err != nil {
				errs = append(errs, err)
			}
		}
		if err := removeSession(dir); err != nil {
			errs = append(errs, err)
		} else {
			os.Remove(dir + ".lock")
		}
	})
	if err != nil {
		return fmt.Errorf("recover store: %w", err)
	}
	return errors.Join(errs...)
}

func removeSession(dir string) error {
	if err := detachMountsUnder(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove scratch dir %s: %w", dir, err)
	}
	return nil
}

// detachMountsUnder unmounts everything mounted at or below dir, deepest first.
func detachMountsUnder(dir string) error {
	points, err := mountinfo.Under(dir)
	if err != nil {
		return err
	}
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	return nil
}
