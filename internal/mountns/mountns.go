// Package mountns runs the current command in a private mount namespace of its own.
//
// Every overlay a build mounts then lives in that namespace: when the process ends, however
// it ends (SIGKILL included), the kernel tears the namespace down with all its mounts, so a
// killed build can never leak a mount into the host.
package mountns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
)

const marker = "_DOCKYARD_MOUNTNS"

// Enter re-executes the program in a new private mount namespace and exits with its status.
// It returns nil (and does nothing) in the re-executed child, or when not running as root
// (there is nothing to mount then anyway; the caller's own errors will say so).
func Enter() error {
	if os.Getenv(marker) == "1" || os.Geteuid() != 0 {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("private mount namespace: %w", err)
	}
	// The child's death signal is tied to the thread that forks it: keep this one alive.
	runtime.LockOSThread()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), marker+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS, // Go also makes / rprivate in the child
		Pdeathsig:    syscall.SIGKILL,
	}
	// Signals are meant for the build: pass them on. (Ctrl-C reaches the child twice, from
	// the terminal and from here; the build handles a second interrupt during cleanup.)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("private mount namespace: %w", err)
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(exit.ExitCode())
	}
	return fmt.Errorf("private mount namespace: %w", err)
}
