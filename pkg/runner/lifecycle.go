package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/snapshot"
)

// RunResult is what Run did.
type RunResult struct {
	ID       string
	Name     string
	ExitCode int // the container's, when attached
}

// Run creates a container from o.Image and starts it. Detached, it returns once the
// container runs; attached, once its first run exited (and, with AutoRemove, once it is
// removed), with its exit code. Errors carry exit codes (see ExitCode).
func (m *Manager) Run(ctx context.Context, o RunOptions) (*RunResult, error) {
	// The container starts within tens of milliseconds: get the kernel ready meanwhile.
	warm := run.WarmUp()
	defer warm()
	c, err := m.create(ctx, o)
	if err != nil {
		return nil, err
	}
	if c.Network == "private" && slirpPath() == "" {
		warn(o, fmt.Sprintf("container %s is offline: install slirp4netns for outbound network (published ports work without it)", c.Name))
	}
	res := &RunResult{ID: c.ID, Name: c.Name}
	if inlineRun(c, o) {
		res.ExitCode, err = m.runInline(c, o, warm)
		return res, err
	}
	var a *attachIO
	if !o.Detach {
		a = &attachIO{stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr, consoleSize: o.ConsoleSize, resize: o.Resize}
	}
	sp, err := m.startSupervisor(c, o.Detach, a)
	warm()
	if err != nil {
		if c.AutoRemove {
			_ = m.removeStopped(c, true)
		}
		return res, err
	}
	if o.Detach {
		sp.finish(false)
		return res, nil
	}
	stopFwd := m.forwardSignals(c.ID, o.Signals)
	defer stopFwd()
	res.ExitCode, err = sp.awaitExit()
	sp.finish(c.Restart.Name == "no")
	return res, err
}

// startSupervisor binds the ports, spawns the supervisor and waits for the container
// to start.
func (m *Manager) startSupervisor(c *Container, detach bool, a *attachIO) (*supervisorProc, error) {
	os.Remove(m.stopPath(c.ID))
	bound, files, err := bindPorts(c.Ports)
	if err != nil {
		return nil, err
	}
	defer closeFiles(files)
	// The supervisor reads the bound ports from the state.
	if !slices.Equal(bound, c.State.Ports) || c.State.Error != "" {
		st := c.State
		st.Ports, st.Error = bound, ""
		if err := m.saveState(c.ID, st); err != nil {
			return nil, err
		}
	}
	sp, err := m.spawn(c, files, detach, a)
	if err != nil {
		return nil, err
	}
	if _, err := sp.awaitStart(); err != nil {
		sp.finish(true)
		return nil, err
	}
	return sp, nil
}

// forwardSignals passes the signals a user sends to an attached `runner run` on to the
// container (docker's --sig-proxy).
func (m *Manager) forwardSignals(id string, sigs <-chan os.Signal) (stop func()) {
	if sigs == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				if rc, err := run.Load(m.stateRoot(), id); err == nil {
					_ = rc.Signal(sig, false)
				}
			}
		}
	}()
	return func() { close(done) }
}

// Start starts a created or exited container, detached.
func (m *Manager) Start(ctx context.Context, ref string) error {
	c, err := m.get(ref)
	if err != nil {
		return err
	}
	if c.Running() {
		return nil
	}
	if err := m.waitSupervisor(c.ID, 30*time.Second); err != nil {
		return err
	}
	warm := run.WarmUp()
	defer warm()
	sp, err := m.startSupervisor(c, true, nil)
	if err != nil {
		return err
	}
	sp.finish(false)
	return nil
}

// Stop sends the container's stop signal, then SIGKILL after timeout, and waits until
// its supervisor has recorded the exit. Stopping a stopped container does nothing.
func (m *Manager) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	c, err := m.get(ref)
	if err != nil {
		return err
	}
	sig, err := parseSignal(c.StopSignal)
	if err != nil {
		sig = unix.SIGTERM
	}
	return m.stop(c, sig, timeout)
}

func (m *Manager) stop(c *Container, sig unix.Signal, timeout time.Duration) error {
	if !c.Running() {
		return nil
	}
	m.markStopped(c)
	rc, err := run.Load(m.stateRoot(), c.ID)
	if err == nil {
		if st, serr := rc.Status(); serr == nil && st.Pid > 0 {
			_ = rc.Signal(sig, false)
			if !waitPid(st.Pid, timeout) {
				_ = rc.Signal(unix.SIGKILL, true)
			}
		}
	}
	if err := m.waitSupervisor(c.ID, 30*time.Second); err != nil {
		return err
	}
	if !m.supervised(c.ID) {
		return m.cleanupOrphan(c)
	}
	return nil
}

// markStopped records that the user stopped the container, so the restart policy does
// not bring it back, and tells the supervisor (which may be waiting to restart it).
func (m *Manager) markStopped(c *Container) {
	_ = os.WriteFile(m.stopPath(c.ID), []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o600)
	var st State
	if readJSON(m.statePath(c.ID), &st) == nil && st.SupervisorPid > 0 && !st.Inline && m.supervised(c.ID) {
		_ = unix.Kill(st.SupervisorPid, unix.SIGUSR1)
	}
}

// cleanupOrphan finishes a container whose supervisor died: what libcontainer still
// holds, the root mount, and the state.
func (m *Manager) cleanupOrphan(c *Container) error {
	if rc, err := run.Load(m.stateRoot(), c.ID); err == nil {
		if err := rc.Destroy(); err != nil {
			return err
		}
	}
	if err := snapshot.UnmountAt(m.rootDir(c.ID)); err != nil {
		return err
	}
	var st State
	if err := readJSON(m.statePath(c.ID), &st); err == nil && (st.Status == StatusRunning || st.Status == StatusRestarting) {
		st.Status, st.Pid = StatusExited, 0
		if st.FinishedAt.IsZero() {
			st.ExitCode, st.FinishedAt = 137, time.Now().UTC()
		}
		return m.saveState(c.ID, st)
	}
	return nil
}

// Restart stops the container (if running) and starts it again.
func (m *Manager) Restart(ctx context.Context, ref string, timeout time.Duration) error {
	if err := m.Stop(ctx, ref, timeout); err != nil {
		return err
	}
	return m.Start(ctx, ref)
}

// Kill sends sig (SIGKILL by default) to the container's init. SIGKILL and the stop
// signal count as a stop for the restart policy, as in docker.
func (m *Manager) Kill(ctx context.Context, ref, signal string) error {
	c, err := m.get(ref)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "KILL"
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return err
	}
	if !c.Running() {
		return fmt.Errorf("cannot kill container %s: container is not running", c.Name)
	}
	if stopSig, _ := parseSignal(c.StopSignal); sig == unix.SIGKILL || sig == stopSig {
		m.markStopped(c)
	}
	rc, err := run.Load(m.stateRoot(), c.ID)
	if err != nil {
		return fmt.Errorf("cannot kill container %s: %w", c.Name, err)
	}
	return rc.Signal(sig, sig == unix.SIGKILL)
}

// Wait waits for the container to stop and returns its exit code.
func (m *Manager) Wait(ctx context.Context, ref string) (int, error) {
	c, err := m.get(ref)
	if err != nil {
		return 0, err
	}
	for c.Running() {
		if err := m.waitSupervisor(c.ID, time.Hour); err != nil && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if c, err = m.load(c.ID); err != nil {
			return 0, err
		}
	}
	return c.State.ExitCode, nil
}

// RemoveOptions are the flags of `runner rm`.
type RemoveOptions struct {
	Force   bool // kill it first if running
	Volumes bool // remove its anonymous volumes
}

// Remove removes a container: its root, state, log, name, and with Volumes its anonymous
// volumes. A running container needs Force.
func (m *Manager) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	c, err := m.get(ref)
	if err != nil {
		return err
	}
	if c.Running() {
		if !o.Force {
			return fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", c.Name)
		}
		if err := m.stop(c, unix.SIGKILL, 0); err != nil {
			return err
		}
	}
	return m.removeStopped(c, o.Volumes)
}

// removeStopped removes what is left of a stopped container. It waits for a supervisor
// still tearing down, and succeeds if someone else removed the container meanwhile.
func (m *Manager) removeStopped(c *Container, volumes bool) error {
	lock, err := os.Open(m.dir(c.ID))
	if errors.Is(err, os.ErrNotExist) {
		lock = nil
	} else if err != nil {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	if lock != nil {
		defer lock.Close()
		if err := flock(lock, unix.LOCK_EX); err != nil {
			return fmt.Errorf("remove container %s: %w", c.Name, err)
		}
	}
	return m.removeLocked(c, volumes)
}

// removeLocked is removeStopped for the holder of the container's lock.
func (m *Manager) removeLocked(c *Container, volumes bool) error {
	if _, err := os.Stat(m.configPath(c.ID)); errors.Is(err, os.ErrNotExist) {
		return nil // removed meanwhile (--rm)
	}
	if rc, err := run.Load(m.stateRoot(), c.ID); err == nil {
		if err := rc.Destroy(); err != nil {
			return err
		}
	}
	// The config goes first: from then on the container does not exist for anyone.
	if err := os.Remove(m.configPath(c.ID)); err != nil {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	m.releaseName(c.Name, c.ID)
	var errs []error
	if err := m.store.Unpin(pinName(c.ID)); err != nil {
		errs = append(errs, err)
	}
	if err := snapshot.RemoveAt(m.rootDir(c.ID)); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(m.dir(c.ID)); err != nil {
		errs = append(errs, fmt.Errorf("remove container %s: %w", c.Name, err))
	}
	if volumes {
		errs = append(errs, m.removeAnonymousVolumes(c))
	}
	return errors.Join(errs...)
}

// Prune removes every stopped container and returns their ids.
func (m *Manager) Prune(ctx context.Context) ([]string, error) {
	cs, err := m.list()
	if err != nil {
		return nil, err
	}
	var ids []string
	var errs []error
	for _, c := range cs {
		if c.Running() {
			continue
		}
		if err := m.removeStopped(c, false); err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, c.ID)
	}
	return ids, errors.Join(errs...)
}
