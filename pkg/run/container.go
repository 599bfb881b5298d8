package run

import (
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"
)

const killSignal = unix.SIGKILL

// State is the life-cycle state of a container.
type State string

const (
	StateCreated State = "created" // created, init not started
	StateRunning State = "running"
	StatePaused  State = "paused"
	StateStopped State = "stopped" // init exited; Destroy removes what is left
)

// Status is a container's state and the host pid of its init (0 unless running or paused).
type Status struct {
	State State
	Pid   int
}

// Container is a container created by Create or reattached by Load.
type Container struct {
	lc   *libcontainer.Container
	spec Spec     // zero for a loaded container
	user execUser // resolved spec.User
	init *Process // nil until Start, and for a loaded container
	// cooled ends the WarmUp that Create began, once Start (or Destroy) is past the
	// cgroup attach.
	cooled func()

	destroyed bool
}

// Create prepares a container from s: it resolves the user, creates the working
// directory inside s.Root and the container's state dir. No process runs yet and
// no cgroup exists until Start. A container that Start was never called on cannot
// be Loaded by another process; Destroy it.
func Create(s Spec) (_ *Container, err error) {
	cooled := WarmUp()
	defer func() {
		if err != nil {
			cooled()
		}
	}()
	s, err = s.withDefaults()
	if err != nil {
		return nil, err
	}
	if s.Seccomp != nil && !seccomp.Enabled {
		return nil, fmt.Errorf("container %s: a seccomp profile needs a binary built with the seccomp tag", s.ID)
	}
	u, err := resolveUser(s.Root, s.User)
	if err != nil {
		return nil, err
	}
	if err := mkdirOwned(s.Root, s.Cwd, u.UID, u.GID); err != nil {
		return nil, err
	}
	cfg, err := libcontainerConfig(s, u)
	if err != nil {
		return nil, err
	}
	lc, err := libcontainer.Create(s.StateRoot, s.ID, cfg)
	if err != nil {
		return nil, fmt.Errorf("create container %s in %s: %w", s.ID, s.StateRoot, err)
	}
	return &Container{lc: lc, spec: s, user: u, cooled: cooled}, nil
}

// Load reattaches to container id in stateRoot, started by another process, to
// Exec into it, Signal it or Destroy it.
func Load(stateRoot, id string) (*Container, error) {
	if stateRoot == "" {
		stateRoot = DefaultStateRoot
	}
	lc, err := libcontainer.Load(stateRoot, id)
	if err != nil {
		return nil, fmt.Errorf("load container %s from %s: %w", id, stateRoot, err)
	}
	return &Container{lc: lc}, nil
}

// ID returns the container id.
func (c *Container) ID() string { return c.lc.ID() }

// Start starts the container's init process (Spec.Args) with Spec.Stdio. If the
// command cannot be executed the error is an *ExecError. After a failed Start the
// container still needs Destroy.
func (c *Container) Start() (*Process, error) {
	switch {
	case c.destroyed:
		return nil, fmt.Errorf("start container %s: destroyed", c.ID())
	case c.init != nil || c.spec.ID == "":
		return nil, fmt.Errorf("start container %s: already started", c.ID())
	}
	s := c.spec
	lp := newProcess(s.Args, s.Env, s.Cwd, c.user, s.Stdio.TTY, true)
	start := c.lc.Run
	if s.Gate != nil {
		start = func(lp *libcontainer.Process) error {
			// Run is Start, which leaves init waiting on its exec fifo, and then Exec.
			if err := c.lc.Start(lp); err != nil {
				return err
			}
			if err := s.Gate(); err != nil {
				return err
			}
			return c.lc.Exec()
		}
	}
	p, err := startProcess(start, lp, s.Stdio)
	c.cooled()
	if err != nil {
		return nil, fmt.Errorf("start container %s: %w", s.ID, err)
	}
	c.init = p
	return p, nil
}

// Exec starts an additional process in the running container. Its user is resolved
// against the container's root; its working directory must already exist.
func (c *Container) Exec(ps ProcessSpec) (*Process, error) {
	if len(ps.Args) == 0 {
		return nil, fmt.Errorf("exec in container %s: no command", c.ID())
	}
	cwd, err := cleanCwd(ps.Cwd)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", c.ID(), err)
	}
	u, err := resolveUser(c.lc.Config().Rootfs, ps.User)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", c.ID(), err)
	}
	lp := newProcess(ps.Args, ps.Env, cwd, u, ps.Stdio.TTY, false)
	p, err := startProcess(c.lc.Run, lp, ps.Stdio)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", c.ID(), err)
	}
	return p, nil
}

// Signal sends sig to the container's init, or with all to every process in its
// cgroup.
func (c *Container) Signal(sig os.Signal, all bool) error {
	if err := c.signal(sig, all); err != nil {
		return fmt.Errorf("signal container %s: %w", c.ID(), err)
	}
	return nil
}

func (c *Container) signal(sig os.Signal, all bool) error {
	// SIGKILL to the init of a private pid namespace takes every process with it.
	if !all || (sig == killSignal && c.lc.Config().Namespaces.IsPrivate(configs.NEWPID)) {
		return c.lc.Signal(sig)
	}
	us, ok := sig.(unix.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	pids, err := c.lc.Processes()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, us); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	return nil
}

// Status reports the container's state and init pid.
func (c *Container) Status() (Status, error) {
	if c.destroyed {
		return Status{State: StateStopped}, nil
	}
	if c.spec.ID != "" && c.init == nil {
		return Status{State: StateCreated}, nil
	}
	st, err := c.lc.Status()
	if err != nil {
		return Status{}, fmt.Errorf("status of container %s: %w", c.ID(), err)
	}
	switch st {
	case libcontainer.Stopped:
		return Status{State: StateStopped}, nil
	case libcontainer.Paused:
		return Status{State: StatePaused, Pid: c.initPid()}, nil
	case libcontainer.Created:
		return Status{State: StateCreated, Pid: c.initPid()}, nil
	}
	return Status{State: StateRunning, Pid: c.initPid()}, nil
}

func (c *Container) initPid() int {
	st, err := c.lc.State()
	if err != nil {
		return 0
	}
	return st.InitProcessPid
}

// Destroy kills every process of the container, waits for its init to exit and
// removes its cgroups and state dir. Destroying a destroyed container is a no-op.
func (c *Container) Destroy() error {
	if c.cooled != nil {
		c.cooled()
	}
	if err := c.stop(); err != nil {
		return fmt.Errorf("destroy container %s: %w", c.ID(), err)
	}
	if err := c.lc.Destroy(); err != nil {
		return fmt.Errorf("destroy container %s: %w", c.ID(), err)
	}
	c.destroyed = true
	return nil
}

// stop kills the container, if running, and waits for its init to be gone.
func (c *Container) stop() error {
	st, err := c.Status()
	if err != nil {
		return err
	}
	if st.State == StateStopped || (st.State == StateCreated && st.Pid == 0) {
		if c.init != nil {
			_, _ = c.init.Wait() // reap it, and finish its I/O
		}
		return nil
	}
	if err := c.lc.Signal(killSignal); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return err
	}
	if c.init != nil {
		_, _ = c.init.Wait()
		return nil
	}
	return waitExit(st.Pid, c.lc)
}

// waitExit waits for pid, which is not our child, to exit; the pidfd only
// becomes readable on exit, so no polling loop is needed.
func waitExit(pid int, lc *libcontainer.Container) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	// Pids get reused: only wait if pid is still the container's init.
	if st, err := lc.Status(); err != nil || st == libcontainer.Stopped {
		return err
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err != unix.EINTR {
			if err != nil {
				return fmt.Errorf("wait for pid %d: %w", pid, err)
			}
			return nil
		}
	}
}
