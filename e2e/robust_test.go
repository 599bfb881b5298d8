package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/internal/testutil"
)

// fsck runs `builder fsck` on the env's store and fails the test unless it is clean.
func (e *env) fsck() {
	e.t.Helper()
	r := e.builder("fsck")
	if r.code != 0 || !strings.Contains(r.stdout, "checked") || strings.Contains(r.stdout, "problem:") || strings.Contains(r.stderr, "warning") {
		e.t.Errorf("builder fsck:\n%s", r)
	}
}

// startBuilder starts bin/builder on the env's store, its output in out.
func (e *env) startBuilder(out *syncBuffer, args ...string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "builder"), append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	return cmd
}

// blobBeingWritten reports whether some session of the store is writing a blob of more
// than 1 MiB: a layer write is under way.
func blobBeingWritten(root string) bool {
	temps, _ := filepath.Glob(filepath.Join(root, "tmp", "sess-*", "blob-*"))
	for _, p := range temps {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 1<<20 {
			return true
		}
	}
	return false
}

// TestKilledBuildsLeaveAConsistentStore interrupts `builder build` with SIGINT, SIGTERM
// and SIGKILL during a RUN, during a layer write and during a push. An interrupted build
// cleans up itself; after a killed one the next builder command does. Either way fsck
// finds the store consistent and the next build works.
func TestKilledBuildsLeaveAConsistentStore(t *testing.T) {
	phases := []struct {
		name       string
		dockerfile string
		push       bool
		marker     string // in the command line of the step's process
	}{
		{"during a RUN", "FROM busybox\nRUN echo STEP-STARTED; sleep 4242\n", false, "sleep 4242"},
		{"during a layer write", "FROM busybox\nRUN head -c 300000000 /dev/urandom > /big\n", false, "head -c 300000000"},
		{"during a push", "FROM busybox\nRUN head -c 3000000 /dev/urandom > /pushed\n", true, ""},
	}
	signals := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL}
	for _, ph := range phases {
		for _, sig := range signals {
			t.Run(ph.name+"/"+sig.String(), func(t *testing.T) {
				e := newEnv(t)
				args := []string{"build", "-t", "killed:1"}
				var proxy *registrytest.FaultProxy
				if ph.push {
					reg := registrytest.Start(t, registrytest.Options{})
					proxy = registrytest.NewFaultProxy(t, reg.Host, registrytest.Fault{Path: "/blobs/uploads/", Hang: true})
					args = []string{"build", "--push", "--retries", "0", "-t", proxy.Host + "/team/killed:1"}
				}
				var out syncBuffer
				cmd := e.startBuilder(&out, append(args, e.context(map[string]string{"Dockerfile": ph.dockerfile}))...)
				waitFor(t, 60*time.Second, func() bool {
					switch {
					case ph.push:
						return proxy.Injected() > 0
					case ph.marker == "sleep 4242":
						return strings.Contains(out.String(), "STEP-STARTED")
					}
					return blobBeingWritten(e.root)
				})
				cmd.Process.Signal(sig)
				cmd.Wait()
				if code := cmd.ProcessState.ExitCode(); sig != syscall.SIGKILL && code != 130 {
					t.Errorf("builder exited %d after %v, want 130:\n%s", code, sig, out.String())
				}
				if sig != syscall.SIGKILL {
					assertNoLeftovers(t, e) // it cleaned up after itself
				}
				// The build runs in a child (its private mount namespace) that a SIGKILL
				// of the parent takes down a moment later: the next command starts then.
				waitFor(t, 10*time.Second, func() bool { return len(processesMatching(t, e.root+" build")) == 0 })
				e.fsck() // and, after SIGKILL, this start-up cleaned up after it
				assertNoLeftovers(t, e)
				if ph.marker != "" {
					if left := processesMatching(t, ph.marker); len(left) > 0 {
						t.Errorf("the step's processes survived: %v", left)
					}
				}
				e.must(e.build("after:1", "FROM busybox\nRUN echo ok > /ok\n", nil))
				e.fsck()
			})
		}
	}
}

// TestConcurrentBuildsShareBaseLayers runs four builds of different Dockerfiles at once
// on one store; their first RUN is the same (and, reproducible, the same layer).
func TestConcurrentBuildsShareBaseLayers(t *testing.T) {
	e := newEnv(t)
	results := make([]result, 4)
	var wg sync.WaitGroup
	for i := range results {
		ctx := e.context(map[string]string{"Dockerfile": fmt.Sprintf(
			"FROM busybox\nRUN echo shared > /shared\nRUN echo %d > /own && sleep 0.%d\nCOPY f /f\n", i, i), "f": fmt.Sprint("file", i)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run("builder", "", "build", "--reproducible", "-t", fmt.Sprintf("conc:%d", i), ctx)
		}()
	}
	wg.Wait()
	var shared []string
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("build %d failed:\n%s", i, r)
		}
		root := e.unpack(fmt.Sprintf("conc:%d", i))
		for file, want := range map[string]string{"shared": "shared\n", "own": fmt.Sprintf("%d\n", i), "f": fmt.Sprint("file", i)} {
			if got := readFile(t, filepath.Join(root, file)); got != want {
				t.Errorf("conc:%d /%s = %q, want %q", i, file, got, want)
			}
		}
		shared = append(shared, e.config(fmt.Sprintf("conc:%d", i)).RootFS.DiffIDs[1].String())
	}
	for _, s := range shared[1:] {
		if s != shared[0] {
			t.Errorf("the shared step gave different layers: %v", shared)
		}
	}
	e.fsck()
	assertNoLeftovers(t, e)
}

// TestRunWhileRmi removes an image while containers of it start: each run either works
// or fails saying why, and the store stays consistent.
func TestRunWhileRmi(t *testing.T) {
	e := newEnv(t)
	re := newRunnerEnvAt(t, e.root)
	for i, delay := range []time.Duration{0, 30 * time.Millisecond, 300 * time.Millisecond} {
		ref := fmt.Sprintf("victim:%d", i)
		e.must(e.build(ref, "FROM busybox\nRUN echo payload > /payload\n", nil))
		var out, errOut string
		var code int
		done := make(chan struct{})
		go func() {
			defer close(done)
			out, errOut, code = re.run("run", "--rm", ref, "cat", "/payload")
		}()
		time.Sleep(delay)
		rmOut, rmErr, rmCode := re.run("rmi", ref)
		<-done
		switch {
		case code == 0 && out != "payload\n":
			t.Errorf("run %d worked but printed %q", i, out)
		case code != 0 && !strings.Contains(errOut, "victim") && !strings.Contains(errOut, "image"):
			t.Errorf("run %d failed without saying why: exit %d: %s", i, code, errOut)
		}
		if rmCode != 0 && !strings.Contains(rmErr, "uses it") {
			t.Errorf("rmi %d failed unclearly: %s %s", i, rmOut, rmErr)
		}
		if rmCode != 0 { // a container had it: gone now, so rmi works
			re.mustRun("rmi", ref)
		}
		e.fsck()
	}
	re.assertNothingLeft()
}

// TestBuildLimits: RUN steps that allocate or fork without bound are stopped by
// --memory and --pids-limit, and the build says which limit.
func TestBuildLimits(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, run string
		args      []string
		want      string
	}{
		{"memory", "tail /dev/zero", []string{"--memory", "64m"}, "killed: out of memory (limit 64 MiB)"},
		{"fork bomb", "i=0; while [ $i -lt 1000 ]; do sleep 1000 & i=$((i+1)); done", []string{"--pids-limit", "100"}, "limit 100 processes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.build("limited:1", "FROM busybox\nRUN "+tc.run+"\n", nil, tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Dockerfile:2") {
				t.Errorf("want a failed build saying %q at Dockerfile:2:\n%s", tc.want, r)
			}
			assertNoLeftovers(t, e)
			e.fsck()
		})
	}
	if r := e.build("limited:2", "FROM busybox\nRUN true\n", nil, "--memory", "lots"); r.code == 0 || !strings.Contains(r.stderr, "--memory") {
		t.Errorf("--memory lots:\n%s", r)
	}
}

// TestFullDisk puts the store on a 32 MiB tmpfs: a RUN that fills it and a layer that
// does not fit fail clearly and leave no partial blob or temp file.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=32m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(disk, syscall.MNT_DETACH) })
	root := filepath.Join(disk, "store")
	e := newEnvAt(t, root, dir)
	before := storeBlobs(t, e)
	cases := []struct{ name, run, want string }{
		// What the step's own tool says of the write that failed (overlayfs gives EIO
		// for a full upper dir on some kernels); then the step's exit code.
		{"RUN fills the disk", "head -c 40000000 /dev/zero > /big", "exit code: 1"},
		// 16.5 MB of noise fits in the upper dir, not twice (its gzip blob too).
		{"layer does not fit", "head -c 16500000 /dev/urandom > /big", "no space left on device"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.build("full:1", "FROM busybox\nRUN "+tc.run+"\n", nil)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Dockerfile:2") {
				t.Errorf("want a failed build saying %q:\n%s", tc.want, r)
			}
			if after := storeBlobs(t, e); len(after) != len(before) {
				t.Errorf("the failed build left blobs: %d before, %d after", len(before), len(after))
			}
			if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
			assertNoLeftovers(t, e)
			e.fsck()
		})
	}
	e.must(e.build("fits:1", "FROM busybox\nRUN echo fits > /fits\n", nil))
}

// newEnvAt is newEnv with the store at root and scratch in dir.
func newEnvAt(t *testing.T, root, dir string) *env {
	t.Helper()
	testutil.RequireRoot(t)
	e := &env{t: t, root: root, dir: dir}
	e.must(e.builder("import", "-c", `CMD ["sh"]`, testutil.BusyboxRootfs(t), "busybox:latest"))
	return e
}
