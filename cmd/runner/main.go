// Command runner runs the images of the local store as containers, without a daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/dockyard/dockyard/pkg/runner"
)

func main() {
	// pkg/run's init has already turned a container-init re-exec into the container;
	// this is the supervisor's re-exec, which must not go through cobra's flag parsing.
	if len(os.Args) == 3 && os.Args[1] == runner.SupervisorCommand {
		os.Exit(runner.Supervise(os.Args[2]))
	}
	logrus.SetOutput(os.Stderr)
	logrus.SetLevel(logrus.WarnLevel)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	err := newRoot().ExecuteContext(ctx)
	if err == nil {
		return
	}
	var code exitCode
	if errors.As(err, &code) {
		os.Exit(int(code))
	}
	fmt.Fprintln(os.Stderr, "runner:", err)
	os.Exit(runner.ExitCode(err))
}

// exitCode ends the command with a code and no message: the container's exit code, or a
// status already explained.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }
