package runner

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"github.com/dockyard/dockyard/pkg/run"
)

// slirp4netns's fixed addresses with --configure (its defaults).
const (
	slirpIP  = "10.0.2.100"
	slirpDNS = "10.0.2.3"
)

// slirpPath is slirp4netns's path, or "" when it is not installed.
func slirpPath() string {
	p, _ := exec.LookPath("slirp4netns")
	return p
}

// slirpTap is the device slirp4netns serves in the container's namespace.
const slirpTap = "tap0"

// slirp is a slirp4netns process giving a namespace outbound connectivity through a tap
// device (user-mode TCP/IP: no bridge, no iptables).
type slirp struct {
	cmd   *exec.Cmd
	exit  *os.File // closing it tells slirp4netns to exit
	ready chan error

	once sync.Once
	err  error
}

// startSlirp runs slirp4netns on ns; wait tells when tap0 is configured. It comes up in
// 5-10 ms, which the container's own setup hides.
func startSlirp(path string, ns *run.NetNS) (*slirp, error) {
	// slirp4netns attaches to an existing tap0; ours is persistent, so that its exit, and
	// our wait for it, do not include the device's removal (see AddTap).
	if err := ns.AddTap(slirpTap); err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	// ExtraFiles become fds 3, 4 and 5 in the child.
	cmd := exec.Command(path, "--configure", "--mtu=65520", "--ready-fd=3", "--exit-fd=4",
		"--netns-type=path", "/proc/self/fd/5", slirpTap)
	cmd.ExtraFiles = []*os.File{readyW, exitR, ns.File()}
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		readyR.Close()
		exitW.Close()
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	s := &slirp{cmd: cmd, exit: exitW, ready: make(chan error, 1)}
	go func() {
		defer readyR.Close()
		// slirp4netns writes "1" to the ready fd once tap0 is up; EOF means it died.
		if _, err := bufio.NewReader(readyR).ReadByte(); err != nil {
			s.ready <- fmt.Errorf("slirp4netns did not come up: %w", err)
			return
		}
		s.ready <- nil
	}()
	return s, nil
}

// wait waits until slirp4netns is ready, or has failed to be.
func (s *slirp) wait() error {
	s.once.Do(func() { s.err = <-s.ready })
	return s.err
}

func (s *slirp) stop() {
	s.exit.Close()
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	_ = s.cmd.Wait()
}

func (s *slirp) String() string { return "slirp4netns pid " + strconv.Itoa(s.cmd.Process.Pid) }
