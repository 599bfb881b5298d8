package run

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// testCgroupParent keeps test containers apart from real ones; TestMain removes it.
const testCgroupParent = "/dockyard-test"

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range cgroupDirs(testCgroupParent) {
		_ = os.Remove(dir) // fails, harmlessly, if a container was leaked
	}
	os.Exit(code)
}

// newSpec returns a spec running args in a fresh busybox root, with its own id,
// state root and output buffer (stdout and stderr together).
func newSpec(t *testing.T, args ...string) (Spec, *syncBuffer) {
	t.Helper()
	testutil.RequireRoot(t)
	out := &syncBuffer{}
	return Spec{
		ID:           uniqueID(t),
		Root:         testutil.BusyboxRootfs(t),
		Args:         args,
		StateRoot:    t.TempDir(),
		CgroupParent: testCgroupParent,
		Stdio:        Stdio{Stdout: out, Stderr: out},
	}, out
}

var nonID = regexp.MustCompile(`[^\w]+`)

func uniqueID(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := nonID.ReplaceAllString(t.Name(), "-")
	return strings.ToLower(name[:min(len(name), 40)]) + "-" + hex.EncodeToString(b)
}

// runOK runs s and fails the test unless it exits 0; it returns the output.
func runOK(t *testing.T, s Spec, out *syncBuffer) string {
	t.Helper()
	code, err := Run(context.Background(), s)
	if err != nil || code != 0 {
		t.Fatalf("Run(%q) = %d, %v; output:\n%s", s.Args, code, err, out.String())
	}
	assertGone(t, s)
	return out.String()
}

// cgroupDirs lists rel (an absolute cgroup path) in every mounted hierarchy.
func cgroupDirs(rel string) []string {
	mounts, _ := filepath.Glob("/sys/fs/cgroup/*")
	dirs := []string{filepath.Join("/sys/fs/cgroup", rel)} // cgroup v2 unified mode
	for _, m := range mounts {
		dirs = append(dirs, filepath.Join(m, rel))
	}
	return dirs
}

// assertGone checks that nothing of container s is left: no state dir, no cgroup
// in any hierarchy, no process in its cgroup.
func assertGone(t *testing.T, s Spec) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(s.StateRoot, s.ID)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state dir of %s still there (stat: %v)", s.ID, err)
	}
	cg := filepath.Join(testCgroupParent, s.ID)
	for _, dir := range cgroupDirs(cg) {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s still there (stat: %v)", dir, err)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(cg+"\n")) {
			t.Errorf("process %s still in cgroup %s", filepath.Dir(p), cg)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of stdout and stderr,
// which can signal the first time its content contains a marker.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.seen != nil && b.marker != "" && strings.Contains(b.buf.String(), b.marker) {
		close(b.seen)
		b.marker = ""
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// await returns a channel closed once the output contains marker.
func (b *syncBuffer) await(marker string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.marker, b.seen = marker, make(chan struct{})
	return b.seen
}

// fields returns the output's lines as key → value for lines "key=value".
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "="); ok {
			m[k] = v
		}
	}
	return m
}
