package runner

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/internal/testutil/testimage"
)

const testCgroupParent = "/dockyard-runner-test"

func TestMain(m *testing.M) {
	// The test binary is its own supervisor, as the runner binary is.
	if len(os.Args) == 3 && os.Args[1] == SupervisorCommand {
		os.Exit(Supervise(os.Args[2]))
	}
	if arg := os.Getenv(inlineHelperEnv); arg != "" {
		os.Exit(inlineHelper(arg))
	}
	code := m.Run()
	for _, dir := range cgroupDirs(testCgroupParent) {
		_ = os.Remove(dir)
	}
	os.Exit(code)
}

// newManager returns a manager on a fresh store; every container left at the end of
// the test is force-removed.
func newManager(t *testing.T) *Manager {
	t.Helper()
	testutil.RequireRoot(t)
	m, err := New(Options{Root: t.TempDir(), RunDir: t.TempDir(), CgroupParent: testCgroupParent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs, _ := m.List(context.Background(), true)
		for _, c := range cs {
			if err := m.Remove(context.Background(), c.ID, RemoveOptions{Force: true, Volumes: true}); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		m.Close()
	})
	return m
}

// busybox stores a busybox image under ref with cfg and extra files.
func busybox(t *testing.T, m *Manager, ref string, cfg v1.Config, files map[string]string) {
	t.Helper()
	testimage.Busybox(t, m.Store(), ref, cfg, files)
}

// runOut runs o attached and returns the exit code and the combined output.
func runOut(t *testing.T, m *Manager, o RunOptions) (int, string) {
	t.Helper()
	var out syncBuffer
	o.Stdout, o.Stderr = &out, &out
	res, err := m.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("run %v: %v", o.Args, err)
	}
	return res.ExitCode, out.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func cgroupDirs(rel string) []string {
	mounts, _ := filepath.Glob("/sys/fs/cgroup/*")
	dirs := []string{filepath.Join("/sys/fs/cgroup", rel)}
	for _, m := range mounts {
		dirs = append(dirs, filepath.Join(m, rel))
	}
	return dirs
}

// assertGone checks that nothing of container id remains: state dirs, mounts, cgroups,
// processes, name.
func assertGone(t *testing.T, m *Manager, id, name string) {
	t.Helper()
	for _, p := range []string{m.dir(id), filepath.Join(m.stateRoot(), id), filepath.Join(m.namesDir(), name)} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there (lstat: %v)", p, err)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(id)) {
		var left []string
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, id) {
				left = append(left, l)
			}
		}
		t.Errorf("a mount of container %s is left: %s", id[:12], strings.Join(left, "\n"))
	}
	cg := filepath.Join(testCgroupParent, id)
	for _, dir := range cgroupDirs(cg) {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s still there", dir)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(cg)) {
			t.Errorf("process %s still in cgroup %s", filepath.Dir(p), cg)
		}
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline")); err == nil && bytes.Contains(b, []byte(id)) {
			t.Errorf("process %s (%q) still mentions container %s", filepath.Dir(p), strings.ReplaceAll(string(b), "\x00", " "), id[:12])
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
