package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// inlineHelperEnv makes the test binary a `runner run --rm` stand-in (see TestMain): it
// runs the container the JSON in the variable describes, attached to its stdout.
const inlineHelperEnv = "RUNNER_TEST_INLINE_RUN"

type inlineHelperArgs struct {
	Root, RunDir, Image, Name string
	Args                      []string
}

func inlineHelper(arg string) int {
	var a inlineHelperArgs
	if err := json.Unmarshal([]byte(arg), &a); err != nil {
		return 125
	}
	m, err := New(Options{Root: a.Root, RunDir: a.RunDir, CgroupParent: testCgroupParent})
	if err != nil {
		return 125
	}
	defer m.Close()
	res, err := m.Run(context.Background(), RunOptions{Image: a.Image, Name: a.Name, Args: a.Args, AutoRemove: true, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		return ExitCode(err)
	}
	return res.ExitCode
}

// peer opens the store of m as another command would.
func peer(t *testing.T, m *Manager) *Manager {
	t.Helper()
	p, err := New(Options{Root: m.opts.Root, RunDir: m.opts.RunDir, CgroupParent: testCgroupParent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// awaitRunning polls name's state through m until it runs.
func awaitRunning(t *testing.T, m *Manager, name string) *Container {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := m.get(name); err == nil && c.State.Status == StatusRunning {
			return c
		}
	}
	t.Fatalf("container %s never ran", name)
	return nil
}

// An attached run without ports or restart policy is supervised by the caller itself;
// other commands see it running, stop it, and --rm removes it.
func TestInlineRunSeenFromOutside(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	type result struct {
		res *RunResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := m.Run(context.Background(), RunOptions{Image: "busybox", Name: "inline", AutoRemove: true, Args: []string{"sleep", "1000"}})
		done <- result{res, err}
	}()
	other := peer(t, m)
	c := awaitRunning(t, other, "inline")
	if !c.State.Inline || c.State.SupervisorPid != os.Getpid() || !other.supervised(c.ID) || c.State.Pid <= 0 {
		t.Errorf("state %+v (supervised %v): want an inline run supervised by pid %d", c.State, other.supervised(c.ID), os.Getpid())
	}
	var ps strings.Builder
	if err := other.Ps(context.Background(), &ps, PsOptions{}); err != nil || !strings.Contains(ps.String(), "Up ") || !strings.Contains(ps.String(), "inline") {
		t.Errorf("ps = %v:\n%s", err, ps.String())
	}
	// sleep as pid 1 ignores SIGTERM: stop kills it after the timeout.
	if err := other.Stop(context.Background(), "inline", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.res.ExitCode != 137 {
		t.Errorf("Run = %+v, %v; want exit code 137", r.res, r.err)
	}
	assertGone(t, m, c.ID, "inline")
}

// Signals given to an inline run reach the container's init.
func TestInlineSignalsForwarded(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	sigs := make(chan os.Signal, 1)
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		res, err := m.Run(context.Background(), RunOptions{Image: "busybox", Name: "trapper", Signals: sigs, Stdout: &out,
			Args: []string{"sh", "-c", `trap "echo got TERM; exit 42" TERM; while :; do sleep 0.05; done`}})
		if err != nil {
			t.Error(err)
			done <- -1
			return
		}
		done <- res.ExitCode
	}()
	awaitRunning(t, m, "trapper")
	time.Sleep(100 * time.Millisecond) // let sh install its trap
	sigs <- syscall.SIGTERM
	if code := <-done; code != 42 || out.String() != "got TERM\n" {
		t.Errorf("exit %d, output %q; want 42 after the trap", code, out.String())
	}
}

// A killed inline owner leaves its --rm container running; once it has exited, the next
// command that looks at it removes it.
func TestInlineOwnerKilled(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	arg, err := json.Marshal(inlineHelperArgs{Root: m.opts.Root, RunDir: m.opts.RunDir, Image: "busybox", Name: "orphan",
		Args: []string{"sh", "-c", "echo started; sleep 0.3"}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), inlineHelperEnv+"="+string(arg))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	c := awaitRunning(t, m, "orphan")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got := awaitRunning(t, m, "orphan"); got.State.Pid != c.State.Pid {
		t.Errorf("after the owner died: pid %d, want the container still running as %d", got.State.Pid, c.State.Pid)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cs, err := m.List(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphan is still listed: %+v", cs[0].State)
		}
	}
	// Its init, reparented to the host's init when the owner died, is a zombie until that
	// reaps it: only then has it left the cgroup for good.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.State.Pid)); err != nil {
			break
		}
	}
	assertGone(t, m, c.ID, "orphan")
}
