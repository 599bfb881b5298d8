package run

import (
	"context"
	"io"
)

// Run creates the container described by s, runs s.Args as its init with s.Stdio,
// waits for it, and destroys the container (every process killed, cgroups and state
// dir removed) before it returns.
//
// The exit code is the process's own, or 128+signal if a signal killed it (137 for
// SIGKILL, which is also what the OOM killer sends). If the command cannot be
// executed, Run returns 127 or 126 with an *ExecError. Cancelling ctx kills every
// process of the container; Run then returns -1 and ctx.Err() after cleaning up. A
// process that exits non-zero after running into its Limits (an OOM kill, a failed fork)
// makes Run return -1 and a *LimitError saying which.
func Run(ctx context.Context, s Spec) (exitCode int, err error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if s.Stdio.TTY && s.Stdio.Stdout == nil {
		// Someone must read the pty, or a chatty process blocks once it is full.
		s.Stdio.Stdout = io.Discard
	}
	c, err := Create(s)
	if err != nil {
		return -1, err
	}
	defer func() {
		if derr := c.Destroy(); derr != nil && err == nil {
			exitCode, err = -1, derr
		}
	}()
	p, err := c.Start()
	if err != nil {
		return exitCodeOf(err), err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Signal(killSignal, true) })
	defer stop()
	exitCode, err = p.Wait()
	if err != nil {
		return -1, err
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if exitCode != 0 {
		if le := c.limitHit(); le != nil {
			le.Code = exitCode
			return -1, le
		}
	}
	return exitCode, nil
}
