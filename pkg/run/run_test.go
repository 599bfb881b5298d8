package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"zero", []string{"true"}, 0},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3},
		{"child killed by signal", []string{"sh", "-c", `sh -c 'kill -9 $$'; exit $?`}, 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, out := newSpec(t, tt.args...)
			s.Limits.MemoryBytes = 32 << 20 // only tail /dev/zero reaches it
			code, err := Run(context.Background(), s)
			if err != nil || code != tt.want {
				t.Errorf("Run = %d, %v; want %d; output:\n%s", code, err, tt.want, out)
			}
			assertGone(t, s)
		})
	}
	// An init the OOM killer took is a real SIGKILL, reported with the limit it hit.
	s, out := newSpec(t, "tail", "/dev/zero")
	s.Limits.MemoryBytes = 32 << 20
	code, err := Run(context.Background(), s)
	var le *LimitError
	if !errors.As(err, &le) || code != -1 || le.Code != 137 || le.Resource != "memory" {
		t.Errorf("OOM-killed init: Run = %d, %v; want -1 and a memory *LimitError with code 137; output:\n%s", code, err, out)
	}
	assertGone(t, s)
}

func TestRunExecFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arg  string
		want int
	}{
		{"no-such-command", ExitNotFound},
		{"/no/such/file", ExitNotFound},
		{"/etc/passwd", ExitNotExecutable}, // not executable
		{"/etc", ExitNotExecutable},        // a directory
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			t.Parallel()
			s, _ := newSpec(t, tt.arg)
			code, err := Run(context.Background(), s)
			var ee *ExecError
			if !errors.As(err, &ee) || code != tt.want || ee.Code != tt.want {
				t.Fatalf("Run(%s) = %d, %v (%T); want %d and an *ExecError", tt.arg, code, err, err, tt.want)
			}
			if !strings.Contains(ee.Error(), tt.arg) {
				t.Errorf("error %q does not name %s", ee, tt.arg)
			}
			assertGone(t, s)
		})
	}
}

func TestRunKillsBackgroundProcesses(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", "sleep 1000 & sleep 1000 & echo started")
	if got := runOK(t, s, out); !strings.Contains(got, "started") {
		t.Errorf("output %q, want started", got)
	}
	// runOK checked that no process is left in the container's cgroup.
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", "sleep 1000 & echo started; sleep 1000")
	started := out.await("started")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	code, err := Run(ctx, s)
	if !errors.Is(err, context.Canceled) || code != -1 {
		t.Errorf("Run = %d, %v; want -1, context.Canceled; output:\n%s", code, err, out)
	}
	assertGone(t, s)
}

func TestRunCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "true")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, s); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	assertGone(t, s)
}

func TestRunNamespaces(t *testing.T) {
	t.Parallel()
	kinds := []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"}
	script := ""
	for _, k := range kinds {
		script += "echo " + k + "=$(readlink /proc/self/ns/" + k + ");"
	}
	for _, network := range []NetworkMode{"", NetworkNone, NetworkHost} {
		t.Run(string(network), func(t *testing.T) {
			t.Parallel()
			s, out := newSpec(t, "sh", "-c", script)
			s.Network = network
			got := fields(runOK(t, s, out))
			for _, k := range kinds {
				host, err := os.Readlink("/proc/self/ns/" + k)
				if err != nil {
					t.Fatal(err)
				}
				// cgroup namespaces are not used (cgroup v1 hierarchies), net only
				// for host networking.
				wantShared := k == "cgroup" || (k == "net" && network == NetworkHost)
				if shared := got[k] == host; shared != wantShared || got[k] == "" {
					t.Errorf("%s namespace %q (host %q): shared=%v, want %v", k, got[k], host, shared, wantShared)
				}
			}
		})
	}
}

func TestRunNetworkInterfaces(t *testing.T) {
	t.Parallel()
	hostDev, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	hostIfaces := interfaces(string(hostDev))
	if len(hostIfaces) < 2 {
		t.Skipf("host has only %v: cannot tell host from none", hostIfaces)
	}
	tests := []struct {
		mode NetworkMode
		want []string
	}{
		{NetworkNone, []string{"lo"}},
		{NetworkHost, hostIfaces},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()
			s, out := newSpec(t, "sh", "-c", "cat /proc/net/dev; ip -o link show up | grep -c LOOPBACK")
			s.Network = tt.mode
			got := runOK(t, s, out)
			if ifs := interfaces(got); strings.Join(ifs, ",") != strings.Join(tt.want, ",") {
				t.Errorf("interfaces %v, want %v", ifs, tt.want)
			}
			if !strings.HasSuffix(got, "\n1\n") {
				t.Errorf("loopback is not up:\n%s", got)
			}
		})
	}
}

// interfaces lists the interface names in /proc/net/dev's format, sorted as listed.
func interfaces(procNetDev string) []string {
	var names []string
	for _, line := range strings.Split(procNetDev, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	return names
}

func TestRunHostname(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "builder-box"} {
		s, out := newSpec(t, "hostname")
		s.Hostname = name
		want := name
		if want == "" {
			want = s.ID[:12]
		}
		if got := strings.TrimSpace(runOK(t, s, out)); got != want {
			t.Errorf("hostname %q, want %q", got, want)
		}
	}
}

func TestRunReadOnlyRoot(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", "touch /x || echo root=ro; touch /tmp/x && echo tmp=rw")
	s.ReadOnlyRoot = true
	s.Mounts = []Mount{{Destination: "/tmp", Type: "tmpfs"}}
	got := fields(runOK(t, s, out))
	if got["root"] != "ro" || got["tmp"] != "rw" {
		t.Errorf("got %v, want root=ro tmp=rw", got)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "x")); err == nil {
		t.Error("/x was created in the read-only root")
	}
}
