package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/internal/testutil/testimage"
	"github.com/dockyard/dockyard/pkg/store"
)

// These tests drive bin/runner as a user would. The seed walkthrough runs an image
// that bin/builder built; the others use images written into a fresh store through the
// store API (busybox roots), so that they test the runner alone.

func runnerBin(t testing.TB) string {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "busybox")
	return filepath.Join(binDir, "runner")
}

// runnerEnv is one user's world: a store, a run dir, and the binary.
type runnerEnv struct {
	t      testing.TB
	bin    string
	root   string
	runDir string
}

func newRunnerEnv(t testing.TB) *runnerEnv {
	t.Helper()
	return newRunnerEnvAt(t, t.TempDir())
}

// newRunnerEnvAt uses the store at root.
func newRunnerEnvAt(t testing.TB, root string) *runnerEnv {
	t.Helper()
	e := &runnerEnv{t: t, bin: runnerBin(t), root: root, runDir: t.TempDir()}
	t.Cleanup(func() {
		ids := strings.Fields(e.mustRun("ps", "-a", "-q"))
		if len(ids) > 0 {
			e.run(append([]string{"rm", "-f", "-v"}, ids...)...)
		}
	})
	return e
}

func (e *runnerEnv) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(), "DOCKYARD_ROOT="+e.root, "DOCKYARD_RUN_DIR="+e.runDir)
	return cmd
}

// run runs the runner and returns stdout, stderr and the exit code.
func (e *runnerEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	cmd := e.cmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &exit):
		return out.String(), errb.String(), exit.ExitCode()
	}
	e.t.Fatalf("runner %v: %v", args, err)
	return "", "", -1
}

func (e *runnerEnv) mustRun(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("runner %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// image stores a busybox image under ref.
func (e *runnerEnv) image(ref string, cfg v1.Config, files map[string]string) {
	e.t.Helper()
	s, err := store.Open(e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	defer s.Close()
	testimage.Busybox(e.t, s, ref, cfg, files)
}

// assertNothingLeft checks that no container state, mount, cgroup or process remains.
func (e *runnerEnv) assertNothingLeft(ids ...string) {
	e.t.Helper()
	for _, dir := range []string{filepath.Join(e.root, "containers"), filepath.Join(e.root, "names"), filepath.Join(e.runDir, "libcontainer")} {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			e.t.Errorf("%s: %d entries left (%v)", dir, len(entries), err)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(e.root)) {
		e.t.Errorf("mounts under %s left", e.root)
	}
	for _, id := range ids {
		for _, dir := range []string{"/sys/fs/cgroup/memory/dockyard/" + id, "/sys/fs/cgroup/pids/dockyard/" + id, "/sys/fs/cgroup/unified/dockyard/" + id} {
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				e.t.Errorf("cgroup %s left", dir)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(e.root)) {
			e.t.Errorf("process %s left: %q", filepath.Dir(p), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get fetches url, retrying while the server in the container starts.
func get(t testing.TB, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var fullID = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// bulletinBoard is the seed's image, as a busybox httpd.
const bulletinBoard = `FROM busybox
RUN mkdir /www && echo '<h1>bulletin board</h1>' > /www/index.html
EXPOSE 8080
CMD ["sh", "-c", "echo serving on 8080; exec httpd -f -p 8080 -h /www"]
`

// TestRunnerSeedWalkthrough is the seed's walkthrough on an image bin/builder built:
// run -d -p --name, fetch, ps, ps -a, logs, stop, rm, and rm -f of a running one.
func TestRunnerSeedWalkthrough(t *testing.T) {
	b := newEnv(t)
	b.must(b.build("bulletinboard:1.0", bulletinBoard, nil))
	e := newRunnerEnvAt(t, b.root)
	port := freeTCPPort(t)
	out := e.mustRun("run", "--publish", fmt.Sprintf("127.0.0.1:%d:8080", port), "--detach", "--name", "bb", "bulletinboard:1.0")
	if !fullID.MatchString(out) {
		t.Fatalf("run -d printed %q, want the container id", out)
	}
	id := strings.TrimSpace(out)
	if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "<h1>bulletin board</h1>\n" {
		t.Errorf("GET = %q", got)
	}
	ps := e.mustRun("ps")
	for _, want := range []string{"CONTAINER ID", id[:12], "bulletinboard:1.0", "Up ", fmt.Sprintf("127.0.0.1:%d->8080/tcp", port), "bb"} {
		if !strings.Contains(ps, want) {
			t.Errorf("ps lacks %q:\n%s", want, ps)
		}
	}
	if logs := e.mustRun("logs", "bb"); logs != "serving on 8080\n" {
		t.Errorf("logs = %q", logs)
	}
	if out := e.mustRun("stop", "-t", "1", "bb"); out != "bb\n" {
		t.Errorf("stop printed %q", out)
	}
	if ps := e.mustRun("ps"); strings.Contains(ps, id[:12]) {
		t.Errorf("ps still lists the stopped container:\n%s", ps)
	}
	if ps := e.mustRun("ps", "-a"); !regexp.MustCompile(`Exited \(137\) .* ago`).MatchString(ps) {
		t.Errorf("ps -a does not show the exit:\n%s", ps)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still accepts after stop", port)
	}
	e.mustRun("rm", "bb")

	out = e.mustRun("run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "--name", "bb", "bulletinboard:1.0")
	id2 := strings.TrimSpace(out)
	get(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if _, errOut, code := e.run("rm", "bb"); code == 0 || !strings.Contains(errOut, "container is running") {
		t.Errorf("rm of a running container: exit %d, %q", code, errOut)
	}
	e.mustRun("rm", "--force", "bb")
	if ps := e.mustRun("ps", "-a", "-q"); ps != "" {
		t.Errorf("ps -a -q after rm = %q", ps)
	}
	e.assertNothingLeft(id, id2)
}

// TestRunnerInteractiveTTY drives `run -it busybox sh` through a real pty.
func TestRunnerInteractiveTTY(t *testing.T) {
	e := newRunnerEnv(t)
	e.image("busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	pty, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	if err := pty.Resize(console.WinSize{Width: 99, Height: 33}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := e.cmd("run", "--rm", "-it", "--name", "shell", "busybox", "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pty.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			ok := strings.Contains(screen.String(), s)
			mu.Unlock()
			if ok {
				return
			}
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("never saw %q on the terminal:\n%s", s, screen.String())
	}
	waitFor("/ # ")
	io.WriteString(pty, "tty; stty size; echo $((6*7))z\r")
	waitFor("42z")
	waitFor("33 99")
	waitFor("/dev/pts/0")
	io.WriteString(pty, "exit 3\r")
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("run -it exit = %v, want status 3", err)
	}
	e.assertNothingLeft()
}

// TestRunnerExitCodes: the container's code, and docker's 125/126/127.
func TestRunnerExitCodes(t *testing.T) {
	e := newRunnerEnv(t)
	e.image("busybox", v1.Config{Cmd: []string{"sh"}}, map[string]string{"/not-exec": "data"})
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "--rm", "busybox", "true"}, 0, ""},
		{[]string{"run", "--rm", "busybox", "sh", "-c", "exit 42"}, 42, ""},
		{[]string{"run", "--rm", "busybox", "no-such-cmd"}, 127, "executable file not found"},
		{[]string{"run", "--rm", "busybox", "/not-exec"}, 126, "permission denied"},
		{[]string{"run", "--rm", "--pull", "never", "no-such-image"}, 125, "unable to find image"},
		{[]string{"run", "--rm", "--bogus-flag", "busybox"}, 125, "unknown flag"},
		{[]string{"run", "--rm", "-p", "99999:1", "busybox"}, 125, "invalid port"},
	}
	for _, tt := range tests {
		_, errOut, code := e.run(tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("runner %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), code, errOut, tt.code, tt.msg)
		}
	}
	e.assertNothingLeft()
}

// TestRunnerVolumes: data written to a named volume by one container is read by the next.
func TestRunnerVolumes(t *testing.T) {
	e := newRunnerEnv(t)
	e.image("busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	e.mustRun("run", "--rm", "-v", "notes:/notes", "busybox", "sh", "-c", "echo remembered > /notes/n")
	if out := e.mustRun("run", "--rm", "-v", "notes:/notes:ro", "busybox", "cat", "/notes/n"); out != "remembered\n" {
		t.Errorf("second container read %q", out)
	}
	host := t.TempDir()
	e.mustRun("run", "--rm", "-v", host+":/out", "-w", "/out", "busybox", "sh", "-c", "pwd > where")
	if b, _ := os.ReadFile(filepath.Join(host, "where")); string(b) != "/out\n" {
		t.Errorf("bind mount file = %q", b)
	}
	e.assertNothingLeft()
}

// TestRunnerExecAndRestart: exec into a running container; a crashing one restarts by
// its policy; wait and inspect report it.
func TestRunnerExecAndRestart(t *testing.T) {
	e := newRunnerEnv(t)
	e.image("busybox", v1.Config{Cmd: []string{"sh"}, Env: []string{"GREETING=hi"}}, nil)
	id := strings.TrimSpace(e.mustRun("run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"))
	if out := e.mustRun("exec", "-e", "WHO=you", "sleeper", "sh", "-c", "echo $GREETING $WHO; ps -o comm | grep -c sleep"); out != "hi you\n1\n" {
		t.Errorf("exec output %q", out)
	}
	if _, _, code := e.run("exec", id[:10], "sh", "-c", "exit 9"); code != 9 {
		t.Errorf("exec exit code %d, want 9", code)
	}
	e.mustRun("rm", "-f", "sleeper")

	e.mustRun("run", "-d", "--name", "crashy", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo boom; exit 3")
	if out := e.mustRun("wait", "crashy"); out != "3\n" {
		t.Errorf("wait printed %q", out)
	}
	// wait returns at the first exit, as docker's does; the restarts follow.
	var info []struct {
		RestartCount int
		State        struct{ Status string }
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := json.Unmarshal([]byte(e.mustRun("inspect", "crashy")), &info); err != nil || len(info) != 1 {
			t.Fatalf("inspect: %v %+v", err, info)
		}
		if info[0].State.Status == "exited" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if info[0].RestartCount != 2 || info[0].State.Status != "exited" {
		t.Errorf("inspect: %+v, want 2 restarts and exited", info[0])
	}
	if logs := e.mustRun("logs", "--tail", "2", "crashy"); logs != "boom\nboom\n" {
		t.Errorf("logs --tail 2 = %q", logs)
	}
	e.mustRun("rm", "crashy")
	e.assertNothingLeft(id)
}

// TestRunnerTwoPublishers: two containers publish different host ports.
func TestRunnerTwoPublishers(t *testing.T) {
	e := newRunnerEnv(t)
	e.image("web", v1.Config{Cmd: []string{"sh", "-c", "hostname > /www/index.html; exec httpd -f -p 8080 -h /www"}}, map[string]string{"/www/.keep": ""})
	var ids []string
	ports := map[string]int{"one": freeTCPPort(t), "two": freeTCPPort(t)}
	for name, port := range ports {
		ids = append(ids, strings.TrimSpace(e.mustRun("run", "-d", "--name", name, "--hostname", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "web")))
	}
	for name, port := range ports {
		if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != name+"\n" {
			t.Errorf("port %d answered %q, want %s", port, got, name)
		}
		if out := e.mustRun("port", name); out != fmt.Sprintf("8080/tcp -> 127.0.0.1:%d\n", port) {
			t.Errorf("port %s = %q", name, out)
		}
	}
	e.mustRun("rm", "-f", "one", "two")
	e.assertNothingLeft(ids...)
}
