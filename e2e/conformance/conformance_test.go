// Package conformance is the differential Dockerfile suite: every case under testdata/
// is built by our builder and by Debian's buildah (`buildah build --layers`) from the same
// busybox base, both images are exported (an OCI layout, a dir: copy), read with no code
// of ours, and compared: the flattened file tree (type, mode, owner, size, content,
// link target, hardlinks, xattrs; mtimes when the case asks), the config fields docker
// users rely on, and the number of layers.
//
// Where buildah departs from Docker's documented behaviour the case says so (differ:
// lines, with the reason); such a case passes only if the differences are exactly the
// declared ones. `make conformance` runs the suite and prints "N passed, M failed".
package conformance

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
)

// binDir holds bin/builder: $DOCKYARD_BIN (make sets it), or a fresh build.
var binDir string

var tally struct {
	sync.Mutex
	passed, failed []string
}

func TestMain(m *testing.M) {
	binDir = os.Getenv("DOCKYARD_BIN")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "dockyard-conformance-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "builder"), "./cmd/builder")
		cmd.Dir = filepath.Join("..", "..")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build builder:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		binDir = dir
	}
	code := m.Run()
	if os.Getenv("DOCKYARD_BIN") == "" {
		os.RemoveAll(binDir) // os.Exit skips deferred calls
	}
	if n := len(tally.passed) + len(tally.failed); n > 0 {
		sort.Strings(tally.failed)
		fmt.Printf("conformance: %d passed, %d failed\n", len(tally.passed), len(tally.failed))
		for _, f := range tally.failed {
			fmt.Printf("conformance: FAILED %s\n", f)
		}
	}
	os.Exit(code)
}

// suite is what every case shares: the base store with busybox and buildah's storage.
type suite struct {
	tmp     string
	base    string // a store holding only busybox:latest
	buildah *buildahEnv
}

func newSuite(t *testing.T) *suite {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "busybox")
	bin := testutil.RequireBinary(t, "buildah")
	for _, tool := range []string{"gzip", "bzip2", "xz", "zstd"} {
		testutil.RequireBinary(t, tool)
	}
	// Not t.TempDir: buildah names an image pulled from oci:PATH after PATH, and refuses
	// the capitals of the test's name.
	tmp, err := os.MkdirTemp("", "dockyard-conformance-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	s := &suite{tmp: tmp, base: filepath.Join(tmp, "base"), buildah: &buildahEnv{bin: bin, dir: filepath.Join(tmp, "buildah")}}
	rootfs := testutil.BusyboxRootfs(t)
	o := &ours{bin: filepath.Join(binDir, "builder"), store: s.base}
	if out, err := o.run(nil, "import", "-c", `CMD ["sh"]`, rootfs, "busybox:latest"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := s.buildah.importBase(o.layout()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	s := newSuite(t)
	dirs, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 60 {
		t.Errorf("%d cases; the suite needs at least 60", len(dirs))
	}
	for _, dir := range dirs {
		c, err := loadCase(dir)
		if err != nil {
			t.Error(err)
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ok := false
			defer func() { // also after t.Fatal
				tally.Lock()
				defer tally.Unlock()
				if ok && !t.Failed() {
					tally.passed = append(tally.passed, c.name)
				} else {
					tally.failed = append(tally.failed, c.name)
				}
			}()
			ok = s.run(t, c)
		})
	}
}

// run builds one case both ways and compares; it reports whether the case passed.
func (s *suite) run(t *testing.T, c *testCase) bool {
	work := filepath.Join(s.tmp, "cases", c.name)
	ctxDir := filepath.Join(work, "context")
	if err := makeContext(c, ctxDir); err != nil {
		t.Fatal(err)
	}
	args := append([]string(nil), c.args...)
	for _, sec := range c.secrets {
		args = append(args, "--secret", secretArg(c, sec))
	}
	env := append([]string(nil), c.env...)
	if c.epoch != "" {
		env = append(env, "SOURCE_DATE_EPOCH="+c.epoch)
	}
	if c.www {
		srv := serveWWW(filepath.Join(c.dir, "www"))
		defer srv.Close()
		args = append(args, "--build-arg", "WWW="+srv.URL)
	}
	o := &ours{bin: filepath.Join(binDir, "builder"), store: filepath.Join(work, "store")}
	if err := copyStore(s.base, o.store); err != nil {
		t.Fatal(err)
	}
	ourArgs := append(append([]string(nil), args...), c.ours...)
	if c.epoch != "" {
		ourArgs = append(ourArgs, "--reproducible")
	}
	bhArgs := append(append([]string(nil), args...), c.buildah...)
	if c.epoch != "" {
		bhArgs = append(bhArgs, "--timestamp", c.epoch)
	}
	for _, p := range c.parents {
		df := filepath.Join(c.dir, p[0])
		if out, err := o.build(p[1], df, ctxDir, "", ourArgs, env); err != nil {
			t.Fatalf("ours, parent %s: %v\n%s", p[1], err, out)
		}
		if out, err := s.buildah.build(p[1], df, ctxDir, "", bhArgs, env); err != nil {
			t.Fatalf("buildah, parent %s: %v\n%s", p[1], err, out)
		}
	}
	name := "conf-" + c.name
	df := filepath.Join(c.dir, "Dockerfile")
	if out, err := o.build(name, df, ctxDir, c.input, ourArgs, env); err != nil {
		t.Fatalf("ours: %v\n%s", err, out)
	}
	bdf := df
	if c.buildahDockerfile != "" {
		bdf = filepath.Join(c.dir, c.buildahDockerfile)
	}
	outDir := filepath.Join(work, "buildah-image")
	if out, err := s.buildah.build(name, bdf, ctxDir, outDir, bhArgs, env); err != nil {
		t.Fatalf("buildah: %v\n%s", err, out)
	}
	mine, err := readOCILayout(o.layout(), "docker.io/library/"+name+":latest")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := readDirTransport(outDir)
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := compare(c, mine, theirs)
	if err != nil {
		t.Fatal(err)
	}
	bad, stale := judge(c, diffs)
	for _, d := range bad {
		t.Errorf("differs: %s", d)
	}
	for _, what := range stale {
		t.Errorf("declared difference %q does not occur any more: remove it from case.txt", what)
	}
	os.RemoveAll(work) // keep the suite's disk use small
	return len(bad) == 0 && len(stale) == 0
}

// secretArg resolves src= of a case's secret against the case directory.
func secretArg(c *testCase, s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if v, ok := strings.CutPrefix(p, "src="); ok && !filepath.IsAbs(v) {
			parts[i] = "src=" + filepath.Join(c.dir, v)
		}
	}
	return strings.Join(parts, ",")
}

// wwwTime is the Last-Modified of every file the suite serves.
var wwwTime = time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)

// serveWWW serves dir on a loopback port with a fixed Last-Modified.
func serveWWW(dir string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := filepath.Join(dir, filepath.FromSlash(filepath.Clean("/"+r.URL.Path)))
		f, err := os.Open(p)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", wwwTime, f)
	}))
}

// copyStore gives a case a store of its own holding busybox, faster than importing.
func copyStore(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := exec.Command("cp", "-a", from, to).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
	return nil
}
