package runner

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/run"
)

// ExecOptions are the flags of `runner exec`.
type ExecOptions struct {
	Args        []string
	Env         []string // added to the container's
	User        string   // "" means the container's
	Workdir     string   // "" means the container's
	Interactive bool
	TTY         bool
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	ConsoleSize *[2]uint16
	Resize      <-chan [2]uint16
}

// Exec runs a command in a running container and returns its exit code. The command
// gets the container's environment, user and working directory unless overridden.
func (m *Manager) Exec(ctx context.Context, ref string, o ExecOptions) (int, error) {
	c, err := m.get(ref)
	if err != nil {
		return 0, err
	}
	if c.State.Status != StatusRunning {
		return 0, fmt.Errorf("container %s is not running", c.Name)
	}
	if len(o.Args) == 0 {
		return 0, errors.New("exec: no command given")
	}
	env, err := buildEnv(c.Env, nil, o.Env)
	if err != nil {
		return 0, err
	}
	rc, err := run.Load(m.stateRoot(), c.ID)
	if err != nil {
		return 0, fmt.Errorf("container %s is not running: %w", c.Name, err)
	}
	ps := run.ProcessSpec{
		Args: o.Args, Env: env, User: firstOf(o.User, c.User), Cwd: firstOf(o.Workdir, c.WorkingDir),
		Stdio: run.Stdio{Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY, ConsoleSize: o.ConsoleSize},
	}
	if o.Interactive {
		ps.Stdio.Stdin = o.Stdin
	}
	p, err := rc.Exec(ps)
	if err != nil {
		var ee *run.ExecError
		if errors.As(err, &ee) {
			return ee.Code, &ExitError{Code: ee.Code, Err: err}
		}
		return 126, &ExitError{Code: 126, Err: err}
	}
	done := make(chan struct{})
	defer close(done)
	if o.Resize != nil && o.TTY {
		go func() {
			for {
				select {
				case <-done:
					return
				case sz := <-o.Resize:
					_ = p.Resize(sz[0], sz[1])
				}
			}
		}()
	}
	stop := context.AfterFunc(ctx, func() { _ = p.Signal(unix.SIGKILL) })
	defer stop()
	return p.Wait()
}
