package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/internal/testutil"
)

// steps maps each progress vertex that ran to how it ended: "DONE" or "CACHED".
func steps(stderr string) map[string]string {
	names := map[string]string{}
	ends := map[string]string{}
	re := regexp.MustCompile(`^#(\d+) (\[.*)$`)
	for _, l := range strings.Split(stderr, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			names[m[1]] = m[2]
			continue
		}
		f := strings.Fields(l)
		if len(f) >= 2 && (f[1] == "DONE" || f[1] == "CACHED") {
			ends[strings.TrimPrefix(f[0], "#")] = f[1]
		}
	}
	out := map[string]string{}
	for id, name := range names {
		out[name] = ends[id]
	}
	return out
}

func cachedCount(stderr string) (cached, ran int) {
	for name, end := range steps(stderr) {
		if strings.Contains(name, "FROM ") {
			continue
		}
		switch end {
		case "CACHED":
			cached++
		case "DONE":
			if strings.Contains(name, " RUN ") || strings.Contains(name, " COPY ") || strings.Contains(name, " ADD ") || strings.Contains(name, " WORKDIR ") {
				ran++
			}
		}
	}
	return cached, ran
}

const cacheDockerfile = `FROM busybox
WORKDIR /app
COPY a.txt .
RUN echo RAN-AFTER-A && cat a.txt > seen-a
COPY b.txt .
RUN echo RAN-AFTER-B && cat b.txt > seen-b
`

func TestCacheNoChangeIsInstantAndIdentical(t *testing.T) {
	e := newEnv(t)
	ctx := e.context(map[string]string{"Dockerfile": cacheDockerfile, "a.txt": "A", "b.txt": "B",
		"ignored.log": "x", ".dockerignore": "*.log\n"})
	first := e.must(e.builder("build", "--iidfile", filepath.Join(e.dir, "id1"), "-t", "c:1", ctx))
	if c, _ := cachedCount(first.stderr); c != 0 {
		t.Errorf("a first build in an empty store hit the cache %d times:\n%s", c, first.stderr)
	}
	second := e.must(e.builder("build", "--iidfile", filepath.Join(e.dir, "id2"), "-t", "c:2", ctx))
	if c, ran := cachedCount(second.stderr); c != 5 || ran != 0 {
		t.Errorf("a rebuild with no change: %d cached, %d ran; want 5 and 0:\n%s", c, ran, second.stderr)
	}
	if regexp.MustCompile(`#\d+ [0-9.]+ RAN-AFTER`).MatchString(second.stderr) {
		t.Error("a cached RUN ran its command")
	}
	if a, b := readFile(t, filepath.Join(e.dir, "id1")), readFile(t, filepath.Join(e.dir, "id2")); a != b {
		t.Errorf("the no-change rebuild made another image: %s then %s", a, b)
	}

	// A file .dockerignore hides changes nothing.
	os.WriteFile(filepath.Join(ctx, "ignored.log"), []byte("changed"), 0o644)
	r := e.must(e.builder("build", "-t", "c:3", ctx))
	if c, ran := cachedCount(r.stderr); c != 5 || ran != 0 {
		t.Errorf("after changing an ignored file: %d cached, %d ran; want 5 and 0", c, ran)
	}

	// Touching b.txt reruns exactly the steps from COPY b.txt on.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(ctx, "b.txt"), []byte("B2"), 0o644)
	r = e.must(e.builder("build", "-t", "c:4", ctx))
	got := steps(r.stderr)
	for name, want := range map[string]string{
		"[2/6] WORKDIR /app": "CACHED", "[3/6] COPY a.txt .": "CACHED",
		"[4/6] RUN echo RAN-AFTER-A && cat a.txt > seen-a": "CACHED",
		"[5/6] COPY b.txt .": "DONE", "[6/6] RUN echo RAN-AFTER-B && cat b.txt > seen-b": "DONE",
	} {
		if got[name] != want {
			t.Errorf("after changing b.txt, %q ended %q, want %q\n%s", name, got[name], want, r.stderr)
		}
	}
	if got := readFile(t, filepath.Join(e.unpack("c:4"), "app/seen-b")); got != "B2" {
		t.Errorf("the rerun step saw %q", got)
	}
	// A touch that changes no content (a fresh checkout) still hits.
	now := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(ctx, "a.txt"), now, now)
	r = e.must(e.builder("build", "-t", "c:5", ctx))
	if c, ran := cachedCount(r.stderr); c != 5 || ran != 0 {
		t.Errorf("after an mtime-only change: %d cached, %d ran", c, ran)
	}
}

func TestCacheFlags(t *testing.T) {
	e := newEnv(t)
	ctx := e.context(map[string]string{"Dockerfile": "FROM busybox AS base\nRUN echo one > /one\nFROM base\nRUN echo two > /two\n"})
	e.must(e.builder("build", "-t", "f:1", ctx))
	r := e.must(e.builder("build", "--no-cache", "-t", "f:1", ctx))
	if c, ran := cachedCount(r.stderr); c != 0 || ran != 2 {
		t.Errorf("--no-cache: %d cached, %d ran", c, ran)
	}
	r = e.must(e.builder("build", "--no-cache-filter", "stage-1", "-t", "f:1", ctx))
	if c, ran := cachedCount(r.stderr); c != 1 || ran != 1 {
		t.Errorf("--no-cache-filter stage-1: %d cached, %d ran; want 1 and 1", c, ran)
	}
	time.Sleep(20 * time.Millisecond)
	r = e.must(e.builder("build", "--cache-ttl", "10ms", "-t", "f:1", ctx))
	if c, _ := cachedCount(r.stderr); c != 0 {
		t.Errorf("--cache-ttl 10ms used %d entries older than that", c)
	}
}

func TestPrune(t *testing.T) {
	e := newEnv(t)
	ctx := e.context(map[string]string{"Dockerfile": "FROM busybox\nRUN head -c 300000 /dev/urandom > /big\n"})
	e.must(e.builder("build", ctx)) // untagged: only the cache holds its layer
	before := len(storeBlobs(t, e))
	r := e.must(e.builder("prune"))
	if !strings.Contains(r.stdout, "1 cache entries") || len(storeBlobs(t, e)) >= before {
		t.Errorf("prune of an untagged build's cache:\n%s\n%d blobs before, %d after", r.stdout, before, len(storeBlobs(t, e)))
	}
	// 300 kB of random data, once as the (incompressible) blob and once as the layer dir.
	if !regexp.MustCompile(`reclaimed space: 6\d\d(\.\d+)?kB`).MatchString(r.stdout) {
		t.Errorf("prune should report about 600kB freed:\n%s", r.stdout)
	}
	// Tagged images survive any prune and still build from scratch afterwards.
	e.must(e.builder("build", "-t", "keep:1", ctx))
	e.must(e.builder("prune", "--all"))
	if root := e.unpack("keep:1"); root == "" {
		t.Fatal("a tagged image lost content to prune")
	}
	if r := e.must(e.builder("build", "-t", "keep:2", ctx)); strings.Contains(r.stderr, "CACHED") {
		t.Errorf("prune --all left cache entries:\n%s", r.stderr)
	}
}

// Two machines: the second, with an empty store, reuses what the first built, through a
// registry and through a directory.
func TestSharedCache(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	dir := t.TempDir()
	files := map[string]string{"Dockerfile": "FROM busybox\nCOPY f /f\nRUN echo STEP-RAN && cat /f > /g\n", "f": "content"}
	rootfs := testutil.BusyboxRootfs(t)
	first := newEnvFrom(t, rootfs)
	ctx := first.context(files)
	first.must(first.builder("build", "--cache-to", "type=registry,ref="+reg.Host+"/cache/app",
		"--cache-to", "type=local,dest="+dir, "-t", "app:1", ctx))
	for _, from := range []string{"type=registry,ref=" + reg.Host + "/cache/app", "type=local,src=" + dir} {
		second := newEnvFrom(t, rootfs)
		r := second.must(second.builder("build", "--cache-from", from, "-t", "app:1", second.context(files)))
		if c, ran := cachedCount(r.stderr); c != 2 || ran != 0 || regexp.MustCompile(`#\d+ [0-9.]+ STEP-RAN`).MatchString(r.stderr) {
			t.Errorf("--cache-from %s: %d cached, %d ran:\n%s", from, c, ran, r.stderr)
		}
		if got := readFile(t, filepath.Join(second.unpack("app:1"), "g")); got != "content" {
			t.Errorf("--cache-from %s: the image holds %q", from, got)
		}
	}
}

// A running container's image survives losing its tag and a prune --all.
func TestPruneKeepsWhatContainersUse(t *testing.T) {
	e := newEnv(t)
	e.must(e.build("svc:1", "FROM busybox\nRUN echo payload > /payload\n", nil))
	r := newRunnerEnvAt(t, e.root)
	id := strings.TrimSpace(r.mustRun("run", "-d", "svc:1", "sleep", "1000"))
	r.mustRun("rmi", "-f", "svc:1")
	e.must(e.builder("prune", "--all"))
	if out := r.mustRun("exec", id, "cat", "/payload"); out != "payload\n" {
		t.Errorf("exec after prune printed %q", out)
	}
	r.mustRun("rm", "-f", id)
	rep := e.must(e.builder("prune", "--all"))
	if !strings.Contains(rep.stdout, "layer dirs") || strings.Contains(rep.stdout, " 0 layer dirs") {
		t.Errorf("once the container is gone its image's layers should go:\n%s", rep.stdout)
	}
}
