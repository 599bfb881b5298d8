package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/internal/testutil"
)

func TestRunExitCodes(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, map[string]string{"/noexec": "plain file"})
	ctx := context.Background()
	if _, err := m.Run(ctx, RunOptions{Image: "busybox", Name: "taken", Args: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		o        RunOptions
		code     int  // the container's exit code, or the error's
		startErr bool // Run fails instead of returning the code
	}{
		{"exit status", RunOptions{Args: []string{"sh", "-c", "exit 3"}}, 3, false},
		{"not found", RunOptions{Args: []string{"no-such-command"}}, 127, true},
		{"not executable", RunOptions{Args: []string{"/noexec"}}, 126, true},
		{"unknown image", RunOptions{Image: "nothere:1", Pull: "never", Args: []string{"true"}}, 125, true},
		{"name in use", RunOptions{Name: "taken", Args: []string{"true"}}, 125, true},
		{"bad restart policy", RunOptions{Restart: "sometimes", Args: []string{"true"}}, 125, true},
		{"--rm with --restart", RunOptions{AutoRemove: true, Restart: "always", Args: []string{"true"}}, 125, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.o.Image == "" {
				tt.o.Image = "busybox"
			}
			res, err := m.Run(ctx, tt.o)
			if tt.startErr {
				if err == nil || ExitCode(err) != tt.code {
					t.Fatalf("Run = %v (code %d), want an error with code %d", err, ExitCode(err), tt.code)
				}
				return
			}
			if err != nil || res.ExitCode != tt.code {
				t.Fatalf("Run = %+v, %v; want exit code %d", res, err, tt.code)
			}
		})
	}
	if _, err := m.Run(ctx, RunOptions{Image: "busybox", Name: "taken", Args: []string{"true"}}); !errors.Is(err, errNameInUse) {
		t.Errorf("second run named taken: %v, want name in use", err)
	}
}

// TestAutoRemove: --rm leaves nothing once Run returns, for a success and a start error.
func TestAutoRemove(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}, Volumes: map[string]struct{}{"/data": {}}}, nil)
	for _, args := range [][]string{{"sh", "-c", "echo out; echo err >&2; exit 4"}, {"missing-cmd"}} {
		var out, errOut syncBuffer
		res, err := m.Run(context.Background(), RunOptions{Image: "busybox", Name: "gone", AutoRemove: true, Args: args, Stdout: &out, Stderr: &errOut})
		if args[0] == "sh" && (err != nil || res.ExitCode != 4 || out.String() != "out\n" || errOut.String() != "err\n") {
			t.Errorf("run --rm: %+v, %v, stdout %q, stderr %q", res, err, out.String(), errOut.String())
		}
		if args[0] != "sh" && ExitCode(err) != 127 {
			t.Errorf("run --rm missing-cmd: %v, want code 127", err)
		}
		assertGone(t, m, res.ID, "gone")
	}
	if entries, _ := os.ReadDir(m.volumesDir()); len(entries) != 0 {
		t.Errorf("--rm left %d anonymous volumes", len(entries))
	}
}

func TestStdinAndEnv(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}, Env: []string{"FROM_IMAGE=1", "PATH=/bin"}, WorkingDir: "/srv", User: "nobody"}, nil)
	code, out := runOut(t, m, RunOptions{
		Image: "busybox", Interactive: true, Stdin: strings.NewReader("piped\n"), Env: []string{"FROM_FLAG=2"},
		Args: []string{"sh", "-c", `read line; echo "$line $FROM_IMAGE $FROM_FLAG $(pwd) $(id -un)"`},
	})
	if code != 0 || out != "piped 1 2 /srv nobody\n" {
		t.Errorf("run -i = %d, %q", code, out)
	}
	// Without -i the container's stdin is empty.
	code, out = runOut(t, m, RunOptions{Image: "busybox", Stdin: strings.NewReader("ignored\n"), User: "root", Workdir: "/tmp",
		Args: []string{"sh", "-c", `cat; echo "[$(pwd) $(id -u)]"`}})
	if code != 0 || out != "[/tmp 0]\n" {
		t.Errorf("run without -i = %d, %q", code, out)
	}
}

// TestVolumes: a named volume keeps data across containers; an image VOLUME gets an
// anonymous volume filled from the image, removed by rm -v; binds work read-only.
func TestVolumes(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "vol", v1.Config{Cmd: []string{"sh"}, Volumes: map[string]struct{}{"/seed": {}}}, map[string]string{"/seed/from-image": "seeded\n"})
	ctx := context.Background()
	code, out := runOut(t, m, RunOptions{Image: "vol", Volumes: []string{"data:/data"}, Args: []string{"sh", "-c", "echo kept > /data/f; cat /seed/from-image"}})
	if code != 0 || out != "seeded\n" {
		t.Fatalf("first container: %d %q", code, out)
	}
	code, out = runOut(t, m, RunOptions{Image: "vol", Volumes: []string{"data:/data:ro"}, Args: []string{"sh", "-c", "cat /data/f; echo x > /data/g"}})
	if code == 0 || !strings.Contains(out, "kept\n") || !strings.Contains(out, "Read-only file system") {
		t.Errorf("second container: %d %q; want the data and a failed write", code, out)
	}
	host := t.TempDir()
	code, out = runOut(t, m, RunOptions{Image: "vol", Name: "binder", Volumes: []string{host + ":/host"}, Args: []string{"sh", "-c", "echo from-ctr > /host/file"}})
	if b, _ := os.ReadFile(filepath.Join(host, "file")); code != 0 || string(b) != "from-ctr\n" {
		t.Errorf("bind: %d %q, host file %q", code, out, b)
	}
	c, err := m.get("binder")
	if err != nil {
		t.Fatal(err)
	}
	var anon string
	for _, v := range c.Volumes {
		if v.Anonymous {
			anon = v.Name
		}
	}
	if anon == "" {
		t.Fatalf("no anonymous volume for the image's VOLUME /seed: %+v", c.Volumes)
	}
	if err := m.Remove(ctx, "binder", RemoveOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.volumeDir(anon)); !os.IsNotExist(err) {
		t.Errorf("rm -v left anonymous volume %s", anon)
	}
	if _, err := os.Stat(m.volumeDir("data")); err != nil {
		t.Errorf("named volume gone: %v", err)
	}
}

// TestRestartOnFailure: on-failure:2 runs a crashing command three times in all.
func TestRestartOnFailure(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	ctx := context.Background()
	res, err := m.Run(ctx, RunOptions{Image: "busybox", Detach: true, Restart: "on-failure:2", Args: []string{"sh", "-c", "echo crash; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := m.Wait(ctx, res.ID)
	if err != nil || code != 3 {
		t.Fatalf("wait = %d, %v; want 3", code, err)
	}
	c, _ := m.get(res.ID)
	if c.State.RestartCount != 2 {
		t.Errorf("restart count %d, want 2", c.State.RestartCount)
	}
	var out strings.Builder
	if err := m.Logs(ctx, res.ID, LogOptions{Tail: -1, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "crash\ncrash\ncrash\n" {
		t.Errorf("logs = %q, want three crashes", out.String())
	}
}

// TestRestartAlwaysThenStop: stop ends an always-restarting container for good.
func TestRestartAlwaysThenStop(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	ctx := context.Background()
	res, err := m.Run(ctx, RunOptions{Image: "busybox", Detach: true, Restart: "always", Args: []string{"sh", "-c", "sleep 0.2; exit 1"}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, _ := m.get(res.ID)
		if c.State.RestartCount >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no second restart: %+v", c.State)
		}
	}
	if err := m.Stop(ctx, res.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	c, _ := m.get(res.ID)
	if c.Running() || m.supervised(res.ID) {
		t.Errorf("after stop: %+v, supervised %v", c.State, m.supervised(res.ID))
	}
}

// TestExecAndForceRemove: exec into a running container, then rm -f it.
func TestExecAndForceRemove(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}, Env: []string{"IN_IMAGE=yes"}, WorkingDir: "/work"}, nil)
	ctx := context.Background()
	res, err := m.Run(ctx, RunOptions{Image: "busybox", Name: "svc", Detach: true, Args: []string{"sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	code, err := m.Exec(ctx, "svc", ExecOptions{Args: []string{"sh", "-c", `echo "$IN_IMAGE $EXTRA $(pwd)"; exit 7`}, Env: []string{"EXTRA=e"}, Stdout: &out, Stderr: &out})
	if err != nil || code != 7 || out.String() != "yes e /work\n" {
		t.Errorf("exec = %d, %v, %q", code, err, out.String())
	}
	if code, err := m.Exec(ctx, res.ID[:8], ExecOptions{Args: []string{"nope"}}); ExitCode(err) != 127 {
		t.Errorf("exec of a missing command = %d, %v; want 127", code, err)
	}
	if err := m.Remove(ctx, "svc", RemoveOptions{}); err == nil {
		t.Fatal("rm of a running container succeeded without force")
	}
	if err := m.Remove(ctx, "svc", RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m, res.ID, "svc")
	if _, err := m.Exec(ctx, "svc", ExecOptions{Args: []string{"true"}}); !errors.Is(err, errNoSuchContainer) {
		t.Errorf("exec after rm: %v", err)
	}
}

// TestPorts: two containers publish different ports, a UDP port works, and a port in
// use fails the run without leaving a container.
func TestPorts(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "web", httpdConfig, map[string]string{"/www/index.html": "web\n"})
	ctx := context.Background()
	ports := []int{freePort(t), freePort(t)}
	for i, p := range ports {
		if _, err := m.Run(ctx, RunOptions{Image: "web", Detach: true, Name: fmt.Sprint("web", i), Publish: []string{fmt.Sprintf("127.0.0.1:%d:8080", p)},
			Args: []string{"sh", "-c", fmt.Sprintf("echo %d > /www/index.html; exec httpd -f -p 8080 -h /www", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range ports {
		if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", p)); got != fmt.Sprintf("%d\n", i) {
			t.Errorf("port %d answered %q, want %d", p, got, i)
		}
	}
	_, err := m.Run(ctx, RunOptions{Image: "web", Detach: true, Name: "clash", Publish: []string{fmt.Sprintf("127.0.0.1:%d:8080", ports[0])}})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("run on a used port: %v", err)
	}
	if c, err := m.get("clash"); err == nil && c.Running() {
		t.Errorf("container clash runs despite the port clash")
	}
	lines, err := m.Port(ctx, "web1")
	if err != nil || len(lines) != 1 || lines[0] != fmt.Sprintf("8080/tcp -> 127.0.0.1:%d", ports[1]) {
		t.Errorf("port web1 = %q, %v", lines, err)
	}

	busybox(t, m, "udp", v1.Config{Cmd: []string{"/udpecho"}}, map[string]string{"/udpecho": udpEcho(t)})
	res, err := m.Run(ctx, RunOptions{Image: "udp", Detach: true, Publish: []string{"127.0.0.1::5353/udp"}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := m.get(res.ID)
	udp := c.State.Ports[0]
	if udp.HostPort == 0 {
		t.Fatalf("no host port chosen: %+v", udp)
	}
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udp.HostPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	got := ""
	for i := 0; i < 100 && got == ""; i++ { // until nc listens
		conn.Write([]byte("pong\n"))
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "pong\n" {
		t.Errorf("udp answer %q, want pong", got)
	}
}

// udpEcho builds a static UDP echo server on :5353 (busybox has none).
func udpEcho(t *testing.T) string {
	t.Helper()
	goBin := testutil.RequireBinary(t, "go")
	dir := t.TempDir()
	src := `package main

import "net"

func main() {
	pc, err := net.ListenPacket("udp", ":5353")
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 1500)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err == nil {
			pc.WriteTo(buf[:n], addr)
		}
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "build", "-o", "udpecho", "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build udpecho: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "udpecho"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
