package runner

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/internal/testutil"
)

// TestNetworkModes: private has loopback only (or slirp's tap0), host shares the host's
// interfaces and name, none has loopback only; hostname and read-only root apply.
func TestNetworkModes(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	hostName, _ := os.Hostname()
	script := `ls /sys/class/net | tr '\n' ' '; echo; hostname; touch /probe 2>/dev/null && echo writable || echo read-only`
	tests := []struct {
		network, hostname string
		readOnly          bool
		wantNet, wantHost string
		wantRW            string
	}{
		{"none", "box", true, "lo ", "box", "read-only"},
		{"private", "", false, "lo ", "", "writable"},
		{"host", "", false, "", hostName, "writable"},
	}
	for _, tt := range tests {
		code, out := runOut(t, m, RunOptions{Image: "busybox", AutoRemove: true, Network: tt.network, Hostname: tt.hostname, ReadOnly: tt.readOnly, Args: []string{"sh", "-c", script}})
		lines := strings.Split(out, "\n")
		if code != 0 || len(lines) < 3 {
			t.Errorf("%s: exit %d, %q", tt.network, code, out)
			continue
		}
		if tt.network == "private" && slirpPath() != "" {
			tt.wantNet = "lo tap0 "
		}
		if tt.wantNet != "" && lines[0] != tt.wantNet {
			t.Errorf("%s: interfaces %q, want %q", tt.network, lines[0], tt.wantNet)
		}
		if tt.network == "host" && !strings.Contains(lines[0], "lo") {
			t.Errorf("host: interfaces %q", lines[0])
		}
		if tt.wantHost != "" && lines[1] != tt.wantHost {
			t.Errorf("%s: hostname %q, want %q", tt.network, lines[1], tt.wantHost)
		}
		if tt.network == "private" && len(lines[1]) != 12 {
			t.Errorf("private: hostname %q, want the short id", lines[1])
		}
		if lines[2] != tt.wantRW {
			t.Errorf("%s: root is %s, want %s", tt.network, lines[2], tt.wantRW)
		}
	}
}

// TestSlirp: with slirp4netns installed a private container gets tap0 and slirp's DNS.
// No traffic is sent.
func TestSlirp(t *testing.T) {
	testutil.RequireBinary(t, "slirp4netns")
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	var warnings []string
	code, out := runOut(t, m, RunOptions{Image: "busybox", AutoRemove: true, Warn: func(s string) { warnings = append(warnings, s) },
		Args: []string{"sh", "-c", "ip addr show tap0 | grep -o 'inet [0-9.]*'; cat /etc/resolv.conf"}})
	if code != 0 || out != "inet "+slirpIP+"\nnameserver "+slirpDNS+"\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings with slirp4netns installed: %q", warnings)
	}
}

// TestInit: --init puts a reaping init at pid 1.
func TestInit(t *testing.T) {
	if _, err := findInit(); err != nil {
		testutil.Missing(t, "%v", err)
	}
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	code, out := runOut(t, m, RunOptions{Image: "busybox", AutoRemove: true, Init: true, Args: []string{"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5"}})
	if code != 5 || !strings.HasPrefix(out, initPath+" -- sh") {
		t.Errorf("--init: exit %d, pid 1 is %q", code, out)
	}
}

// TestStartKillPrune: a stopped container starts again with its writable layer; kill
// sends signals; prune removes what is stopped.
func TestStartKillPrune(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}, StopSignal: "SIGUSR1"}, nil)
	ctx := context.Background()
	script := `trap 'echo got-hup' HUP; trap 'echo usr1; exit 0' USR1; echo start >> /count; wc -l < /count; while true; do sleep 0.1; done`
	res, err := m.Run(ctx, RunOptions{Image: "busybox", Name: "k", Detach: true, Args: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, m, "k", "1\n")
	if err := m.Kill(ctx, "k", "HUP"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, m, "k", "got-hup\n")
	if err := m.Stop(ctx, "k", 10*time.Second); err != nil { // STOPSIGNAL SIGUSR1: a clean exit
		t.Fatal(err)
	}
	if c, _ := m.get("k"); c.State.Status != StatusExited || c.State.ExitCode != 0 {
		t.Errorf("after stop by SIGUSR1: %+v", c.State)
	}
	if err := m.Start(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, m, "k", "2\n") // the writable layer was kept
	if err := m.Kill(ctx, "k", ""); err != nil {
		t.Fatal(err)
	}
	if code, _ := m.Wait(ctx, "k"); code != 137 {
		t.Errorf("exit after kill = %d, want 137", code)
	}
	if err := m.Kill(ctx, "k", ""); err == nil {
		t.Error("kill of a stopped container succeeded")
	}
	ids, err := m.Prune(ctx)
	if err != nil || len(ids) != 1 || ids[0] != res.ID {
		t.Errorf("prune = %v, %v", ids, err)
	}
	assertGone(t, m, res.ID, "k")
}

// waitLog waits until the container's stdout ends with suffix.
func waitLog(t *testing.T, m *Manager, ref, suffix string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var out strings.Builder
		if err := m.Logs(context.Background(), ref, LogOptions{Tail: -1, Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(out.String(), suffix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s never ended with %q: %q", ref, suffix, out.String())
		}
	}
}

// TestLogsFollow: logs -f prints lines as they come and returns when the container
// stops.
func TestLogsFollow(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	ctx := context.Background()
	if _, err := m.Run(ctx, RunOptions{Image: "busybox", Name: "f", Detach: true,
		Args: []string{"sh", "-c", "for i in 1 2 3; do echo line$i; echo err$i >&2; sleep 0.2; done"}}); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	if err := m.Logs(ctx, "f", LogOptions{Follow: true, Tail: -1, Stdout: &out, Stderr: &errOut}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "line1\nline2\nline3\n" || errOut.String() != "err1\nerr2\nerr3\n" {
		t.Errorf("logs -f: stdout %q, stderr %q", out.String(), errOut.String())
	}
	var ts syncBuffer
	if err := m.Logs(ctx, "f", LogOptions{Tail: 2, Timestamps: true, Stdout: &ts, Stderr: &ts}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(ts.String(), "\n"), "\n")
	var msgs []string
	for _, l := range lines {
		stamp, msg, _ := strings.Cut(l, " ")
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil {
			t.Errorf("logs -t: bad timestamp in %q", l)
		}
		msgs = append(msgs, msg)
	}
	if got := strings.Join(msgs, ","); got != "line3,err3" && got != "err3,line3" {
		t.Errorf("logs -t --tail 2 = %q", ts.String())
	}
}

// TestPublishAllAndImages: -P publishes every EXPOSE; images and rmi see the store.
func TestPublishAllAndImages(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "web:2", httpdConfig, map[string]string{"/www/index.html": "all\n"})
	ctx := context.Background()
	res, err := m.Run(ctx, RunOptions{Image: "web:2", Detach: true, PublishAll: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := m.get(res.ID)
	if len(c.State.Ports) != 1 || c.State.Ports[0].ContainerPort != 8080 || c.State.Ports[0].HostPort == 0 {
		t.Fatalf("-P bound %+v", c.State.Ports)
	}
	if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", c.State.Ports[0].HostPort)); got != "all\n" {
		t.Errorf("GET = %q", got)
	}
	var imgs strings.Builder
	if err := m.Images(ctx, &imgs, false); err != nil || !strings.Contains(imgs.String(), "web ") || !strings.Contains(imgs.String(), " 2 ") {
		t.Errorf("images = %q, %v", imgs.String(), err)
	}
	if _, err := m.RemoveImage(ctx, "web:2", false); err == nil {
		t.Error("rmi of an image in use succeeded")
	}
	if tags, err := m.RemoveImage(ctx, "web:2", true); err != nil || len(tags) != 1 || tags[0] != "web:2" {
		t.Errorf("rmi -f = %v, %v", tags, err)
	}
	if _, err := m.Store().Resolve("web:2"); err == nil {
		t.Error("tag still there after rmi")
	}
}
