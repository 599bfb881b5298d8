package runner

import (
	"os"
	"sync"
)

// inlineRun reports whether Run supervises the container itself instead of spawning a
// supervisor: attached, with nothing that must outlive the command (no published ports
// to forward, no restart policy). That is `run --rm IMAGE CMD`, the common case, and it
// saves starting a process: the container's init is then the command's child, as with
// `runc run`.
//
// The command is then the supervisor in every respect others see: it holds the
// container's lock, records its pid as the supervisor's, writes the state and the log,
// and removes an --rm container at the end; `ps`, `logs`, `exec`, `stop` and `kill` from
// elsewhere work as usual. Its signals (docker's --sig-proxy) go to the container's
// init. If it is killed outright, the container runs on unsupervised, as after a
// supervisor's SIGKILL; with --rm, whatever command next looks at it removes it once it
// has exited.
func inlineRun(c *Container, o RunOptions) bool {
	return !o.Detach && len(c.Ports) == 0 && c.Restart.Name == "no"
}

// runInline runs c in this process, attached to o's streams, and returns its exit code.
// warm is the caller's run.WarmUp, ended once the container's own start has taken over.
func (m *Manager) runInline(c *Container, o RunOptions, warm func()) (int, error) {
	lock, err := m.lockSupervisor(c.ID)
	if err != nil {
		warm()
		if c.AutoRemove {
			_ = m.removeStopped(c, true)
		}
		return 0, err
	}
	s := &supervisor{
		m: m, c: c, rep: &reporter{}, lock: lock, inline: true, cool: warm,
		stopReq: make(chan struct{}),
		io:      attachIO{stdout: o.Stdout, stderr: o.Stderr, consoleSize: o.ConsoleSize, resize: o.Resize},
	}
	if c.OpenStdin {
		s.io.stdin = o.Stdin
	}
	if c.TTY {
		s.io.stderr = nil // the pty carries everything
	}
	stop := s.forwardSignals(o.Signals)
	defer stop()
	_, err = s.run()
	if !c.AutoRemove { // else removal released it
		lock.Close()
	}
	if err != nil {
		return 0, err
	}
	return s.state.ExitCode, nil
}

// forwardSignals passes the signals a user sends to the attached command on to the
// container's init (docker's --sig-proxy); one that comes before it runs is dropped.
func (s *supervisor) forwardSignals(sigs <-chan os.Signal) (stop func()) {
	if sigs == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				s.mu.Lock()
				rc := s.current
				s.mu.Unlock()
				if rc != nil {
					_ = rc.Signal(sig, false)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
