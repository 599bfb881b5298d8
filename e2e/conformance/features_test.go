package conformance

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// What buildah cannot judge: state kept between builds, what must never be stored, and
// the errors docker users expect. These drive bin/builder too.

// featureStore is a fresh store with busybox, and a scratch dir for contexts.
func featureStore(t *testing.T) (*ours, string) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "busybox")
	dir := t.TempDir()
	o := &ours{bin: filepath.Join(binDir, "builder"), store: filepath.Join(dir, "store")}
	if out, err := o.run(nil, "import", "-c", `CMD ["sh"]`, testutil.BusyboxRootfs(t), "busybox:latest"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return o, dir
}

// buildText builds a Dockerfile in a new context holding files.
func buildText(t *testing.T, o *ours, dir, tag, dockerfile string, files map[string]string, args ...string) (string, error) {
	t.Helper()
	ctx, err := os.MkdirTemp(dir, "ctx-")
	if err != nil {
		t.Fatal(err)
	}
	files["Dockerfile"] = dockerfile
	for name, body := range files {
		p := filepath.Join(ctx, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	full := append([]string{"build", "--progress", "plain", "-t", tag}, args...)
	return o.run(nil, append(full, ctx)...)
}

func mustBuild(t *testing.T, o *ours, dir, tag, dockerfile string, files map[string]string, args ...string) {
	t.Helper()
	if out, err := buildText(t, o, dir, tag, dockerfile, files, args...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func imageTree(t *testing.T, o *ours, tag string) tree {
	t.Helper()
	img, err := readOCILayout(o.layout(), "docker.io/library/"+tag+":latest")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := flatten(img.layers)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestCacheMountPersistsAcrossBuilds(t *testing.T) {
	o, dir := featureStore(t)
	mustBuild(t, o, dir, "c1", "FROM busybox\nRUN --mount=type=cache,target=/c echo a >> /c/log\n", map[string]string{})
	mustBuild(t, o, dir, "c2", "FROM busybox\nRUN --mount=type=cache,target=/c echo b >> /c/log\n", map[string]string{})
	mustBuild(t, o, dir, "c3", "FROM busybox\nRUN --mount=type=cache,target=/c,id=/c cp /c/log /seen\n", map[string]string{})
	tr := imageTree(t, o, "c3")
	if e := tr["/seen"]; e == nil || e.Size != 4 {
		t.Errorf("/seen = %s; want the 4 bytes two earlier builds left in the cache", e.describe(false))
	}
	for _, tag := range []string{"c1", "c2", "c3"} {
		if e := imageTree(t, o, tag)["/c"]; e != nil {
			t.Errorf("%s: the cache mount target is in the image: %s", tag, e.describe(false))
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(o.store, "cache-mounts")); len(entries) == 0 {
		t.Error("no cache directory under <store>/cache-mounts")
	}
}

func TestSecretIsNeverStored(t *testing.T) {
	o, dir := featureStore(t)
	const value = "s3cr3t-Value-0451"
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	df := `FROM busybox
RUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok)" = ` + value + `
RUN --mount=type=secret,id=tok,env=TOK test "$TOK" = ` + value[:6] + `"${TOK#` + value[:6] + `}"
RUN --mount=type=secret,id=tok,target=/etc/app/key ls -l /etc/app/key > /listing
`
	// The value appears in the Dockerfile only as a test, which history does record; build
	// a second image whose Dockerfile never names it.
	mustBuild(t, o, dir, "sec", df, map[string]string{}, "--secret", "id=tok,src="+secret)
	clean := "FROM busybox\nRUN --mount=type=secret,id=tok,env=TOK test -n \"$TOK\"\n" +
		"RUN --mount=type=secret,id=tok cp /run/secrets/tok /tmp/copy && rm /tmp/copy\n"
	cleanStore := &ours{bin: o.bin, store: filepath.Join(dir, "clean")}
	if out, err := cleanStore.run(nil, "import", "-c", `CMD ["sh"]`, testutil.BusyboxRootfs(t), "busybox:latest"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustBuild(t, cleanStore, dir, "clean", clean, map[string]string{}, "--secret", "id=tok,src="+secret)
	tr := imageTree(t, o, "sec")
	if tr["/etc/app/key"] != nil || tr["/run/secrets/tok"] != nil || tr["/run/secrets"] != nil {
		t.Error("a secret mount target is in the image")
	}
	if e := tr["/listing"]; e == nil || e.Size == 0 {
		t.Error("the secret file was not mounted")
	}
	// Every file of the store, decompressed where it is gzip: layers, configs (history
	// included), manifests, cache records.
	err := filepath.WalkDir(cleanStore.store, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				data = plain
			}
		}
		if bytes.Contains(data, []byte(value)) {
			t.Errorf("the secret is stored in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunMountErrors(t *testing.T) {
	o, dir := featureStore(t)
	for _, tc := range []struct{ df, want string }{
		{"FROM busybox\nRUN --mount=type=secret,id=nope,required=true true\n", "secret nope: not provided"},
		{"FROM busybox\nRUN --mount=type=bind,source=missing,target=/m true\n", "missing"},
		{"FROM busybox\nRUN --mount=type=bind,from=nosuchstage,target=/m true\n", "nosuchstage"},
		{"FROM busybox\nRUN --mount=type=ssh true\n", "ssh mounts are not supported"},
		{"FROM busybox\nRUN --mount=type=cache true\n", "target is required"},
	} {
		out, err := buildText(t, o, dir, "bad", tc.df, map[string]string{})
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%q: err %v, output:\n%s\nwant an error naming %q", tc.df, err, out, tc.want)
		}
	}
}

func TestBindMountWritesAreDiscarded(t *testing.T) {
	o, dir := featureStore(t)
	ctx := filepath.Join(dir, "ctx-rw")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "a.txt"), []byte("original\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/a.txt && rm /ctx/Dockerfile && cat /ctx/a.txt > /inside\n"), 0o644)
	if out, err := o.run(nil, "build", "-t", "rw", ctx); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ctx, "a.txt")); string(b) != "original\n" {
		t.Errorf("the context file became %q", b)
	}
	if _, err := os.Stat(filepath.Join(ctx, "Dockerfile")); err != nil {
		t.Errorf("the step removed a context file: %v", err)
	}
	if e := imageTree(t, o, "rw")["/inside"]; e == nil || e.Size != int64(len("changed\n")) {
		t.Errorf("the step did not see its own write: %s", e.describe(false))
	}
}

func TestAddRemoteErrors(t *testing.T) {
	o, dir := featureStore(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "payload") }))
	defer srv.Close()
	for _, tc := range []struct{ df, want string }{
		{"FROM busybox\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 " + srv.URL + "/f /f\n", "digest mismatch"},
		{"FROM busybox\nADD https://git.invalid/repo.git /src\n", "git sources are not supported"},
		{"FROM busybox\nADD --keep-git-dir=true https://git.invalid/repo.git /src\n", "not supported"},
		{"FROM busybox\nCOPY " + srv.URL + "/f /f\n", "can't be a URL for COPY"},
		{"FROM busybox\nADD --checksum=sha256:00 a.txt /a\n", "requires HTTP(S) or Git sources"},
	} {
		out, err := buildText(t, o, dir, "bad", tc.df, map[string]string{"a.txt": "A"})
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%q: err %v, output:\n%s\nwant an error naming %q", tc.df, err, out, tc.want)
		}
	}
}

func TestDockerfileInputs(t *testing.T) {
	o, dir := featureStore(t)
	// A bare Dockerfile on stdin: no context at all.
	cmd := exec.Command(o.bin, "--root", o.store, "build", "-t", "bare", "-")
	cmd.Stdin = strings.NewReader("FROM busybox\nRUN echo bare > /bare\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build - < Dockerfile: %v\n%s", err, out)
	}
	if imageTree(t, o, "bare")["/bare"] == nil {
		t.Error("the Dockerfile from stdin did not run")
	}
	cmd = exec.Command(o.bin, "--root", o.store, "build", "-t", "bare2", "-")
	cmd.Stdin = strings.NewReader("FROM busybox\nCOPY x /x\n")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not found") {
		t.Errorf("COPY with no context: %v\n%s", err, out)
	}
	// "dockerfile" is found when "Dockerfile" is not.
	ctx := filepath.Join(dir, "lower")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "dockerfile"), []byte("FROM busybox\nRUN echo lower > /lower\n"), 0o644)
	if out, err := o.run(nil, "build", "-t", "lower", ctx); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if imageTree(t, o, "lower")["/lower"] == nil {
		t.Error("the lowercase dockerfile did not run")
	}
}
