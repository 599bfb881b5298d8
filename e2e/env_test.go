package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/internal/testutil"
)

// env is one test's world: its own store with a busybox base image in it.
type env struct {
	t    *testing.T
	root string // the store
	dir  string // scratch for contexts and outputs
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "busybox")
	return newEnvFrom(t, testutil.BusyboxRootfs(t))
}

// newEnvFrom imports busybox from a given rootfs: envs made from one rootfs have the same
// base layer, as machines pulling one base image do.
func newEnvFrom(t *testing.T, rootfs string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, root: filepath.Join(dir, "store"), dir: dir}
	e.must(e.builder("import", "-c", `CMD ["sh"]`, rootfs, "busybox:latest"))
	return e
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// run runs one of our binaries against this env's store.
func (e *env) run(bin string, stdin string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, bin), append([]string{"--root", e.root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

func (e *env) builder(args ...string) result { e.t.Helper(); return e.run("builder", "", args...) }

func (e *env) must(r result) result {
	e.t.Helper()
	if r.code != 0 {
		e.t.Fatalf("command failed:\n%s", r)
	}
	return r
}

// context writes files into a new build context; "name" → content, a trailing "/" makes a
// dir, content "->target" makes a symlink.
func (e *env) context(files map[string]string) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.dir, "ctx-")
	if err != nil {
		e.t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			e.t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return dir
}

// build builds a Dockerfile text in a context and tags the result.
func (e *env) build(tag, dockerfile string, files map[string]string, args ...string) result {
	e.t.Helper()
	if files == nil {
		files = map[string]string{}
	}
	files["Dockerfile"] = dockerfile
	ctx := e.context(files)
	return e.builder(append(append([]string{"build", "-t", tag}, args...), ctx)...)
}

// unpack extracts a stored image with umoci (an independent reader) and returns its rootfs.
func (e *env) unpack(ref string) string {
	e.t.Helper()
	umoci := testutil.RequireBinary(e.t, "umoci")
	normal := ref
	if !strings.Contains(strings.Split(ref, "/")[0], ".") {
		normal = "docker.io/library/" + ref
	}
	bundle, err := os.MkdirTemp(e.dir, "bundle-")
	if err != nil {
		e.t.Fatal(err)
	}
	os.Remove(bundle)
	out, err := exec.Command(umoci, "unpack", "--image", filepath.Join(e.root, "oci")+":"+normal, bundle).CombinedOutput()
	if err != nil {
		e.t.Fatalf("umoci unpack %s: %v\n%s", ref, err, out)
	}
	return filepath.Join(bundle, "rootfs")
}

// config reads a stored image's config with skopeo (an independent reader). The raw blob:
// skopeo's parsed view drops the Docker fields (Shell, Healthcheck, OnBuild) that
// BuildKit and we keep in OCI configs.
func (e *env) config(ref string) *v1.ConfigFile {
	e.t.Helper()
	skopeo := testutil.RequireBinary(e.t, "skopeo")
	normal := ref
	if !strings.Contains(strings.Split(ref, "/")[0], ".") {
		normal = "docker.io/library/" + ref
	}
	out, err := exec.Command(skopeo, "inspect", "--raw", "--config", "oci:"+filepath.Join(e.root, "oci")+":"+normal).Output()
	if err != nil {
		e.t.Fatalf("skopeo inspect --config %s: %v", ref, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(out))
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
