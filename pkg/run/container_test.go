package run

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunTTY(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", "tty; stty size; echo term=$TERM; [ -t 0 ] && echo stdin=tty")
	s.Stdio.TTY = true
	s.Stdio.ConsoleSize = &[2]uint16{100, 30}
	got := strings.ReplaceAll(runOK(t, s, out), "\r", "")
	want := "/dev/pts/0\n30 100\nterm=xterm\nstdin=tty\n"
	if got != want {
		t.Errorf("pty output %q, want %q", got, want)
	}
}

// Nobody reads the pty: Run must still drain it, or the writer blocks forever.
func TestRunTTYWithoutStreams(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "head", "-c", "1000000", "/dev/zero")
	s.Stdio = Stdio{TTY: true}
	runOK(t, s, &syncBuffer{})
}

// All output written to the pty before exit arrives, none is lost in the drain.
func TestRunTTYOutputComplete(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", `head -c 300000 /dev/zero | tr '\0' x`)
	s.Stdio.TTY = true
	if got := runOK(t, s, out); len(got) != 300000 || strings.Trim(got, "x") != "" {
		t.Errorf("got %d bytes (%q...), want 300000 x", len(got), got[:min(len(got), 20)])
	}
}

// A background job keeping the pty open must not keep an exec'd process's Wait
// from returning.
func TestExecTTYBackgroundJob(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "sleep", "1000")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	if _, err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	script := `sleep 1000 & head -c 300000 /dev/zero | tr '\0' x; echo bye`
	p, err := c.Exec(ProcessSpec{Args: []string{"sh", "-c", script}, Stdio: Stdio{Stdout: &out, TTY: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("x", 300000) + "bye\r\n"
	if code, err := p.Wait(); err != nil || code != 0 || out.String() != want {
		t.Errorf("Wait = %d, %v, output of %d bytes, want %d", code, err, out.Len(), len(want))
	}
}

func TestProcessResize(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", "stty size; read x; stty size")
	r, w := io.Pipe()
	defer w.Close()
	s.Stdio = Stdio{Stdin: r, Stdout: out, TTY: true, ConsoleSize: &[2]uint16{80, 25}}
	first := out.await("25 80")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	p, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	<-first
	if err := p.Resize(120, 40); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	if got := strings.ReplaceAll(out.String(), "\r", ""); !strings.HasSuffix(got, "25 80\n\n40 120\n") {
		t.Errorf("output %q, want sizes 25 80 then 40 120", got)
	}
}

// Without streams the caller gets the pty master to copy itself.
func TestProcessConsoleForCaller(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "echo", "hello from the pty")
	s.Stdio = Stdio{TTY: true}
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	p, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	master := p.Console()
	if master == nil {
		t.Fatal("no console")
	}
	defer master.Close()
	got, _ := io.ReadAll(master) // ends with EIO once the slave is closed
	if code, err := p.Wait(); err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	if string(got) != "hello from the pty\r\n" {
		t.Errorf("read %q from the master", got)
	}
}

func TestRunTTYStdin(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", "read line; echo got=$line")
	s.Stdio.TTY = true
	s.Stdio.Stdin = strings.NewReader("hello\n")
	if got := fields(runOK(t, s, out))["got"]; got != "hello" {
		t.Errorf("got=%q, want hello; output %q", got, out)
	}
}

func TestRunStdin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stdin func(t *testing.T) io.Reader
	}{
		{"reader", func(*testing.T) io.Reader { return strings.NewReader("line1\nline2\n") }},
		{"file", func(t *testing.T) io.Reader {
			f, err := os.CreateTemp(t.TempDir(), "stdin")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("line1\nline2\n"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, out := newSpec(t, "wc", "-l")
			s.Stdio.Stdin = tt.stdin(t)
			if got := strings.TrimSpace(runOK(t, s, out)); got != "2" {
				t.Errorf("wc -l = %q, want 2", got)
			}
		})
	}
}

// A caller's stdin that never ends (a terminal, a connection) must not keep Run
// waiting once the process is gone.
func TestRunStdinNeverEnds(t *testing.T) {
	t.Parallel()
	r, w := io.Pipe()
	defer w.Close()
	s, out := newSpec(t, "echo", "done")
	s.Stdio.Stdin = r
	if got := runOK(t, s, out); got != "done\n" {
		t.Errorf("output %q", got)
	}
}

func TestRunSeparateStreams(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "sh", "-c", "echo out; echo err >&2")
	var stdout, stderr bytes.Buffer
	s.Stdio = Stdio{Stdout: &stdout, Stderr: &stderr}
	runOK(t, s, &syncBuffer{})
	if stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestContainerExecSignalDestroy(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "sleep", "1000")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	if st, err := c.Status(); err != nil || st.State != StateCreated {
		t.Errorf("status before start = %+v, %v", st, err)
	}
	initProc, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status()
	if err != nil || st.State != StateRunning || st.Pid != initProc.Pid() {
		t.Errorf("status = %+v, %v; want running with pid %d", st, err, initProc.Pid())
	}

	var out bytes.Buffer
	p, err := c.Exec(ProcessSpec{Args: []string{"sh", "-c", "echo hi; id -u; pwd"}, User: "www-data", Cwd: "/tmp",
		Stdio: Stdio{Stdout: &out, Stderr: &out}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 0 || out.String() != "hi\n33\n/tmp\n" {
		t.Errorf("exec = %d, %v, output %q", code, err, out.String())
	}

	var ttyOut bytes.Buffer
	p, err = c.Exec(ProcessSpec{Args: []string{"tty"}, Stdio: Stdio{Stdout: &ttyOut, TTY: true}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 0 || !strings.HasPrefix(ttyOut.String(), "/dev/pts/") {
		t.Errorf("exec with tty = %d, %v, output %q", code, err, ttyOut.String())
	}

	if _, err := c.Exec(ProcessSpec{Args: []string{"no-such-command"}}); exitCodeOf(err) != ExitNotFound {
		t.Errorf("exec of a missing command: %v, want an *ExecError with 127", err)
	}

	// sleep is pid 1 and has no handler: SIGTERM is ignored, SIGKILL is not.
	if err := c.Signal(syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if code, err := initProc.Wait(); err != nil || code != 137 {
		t.Errorf("init Wait = %d, %v; want 137", code, err)
	}
	if st, err := c.Status(); err != nil || st.State != StateStopped {
		t.Errorf("status after kill = %+v, %v", st, err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, s)
	if err := c.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// TestLoad uses a container from a second handle, as "runner exec" and "runner rm"
// do from another process than the supervisor that started it.
func TestLoad(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "sh", "-c", "sleep 1000 & sleep 1000")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	initProc, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	other, err := Load(s.StateRoot, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := other.Status(); err != nil || st.State != StateRunning || st.Pid != initProc.Pid() {
		t.Errorf("loaded status = %+v, %v", st, err)
	}
	var out bytes.Buffer
	p, err := other.Exec(ProcessSpec{Args: []string{"sh", "-c", "pidof sleep | wc -w"}, Stdio: Stdio{Stdout: &out}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 0 || out.String() != "2\n" {
		t.Errorf("exec from loaded handle = %d, %v, %q", code, err, out.String())
	}
	// The loaded handle has no child to wait for: Destroy waits on a pidfd.
	// Our handle still reaps init, as the supervisor would.
	reaped := make(chan int)
	go func() {
		code, _ := initProc.Wait()
		reaped <- code
	}()
	if err := other.Destroy(); err != nil {
		t.Fatal(err)
	}
	if code := <-reaped; code != 137 {
		t.Errorf("init exit code %d, want 137", code)
	}
	assertGone(t, s)
	if _, err := Load(s.StateRoot, s.ID); err == nil {
		t.Error("Load of a destroyed container succeeded")
	}
}

func TestSignalAll(t *testing.T) {
	t.Parallel()
	// The shell traps TERM; the background sleep dies of it.
	s, out := newSpec(t, "sh", "-c", `trap 'echo trapped; exit 5' TERM; sleep 1000 & echo ready; wait $!; echo sleep=$?; wait`)
	ready := out.await("ready")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	p, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	<-ready
	if err := c.Signal(syscall.SIGTERM, true); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 5 {
		t.Errorf("Wait = %d, %v; want 5; output %q", code, err, out)
	}
	if !strings.Contains(out.String(), "trapped") {
		t.Errorf("init did not get SIGTERM: %q", out)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, s)
}

func TestJoinNetworkNamespace(t *testing.T) {
	t.Parallel()
	a, _ := newSpec(t, "sleep", "1000")
	ca, err := Create(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Destroy()
	pa, err := ca.Start()
	if err != nil {
		t.Fatal(err)
	}
	netns := "/proc/" + strconv.Itoa(pa.Pid()) + "/ns/net"
	want, err := os.Readlink(netns)
	if err != nil {
		t.Fatal(err)
	}
	b, out := newSpec(t, "readlink", "/proc/self/ns/net")
	b.Network = NetworkMode(netns)
	if got := strings.TrimSpace(runOK(t, b, out)); got != want {
		t.Errorf("joined %s, want %s", got, want)
	}
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "true")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	if _, err := Create(s); err == nil {
		t.Error("second Create with the same id succeeded")
	}
	if _, err := Load(s.StateRoot, "never-started"); err == nil {
		t.Error("Load of an unknown container succeeded")
	}
	s.ID, s.User = uniqueID(t), "nosuchuser"
	if _, err := Create(s); err == nil || !strings.Contains(err.Error(), "nosuchuser") {
		t.Errorf("Create with unknown user: %v", err)
	}
}

func TestContainerDestroyWithoutStart(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "true")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, s)
	if _, err := c.Start(); err == nil {
		t.Errorf("Start after Destroy: %v", err)
	}
	if st, err := c.Status(); err != nil || st.State != StateStopped {
		t.Errorf("Status after Destroy = %+v, %v", st, err)
	}
}

func TestCreateSeccompNeedsTag(t *testing.T) {
	t.Parallel()
	if seccomp.Enabled {
		t.Skip("built with the seccomp tag")
	}
	s := Spec{ID: "seccomp", Root: t.TempDir(), Args: []string{"true"}, StateRoot: t.TempDir(),
		Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}}
	if _, err := Create(s); err == nil || !strings.Contains(err.Error(), "seccomp tag") {
		t.Errorf("Create with a seccomp profile: %v", err)
	}
}

// The command starts only once Gate returned: it reads a file Gate writes. A Gate error
// fails the start and leaves nothing behind after Destroy.
func TestStartGate(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "cat", "/gated")
	s.Gate = func() error { return os.WriteFile(filepath.Join(s.Root, "gated"), []byte("after the gate\n"), 0o644) }
	if got := runOK(t, s, out); got != "after the gate\n" {
		t.Errorf("output %q, want the file Gate wrote", got)
	}

	s, _ = newSpec(t, "true")
	gateErr := errors.New("network not ready")
	s.Gate = func() error { return gateErr }
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(); !errors.Is(err, gateErr) {
		t.Errorf("Start = %v, want the gate's error", err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, s)
}
