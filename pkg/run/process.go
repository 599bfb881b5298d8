package run

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Process is a process running in a container: its init (Container.Start) or an
// additional one (Container.Exec).
type Process struct {
	lp     *libcontainer.Process
	master *os.File // pty master, TTY only
	tty    *ttyIO   // set when the package copies the pty to the caller's streams
	stdin  *os.File // write end of our stdin pipe, if any

	once sync.Once
	code int
	err  error
}

// Pid returns the process id, as seen from the host.
func (p *Process) Pid() int {
	pid, err := p.lp.Pid()
	if err != nil {
		return -1
	}
	return pid
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.lp.Signal(sig); err != nil {
		return fmt.Errorf("signal process %d: %w", p.Pid(), err)
	}
	return nil
}

// Console returns the pty master of a TTY process, or nil. When Stdio.Stdin or
// Stdio.Stdout was given, the package copies the pty itself and closes the master
// in Wait; otherwise the master is the caller's to read, write and close.
func (p *Process) Console() *os.File { return p.master }

// Resize sets the window size of the process's pty.
func (p *Process) Resize(width, height uint16) error {
	if p.master == nil {
		return errors.New("resize: process has no tty")
	}
	return resizePty(p.master, width, height)
}

// Wait waits for the process to exit and for its output to be copied, and returns
// its exit code: the status it exited with, or 128+signal if a signal killed it.
// It may be called more than once and from several goroutines.
func (p *Process) Wait() (int, error) {
	p.once.Do(func() {
		ps, err := p.lp.Wait()
		if p.tty != nil {
			p.tty.finish()
		}
		if p.stdin != nil {
			p.stdin.Close()
		}
		if ps == nil {
			p.code, p.err = -1, fmt.Errorf("wait for process: %w", err)
			return
		}
		// A non-zero exit is a result, not an error.
		p.code = exitStatus(ps.Sys().(syscall.WaitStatus))
	})
	return p.code, p.err
}

// exitStatus is the shell's convention: the exit status, or 128+signal.
func exitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// newProcess prepares a libcontainer process; stdio is wired by startProcess.
func newProcess(args, env []string, cwd string, u execUser, tty bool, init bool) *libcontainer.Process {
	return &libcontainer.Process{
		Args:             args,
		Env:              processEnv(env, u.Home, tty),
		Cwd:              cwd,
		UID:              u.UID,
		GID:              u.GID,
		AdditionalGroups: u.Groups,
		Init:             init,
	}
}

// startProcess wires st into lp, starts it with start (Container.Run), and
// returns the running Process. Failures to exec the command come back as
// *ExecError.
func startProcess(start func(*libcontainer.Process) error, lp *libcontainer.Process, st Stdio) (*Process, error) {
	if st.TTY {
		return startWithTTY(start, lp, st)
	}
	p := &Process{lp: lp}
	lp.Stdin, lp.Stdout, lp.Stderr = st.Stdin, st.Stdout, st.Stderr
	stdinR, stdinW, err := stdinPipe(st.Stdin)
	if err != nil {
		return nil, err
	}
	if stdinR != nil {
		lp.Stdin, p.stdin = stdinR, stdinW
		defer stdinR.Close() // once started, the process has its own copy
	}
	if err := start(lp); err != nil {
		if p.stdin != nil {
			p.stdin.Close()
		}
		return nil, asExecError(err)
	}
	return p, nil
}

// startWithTTY starts lp on a new pty, whose master init sends back to us.
func startWithTTY(start func(*libcontainer.Process) error, lp *libcontainer.Process, st Stdio) (*Process, error) {
	cs, err := newConsoleSocket()
	if err != nil {
		return nil, err
	}
	lp.ConsoleSocket = cs.child
	if sz := st.ConsoleSize; sz != nil {
		lp.ConsoleWidth, lp.ConsoleHeight = sz[0], sz[1]
	}
	if err := start(lp); err != nil {
		cs.close()
		return nil, asExecError(err)
	}
	master, err := cs.wait()
	if err != nil {
		_ = lp.Signal(unix.SIGKILL)
		_, _ = lp.Wait()
		return nil, err
	}
	p := &Process{lp: lp, master: master}
	if st.Stdin != nil || st.Stdout != nil {
		p.tty = startTTY(master, st.Stdin, st.Stdout)
	}
	return p, nil
}

// stdinPipe returns a pipe fed from r unless r is nil or already a file. Feeding it
// ourselves, instead of letting os/exec do it, means Wait does not hang on a
// reader that never reaches EOF (a terminal, a network connection).
func stdinPipe(r io.Reader) (pr, pw *os.File, err error) {
	if r == nil {
		return nil, nil, nil
	}
	if _, ok := r.(*os.File); ok {
		return nil, nil, nil
	}
	pr, pw, err = os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("create stdin pipe: %w", err)
	}
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return pr, pw, nil
}
