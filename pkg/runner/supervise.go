package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/snapshot"
)

// Supervise is the body of `runner _supervise SPEC`: it runs one container until it is
// stopped for good, and returns the process's exit status. See the package doc.
func Supervise(arg string) int {
	var spec superviseSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil {
		return 125
	}
	rep := &reporter{f: fdFile(spec.Report, "report")}
	s, err := newSupervisor(spec, rep)
	if err != nil {
		rep.send(report{Event: "error", Code: ExitCode(err), Error: err.Error()})
		return 125
	}
	defer s.m.Close()
	s.handleSignals()
	code, err := s.run()
	if err != nil {
		return 125
	}
	return code
}

func fdFile(fd int, name string) *os.File {
	if fd <= 0 {
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}

// reporter writes report lines to the starter, while it listens. Without a file (an
// inline run, whose starter is the supervisor) it says nothing.
type reporter struct {
	mu sync.Mutex
	f  *os.File
}

func (r *reporter) send(msg report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return
	}
	b, _ := json.Marshal(msg)
	if _, err := r.f.Write(append(b, '\n')); err != nil {
		r.close0()
	}
}

func (r *reporter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.close0()
}

func (r *reporter) close0() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// supervisor runs one container: in a `runner _supervise` process of its own, or inline,
// in the attached `run` command (runInline).
type supervisor struct {
	m      *Manager
	c      *Container
	rep    *reporter
	lock   *os.File
	detach bool
	ports  []*os.File // sockets of State.Ports, handed over by the starter
	inline bool
	// cool ends the caller's run.WarmUp once the container's own start has taken over.
	cool func()

	state State
	log   *logFile
	root  *snapshot.Mount
	netns *run.NetNS
	slirp *slirp
	fw    *forwarder

	// attached streams, for the first run only; owned are the supervisor's own copies,
	// closed after it
	io    attachIO
	owned []*os.File
	// a stdin that is never written nor closed (-i, detached)
	idleStdin, keepStdin *os.File

	mu      sync.Mutex
	current *run.Container
	stopReq chan struct{} // a stop was requested (signal or stop-requested file)
	stopped bool
}

func newSupervisor(spec superviseSpec, rep *reporter) (*supervisor, error) {
	m, err := New(Options{Root: spec.Root, RunDir: spec.RunDir, CgroupParent: spec.CgroupParent})
	if err != nil {
		return nil, err
	}
	s := &supervisor{m: m, rep: rep, detach: spec.Detach, stopReq: make(chan struct{}), cool: func() {}}
	if s.lock, err = m.lockSupervisor(spec.ID); err != nil {
		m.Close()
		return nil, err
	}
	if s.c, err = m.load(spec.ID); err != nil {
		m.Close()
		return nil, err
	}
	for i, fd := range spec.Ports {
		s.ports = append(s.ports, fdFile(fd, fmt.Sprintf("port%d", i)))
	}
	s.io.consoleSize = spec.ConsoleSize
	if f := fdFile(spec.Stdin, "stdin"); f != nil {
		s.io.stdin, s.owned = f, append(s.owned, f)
	}
	if f := fdFile(spec.Stdout, "stdout"); f != nil {
		s.io.stdout, s.owned = f, append(s.owned, f)
	}
	if f := fdFile(spec.Stderr, "stderr"); f != nil {
		s.io.stderr, s.owned = f, append(s.owned, f)
	}
	if f := fdFile(spec.Control, "control"); f != nil {
		s.io.resize, s.owned = decodeSizes(f), append(s.owned, f)
	}
	return s, nil
}

// decodeSizes turns the starter's resize requests into a channel, closed at EOF.
func decodeSizes(f *os.File) <-chan [2]uint16 {
	ch := make(chan [2]uint16, 1)
	go func() {
		defer close(ch)
		dec := json.NewDecoder(f)
		for {
			var sz [2]uint16
			if dec.Decode(&sz) != nil {
				return
			}
			ch <- sz
		}
	}()
	return ch
}

// run sets the container up, runs it as often as its restart policy says, and tears it
// down.
func (s *supervisor) run() (int, error) {
	s.state = s.c.State
	s.state.SupervisorPid = os.Getpid()
	s.state.Error = ""
	s.state.Inline = s.inline
	err := s.setup()
	if err == nil {
		err = s.loop()
	}
	s.cool()
	s.teardown()
	if err != nil {
		s.state.Status, s.state.Error = StatusExited, err.Error()
		if s.state.FinishedAt.IsZero() || s.state.StartedAt.IsZero() {
			s.state.Status = StatusCreated
		}
		s.state.ExitCode = ExitCode(err)
		if !s.c.AutoRemove {
			s.save()
		}
		s.removeIfAuto()
		s.rep.send(report{Event: "error", Code: ExitCode(err), Error: err.Error()})
		return ExitCode(err), err
	}
	s.removeIfAuto()
	s.rep.send(report{Event: "exited", Code: s.state.ExitCode})
	return 0, nil
}

func (s *supervisor) save() {
	_ = s.m.saveState(s.c.ID, s.state)
}

// removeIfAuto removes an --rm container, under the lock: those waiting for the
// supervisor to be done find it gone.
func (s *supervisor) removeIfAuto() {
	if s.c.AutoRemove {
		_ = s.m.removeLocked(s.c, true)
		s.lock.Close()
	}
}

// handleSignals: SIGTERM, SIGINT and SIGHUP stop the container (a system shutdown, a
// user's kill of the supervisor); SIGUSR1 says the stop-requested file was written.
func (s *supervisor) handleSignals() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1)
	signal.Ignore(unix.SIGPIPE, unix.SIGWINCH)
	go func() {
		for sig := range sigs {
			if sig == unix.SIGUSR1 {
				if _, err := os.Stat(s.m.stopPath(s.c.ID)); err != nil {
					continue
				}
				s.requestStop()
				continue
			}
			s.requestStop()
			go s.stopCurrent(10 * time.Second)
		}
	}()
}

func (s *supervisor) requestStop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		close(s.stopReq)
	}
}

func (s *supervisor) stopRequested() bool {
	select {
	case <-s.stopReq:
		return true
	default:
		_, err := os.Stat(s.m.stopPath(s.c.ID))
		return err == nil
	}
}

// stopCurrent sends the stop signal to the running container, then SIGKILL.
func (s *supervisor) stopCurrent(timeout time.Duration) {
	s.mu.Lock()
	rc := s.current
	s.mu.Unlock()
	if rc == nil {
		return
	}
	sig, _ := parseSignal(s.c.StopSignal)
	_ = rc.Signal(sig, false)
	st, err := rc.Status()
	if err == nil && st.Pid > 0 && !waitPid(st.Pid, timeout) {
		_ = rc.Signal(unix.SIGKILL, true)
	}
}

// setup mounts the root, fills new volumes and makes the network.
func (s *supervisor) setup() error {
	s.log = openLog(s.m.logPath(s.c.ID))
	stubs := append([]snapshot.Stub(nil), snapshot.DefaultStubs...)
	for _, v := range s.c.Volumes {
		fi, err := os.Stat(v.Source)
		stubs = append(stubs, snapshot.Stub{Path: v.Destination, Dir: err != nil || fi.IsDir()})
	}
	_ = snapshot.UnmountAt(s.m.rootDir(s.c.ID)) // left by a killed supervisor
	var err error
	if s.root, err = snapshot.PrepareAt(context.Background(), s.m.rootDir(s.c.ID), s.c.Lowers, stubs); err != nil {
		return err
	}
	for _, v := range s.c.Volumes {
		if err := copyUp(s.root.Root, v); err != nil {
			return err
		}
	}
	return s.setupNetwork()
}

// setupNetwork makes the private network's namespace. slirp4netns comes up in parallel
// with the container's setup: the command runs once it is ready (runSpec's Gate).
func (s *supervisor) setupNetwork() error {
	if s.c.Network != "private" {
		closeFiles(s.ports)
		return nil
	}
	var err error
	if s.netns, err = run.NewNetNS(); err != nil {
		return err
	}
	if p := slirpPath(); p != "" {
		if s.slirp, err = startSlirp(p, s.netns); err != nil {
			return err
		}
	} else {
		s.state.Offline = true
	}
	if len(s.ports) == 0 {
		return nil
	}
	s.fw = newForwarder(s.netns)
	for i, f := range s.ports {
		if i >= len(s.state.Ports) {
			f.Close()
			continue
		}
		if err := s.fw.serve(s.state.Ports[i], f); err != nil {
			closeFiles(s.ports[i+1:])
			return err
		}
	}
	return nil
}

func (s *supervisor) teardown() {
	if s.fw != nil {
		s.fw.close()
	}
	if s.slirp != nil {
		s.slirp.stop()
	}
	if s.netns != nil {
		s.netns.Close()
	}
	if s.root != nil {
		_ = snapshot.UnmountAt(s.m.rootDir(s.c.ID))
	}
	closeFiles([]*os.File{s.idleStdin, s.keepStdin})
	s.closeAttached()
	if s.log != nil {
		s.log.Close()
	}
}

// closeAttached ends the attachment after the first run: its streams are dropped, and
// the supervisor's own copies closed, so that the starter sees EOF.
func (s *supervisor) closeAttached() {
	s.io = attachIO{}
	closeFiles(s.owned)
	s.owned = nil
}

// dropStdin lets go of the attached stdin once the container has its own copy: a
// restart gets none.
func (s *supervisor) dropStdin() {
	for i, f := range s.owned {
		if s.io.stdin == io.Reader(f) {
			f.Close()
			s.owned = append(s.owned[:i], s.owned[i+1:]...)
			break
		}
	}
	s.io.stdin = nil
}

// loop runs the container, and again as the restart policy says.
func (s *supervisor) loop() error {
	delay := 100 * time.Millisecond
	for first := true; ; first = false {
		started := time.Now()
		code, err := s.runOnce(first)
		if err != nil {
			return err
		}
		if first && !s.detach && !s.c.AutoRemove {
			// The caller has its exit code; with --rm it waits for the removal too.
			s.rep.send(report{Event: "exited", Code: code})
			s.rep.close()
		}
		if s.stopRequested() || !s.c.Restart.shouldRestart(code, s.state.RestartCount) {
			return nil
		}
		if time.Since(started) > 10*time.Second {
			delay = 100 * time.Millisecond // it ran fine for a while: start the backoff over
		}
		s.state.Status = StatusRestarting
		s.save()
		select {
		case <-s.stopReq:
			s.state.Status = StatusExited
			s.save()
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
		s.state.RestartCount++
	}
}

// runOnce creates, starts and waits for the container once, and records the exit (but
// not for an --rm container, which is removed next: nobody would read it).
func (s *supervisor) runOnce(first bool) (int, error) {
	outW := newStreamWriter(s.log, "stdout", s.io.stdout)
	errW := newStreamWriter(s.log, "stderr", s.io.stderr)
	defer func() { outW.flush(); errW.flush() }()
	spec, err := s.runSpec(outW, errW, first)
	if err != nil {
		return 0, err
	}
	rc, err := run.Create(spec)
	s.cool() // Create warms up itself from here on
	if err != nil {
		return 0, err
	}
	defer rc.Destroy()
	p, err := rc.Start()
	if err != nil {
		var ee *run.ExecError
		if errors.As(err, &ee) {
			return 0, &ExitError{Code: ee.Code, Err: errors.New(ee.Reason)}
		}
		return 0, err
	}
	if !s.c.TTY {
		s.dropStdin()
	}
	s.mu.Lock()
	s.current = rc
	s.mu.Unlock()
	s.state.Status, s.state.Pid, s.state.StartedAt = StatusRunning, p.Pid(), time.Now().UTC()
	s.state.FinishedAt, s.state.ExitCode = time.Time{}, 0
	s.save()
	if first {
		s.rep.send(report{Event: "started", Pid: p.Pid()})
		if s.detach {
			s.rep.close()
		}
	}
	if s.stopRequested() { // a stop that came while we were starting
		go s.stopCurrent(10 * time.Second)
	}
	stopResize := s.forwardResize(p)
	code, werr := p.Wait()
	stopResize()
	s.mu.Lock()
	s.current = nil
	s.mu.Unlock()
	outW.flush()
	errW.flush()
	outW.detach()
	errW.detach()
	if first {
		s.closeAttached()
	}
	if werr != nil {
		code = 255
	}
	s.state.Status, s.state.Pid, s.state.ExitCode, s.state.FinishedAt = StatusExited, 0, code, time.Now().UTC()
	if !s.c.AutoRemove {
		s.save()
	}
	return code, nil
}

// forwardResize applies the attached terminal's size changes to the container's pty.
func (s *supervisor) forwardResize(p *run.Process) (stop func()) {
	sizes := s.io.resize
	s.io.resize = nil // first run only
	if sizes == nil || p.Console() == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sz, ok := <-sizes:
				if !ok {
					return
				}
				_ = p.Resize(sz[0], sz[1])
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// initPath is where --init's binary is bound: on the /dev tmpfs, so it never shows in the
// container's root.
const initPath = "/dev/init"

// runSpec is the pkg/run spec of one run of the container.
func (s *supervisor) runSpec(stdout, stderr io.Writer, first bool) (run.Spec, error) {
	c := s.c
	spec := run.Spec{
		ID: c.ID, Root: s.root.Root, Args: c.Args, Env: c.Env, Cwd: c.WorkingDir, User: c.User,
		Hostname: c.Hostname, Limits: c.Limits, ReadOnlyRoot: c.ReadOnly,
		StateRoot: s.m.stateRoot(), CgroupParent: s.m.opts.CgroupParent,
		// Docker's confinement for what the runner starts: its default capabilities (the
		// spec's default), no privilege gain through setuid files, and its default seccomp
		// profile wherever this binary can load one (built with the seccomp tag).
		NoNewPrivileges: true,
	}
	if run.SeccompSupported() {
		var err error
		if spec.Seccomp, err = run.DefaultSeccomp(nil); err != nil {
			return spec, err
		}
	}
	switch c.Network {
	case "host":
		spec.Network = run.NetworkHost
	case "private":
		spec.Network = s.netns.Network()
	default:
		spec.Network = run.NetworkNone
	}
	if s.slirp != nil {
		spec.Gate = s.slirp.wait
	}
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		spec.Mounts = append(spec.Mounts, run.Mount{Source: filepath.Join(s.m.dir(c.ID), name), Destination: "/etc/" + name})
	}
	for _, v := range c.Volumes {
		spec.Mounts = append(spec.Mounts, run.Mount{Source: v.Source, Destination: v.Destination, ReadOnly: v.ReadOnly})
	}
	if c.Init != "" {
		spec.Mounts = append(spec.Mounts, run.Mount{Source: c.Init, Destination: initPath, ReadOnly: true})
		spec.Args = append([]string{initPath, "--"}, c.Args...)
	}
	spec.Stdio = run.Stdio{Stdout: stdout, Stderr: stderr, TTY: c.TTY}
	if first {
		spec.Stdio.ConsoleSize = s.io.consoleSize
	}
	switch {
	case s.io.stdin != nil:
		spec.Stdio.Stdin = s.io.stdin
	case c.OpenStdin && !c.TTY:
		// -i without anyone attached: a stdin that stays open, as docker keeps it.
		if s.idleStdin == nil {
			r, w, err := os.Pipe()
			if err != nil {
				return spec, fmt.Errorf("stdin pipe: %w", err)
			}
			s.idleStdin, s.keepStdin = r, w
		}
		spec.Stdio.Stdin = s.idleStdin
	}
	return spec, nil
}
