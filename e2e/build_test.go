package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBuildConfigInstructions(t *testing.T) {
	e := newEnv(t)
	e.must(e.build("conf:1", `# syntax=docker/dockerfile:1
FROM busybox
MAINTAINER someone@example.com
LABEL a=1 "b c"="d e"
ENV A=1 B="two words"
ENV C=$A-\$A
ARG D=dflt
EXPOSE 80 8000-8001/udp
VOLUME ["/data", "/cache"]
USER 1000:1000
STOPSIGNAL SIGQUIT
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
ONBUILD RUN echo child
ENTRYPOINT ["/bin/echo"]
CMD hi $A
`, nil))
	cfg := e.config("conf:1")
	c := cfg.Config
	if cfg.Author != "someone@example.com" {
		t.Errorf("Author = %q", cfg.Author)
	}
	want := map[string]any{
		"Labels":       map[string]string{"a": "1", "b c": "d e"},
		"Env":          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1", "B=two words", "C=1-$A"},
		"ExposedPorts": map[string]struct{}{"80/tcp": {}, "8000/udp": {}, "8001/udp": {}},
		"Volumes":      map[string]struct{}{"/data": {}, "/cache": {}},
		"User":         "1000:1000",
		"StopSignal":   "SIGQUIT",
		"Shell":        []string{"/bin/sh", "-ec"},
		"OnBuild":      []string{"RUN echo child"},
		"Entrypoint":   []string{"/bin/echo"},
		"Cmd":          []string{"/bin/sh", "-ec", "hi $A"},
	}
	got := map[string]any{
		"Labels": c.Labels, "Env": c.Env, "ExposedPorts": c.ExposedPorts, "Volumes": c.Volumes, "User": c.User,
		"StopSignal": c.StopSignal, "Shell": c.Shell, "OnBuild": c.OnBuild, "Entrypoint": c.Entrypoint, "Cmd": c.Cmd,
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if h := c.Healthcheck; h == nil || h.Interval != 5*time.Second || h.Timeout != 2*time.Second || h.Retries != 4 ||
		!reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"}) {
		t.Errorf("Healthcheck = %+v", h)
	}
	// Config-only steps add history entries without layers: the image is busybox's one layer.
	if n := len(cfg.RootFS.DiffIDs); n != 1 {
		t.Errorf("%d layers, want 1 (config-only instructions make no layer)", n)
	}
	empty := 0
	for _, h := range cfg.History {
		if h.EmptyLayer {
			empty++
		}
	}
	// One per instruction after FROM, but ONBUILD, which BuildKit does not record.
	if empty != 13 {
		t.Errorf("%d empty-layer history entries, want 13: %+v", empty, cfg.History)
	}

	// The ONBUILD trigger runs in a child build, first thing after its FROM.
	r := e.must(e.build("child:1", "FROM conf:1\nRUN true\n", nil))
	if !strings.Contains(r.stderr, "child") {
		t.Errorf("the ONBUILD trigger did not run in the child build:\n%s", r.stderr)
	}
	if got := e.config("child:1").Config.OnBuild; len(got) != 0 {
		t.Errorf("the child image kept the parent's triggers: %v", got)
	}
}

func TestRunSeesUserWorkdirEnvAndArgs(t *testing.T) {
	e := newEnv(t)
	e.must(e.build("ctx:1", `ARG BASE=busybox
FROM $BASE
ARG GREETING=hello
ENV WHO=world
WORKDIR /work
WORKDIR sub
RUN echo "$GREETING $WHO" > /tmp/msg && pwd > /tmp/pwd && hostname > /tmp/host && cat /etc/hosts > /tmp/hosts
USER www-data
RUN id > /tmp/id-www 2>&1; touch /tmp/by-www
USER root
RUN ls -ln / | grep ' work$' > /tmp/work-owner
RUN grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status > /tmp/confinement
`, nil, "--build-arg", "GREETING=hi"))
	root := e.unpack("ctx:1")
	for file, want := range map[string]string{
		"tmp/msg": "hi world\n", "tmp/pwd": "/work/sub\n", "tmp/host": "dockyard\n",
		// Docker's seccomp filter, as BuildKit's RUN has; setuid programs keep working.
		"tmp/confinement": "NoNewPrivs:\t0\nSeccomp:\t2\n",
	} {
		if got := readFile(t, filepath.Join(root, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := readFile(t, filepath.Join(root, "tmp/id-www")); !strings.Contains(got, "uid=33(www-data) gid=33(www-data)") {
		t.Errorf("USER www-data: id printed %q", got)
	}
	fi, err := os.Lstat(filepath.Join(root, "tmp/by-www"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 33 || st.Gid != 33 {
		t.Errorf("a file touched as www-data is owned by %d:%d", st.Uid, st.Gid)
	}
	// The host's /etc/hosts, and the step's own name.
	hosts := readFile(t, filepath.Join(root, "tmp/hosts"))
	hostHosts, _ := os.ReadFile("/etc/hosts")
	if !strings.HasPrefix(hosts, string(hostHosts)) || !strings.Contains(hosts, "127.0.0.1\tlocalhost dockyard") {
		t.Errorf("RUN's /etc/hosts:\n%s\nwant the host's then the step's name", hosts)
	}
	// The mount targets of RUN (/etc/hosts, /etc/resolv.conf, /etc/hostname) are never
	// left in the image.
	for _, p := range []string{"etc/hosts", "etc/resolv.conf", "etc/hostname"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("/%s leaked into the image", p)
		}
	}
}

func TestMultiStageTargetAndCopyFrom(t *testing.T) {
	e := newEnv(t)
	df := `FROM busybox AS build
RUN mkdir -p /out && echo built > /out/artifact && chown 1234:5678 /out/artifact
FROM busybox AS unused
RUN echo UNUSED-STAGE-RAN
FROM busybox
COPY --from=build /out/artifact /app/
COPY --from=0 /out /copied
RUN echo FINAL-STAGE-RAN
`
	r := e.must(e.build("multi:1", df, nil))
	if strings.Contains(r.stderr, "UNUSED-STAGE-RAN") {
		t.Error("a stage the target does not need was built")
	}
	root := e.unpack("multi:1")
	if got := readFile(t, filepath.Join(root, "app/artifact")); got != "built\n" {
		t.Errorf("app/artifact = %q", got)
	}
	fi, err := os.Stat(filepath.Join(root, "copied/artifact"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("COPY --from lost ownership: %d:%d", st.Uid, st.Gid)
	}
	r = e.must(e.build("multi:build", df, nil, "--target", "build"))
	if strings.Contains(r.stderr, "FINAL-STAGE-RAN") {
		t.Error("--target build ran the final stage")
	}
	if _, err := os.Stat(filepath.Join(e.unpack("multi:build"), "out/artifact")); err != nil {
		t.Errorf("--target build: %v", err)
	}
	r = e.build("multi:x", df, nil, "--target", "nosuch")
	if r.code == 0 || !strings.Contains(r.stderr, `"nosuch"`) {
		t.Errorf("unknown --target: %s", r)
	}
}

func TestDeletionsAndReplacedDirs(t *testing.T) {
	e := newEnv(t)
	e.must(e.build("del:1", `FROM busybox
RUN mkdir -p /d/keep /d/sub && echo 1 > /d/sub/a && echo 2 > /d/old
RUN rm /bin/vi && rm -rf /d && mkdir /d && echo new > /d/only
`, nil))
	root := e.unpack("del:1")
	if _, err := os.Lstat(filepath.Join(root, "bin/vi")); !os.IsNotExist(err) {
		t.Errorf("a file deleted in a later layer is still there: %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "only" {
		t.Errorf("the replaced dir holds %v, want only [only]", entries)
	}
	names := layerEntries(t, e, "del:1", -1)
	for _, want := range []string{"bin/.wh.vi", "d/.wh..wh..opq", "d/only"} {
		if !names[want] {
			t.Errorf("the last layer has no %s entry; it has %v", want, keys(names))
		}
	}
}

func TestDockerignore(t *testing.T) {
	e := newEnv(t)
	e.must(e.build("ign:1", "FROM busybox\nCOPY . /ctx/\n", map[string]string{
		".dockerignore":  "*.log\nsecret/\n!keep.log\n**/*.tmp\n",
		"app.go":         "package main",
		"debug.log":      "no",
		"keep.log":       "yes",
		"secret/key":     "no",
		"deep/a/b/c.tmp": "no",
		"deep/a/b/c.txt": "yes",
	}))
	root := e.unpack("ign:1")
	for p, want := range map[string]bool{
		"ctx/app.go": true, "ctx/keep.log": true, "ctx/deep/a/b/c.txt": true, "ctx/Dockerfile": true, "ctx/.dockerignore": true,
		"ctx/debug.log": false, "ctx/secret": false, "ctx/deep/a/b/c.tmp": false,
	} {
		_, err := os.Lstat(filepath.Join(root, p))
		if got := err == nil; got != want {
			t.Errorf("%s present = %v, want %v", p, got, want)
		}
	}
	r := e.build("ign:2", "FROM busybox\nCOPY debug.log /\n", map[string]string{".dockerignore": "*.log\n", "debug.log": "x"})
	if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2") || !strings.Contains(r.stderr, "debug.log") {
		t.Errorf("COPY of an ignored file:\n%s", r)
	}
}

func TestFailuresNameTheLine(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, dockerfile string
		files            map[string]string
		want             []string
	}{
		{"failing RUN", "FROM busybox\nRUN echo about to fail\nRUN echo OUTPUT-BEFORE-EXIT; exit 3\n", nil,
			[]string{"Dockerfile:3", "3/3", "exit code: 3", "OUTPUT-BEFORE-EXIT"}},
		{"unknown instruction", "FROM busybox\nFOOBAR baz\n", nil, []string{"Dockerfile:2", "unknown instruction", "FOOBAR"}},
		{"missing COPY source", "FROM busybox\n\nCOPY nope.txt /\n", nil, []string{"Dockerfile:3", "nope.txt", "not found"}},
		{"COPY out of the context", "FROM busybox\nCOPY ../etc/passwd /\n", nil, []string{"Dockerfile:2", "outside the build context"}},
		{"missing base image", "FROM nosuchimage:1\n", nil, []string{"Dockerfile:1", "docker.io/library/nosuchimage:1"}},
		{"unreachable registry", "FROM 127.0.0.1:1/nosuch:1\n", nil, []string{"Dockerfile:1", "127.0.0.1:1"}},
		{"command not found", "FROM busybox\nRUN [\"/no/such/binary\"]\n", nil, []string{"Dockerfile:2", "/no/such/binary"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := storeBlobs(t, e)
			// Tests never reach out to docker.io: a base image missing here stays missing.
			args := []string{"--retries", "0"}
			if !strings.Contains(tc.dockerfile, "127.0.0.1") {
				args = append(args, "--pull=never")
			}
			r := e.build("fail:1", tc.dockerfile, tc.files, args...)
			if r.code == 0 {
				t.Fatalf("the build succeeded:\n%s", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if r := e.run("builder", "", "import", "--help"); r.code != 0 {
				t.Fatal(r)
			}
			assertNoLeftovers(t, e)
			if after := storeBlobs(t, e); len(after) > len(before)+1 {
				// A RUN that completed before the failing one may leave its layer (it is
				// reusable); the failing step itself must leave nothing.
				t.Errorf("the failed build left %d new blobs", len(after)-len(before))
			}
		})
	}
}

func TestContextSymlinksStayInside(t *testing.T) {
	e := newEnv(t)
	files := map[string]string{
		"abs":         "->/etc/passwd",
		"dir/rel-out": "->../../../../../etc/shadow",
		"dir/file":    "f",
	}
	r := e.build("sym:1", "FROM busybox\nCOPY abs /x\n", files)
	if r.code == 0 {
		t.Fatal("COPY of a symlink to /etc/passwd copied something")
	}
	e.must(e.build("sym:2", "FROM busybox\nCOPY dir /d/\n", files))
	root := e.unpack("sym:2")
	target, err := os.Readlink(filepath.Join(root, "d/rel-out"))
	if err != nil || target != "../../../../../etc/shadow" {
		t.Errorf("a symlink inside a copied dir should be copied as a link: %q %v", target, err)
	}
}

// Ctrl-C in the middle of a RUN: the build stops at once and leaves nothing behind.
func TestInterruptLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := e.context(map[string]string{"Dockerfile": "FROM busybox\nRUN echo STEP-STARTED; sleep 1000\n"})
	cmd := exec.Command(filepath.Join(binDir, "builder"), "--root", e.root, "build", "-t", "int:1", ctx)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(out.String(), "STEP-STARTED") })
	before := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("builder exited %d (%v) after SIGINT, want 130:\n%s", code, err, out.String())
	}
	if took := time.Since(before); took > 10*time.Second {
		t.Errorf("the build took %v to stop", took)
	}
	if sleeping := processesMatching(t, "sleep 1000"); len(sleeping) > 0 {
		t.Errorf("the RUN's process survived the interrupt: %v", sleeping)
	}
	assertNoLeftovers(t, e)
	if recs := e.builder("build", "-q", "-t", "int:2", e.context(map[string]string{"Dockerfile": "FROM busybox\nRUN true\n"})); recs.code != 0 {
		t.Errorf("the store is unusable after the interrupt:\n%s", recs)
	}
}

func TestReproducibleBuilds(t *testing.T) {
	e := newEnv(t)
	files := map[string]string{"Dockerfile": "FROM busybox\nCOPY . /src/\nRUN echo built > /built && touch /x\nENV A=1\n", "f": "data"}
	var digests []string
	for i := 0; i < 2; i++ {
		ctx := e.context(files) // fresh files each time: new mtimes, as a fresh checkout
		idfile := filepath.Join(e.dir, "id")
		cmd := exec.Command(filepath.Join(binDir, "builder"), "--root", e.root, "build", "--no-cache", "--iidfile", idfile,
			"-t", "repro:1", "--output", "type=oci,dest="+filepath.Join(e.dir, "out.tar"), ctx)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		digests = append(digests, readFile(t, idfile))
		time.Sleep(1100 * time.Millisecond) // a different wall clock for the second build
	}
	if digests[0] != digests[1] {
		t.Errorf("two SOURCE_DATE_EPOCH builds of the same inputs gave %s and %s", digests[0], digests[1])
	}
	cfg := e.config("repro:1")
	if got := cfg.Created.Unix(); got != 1700000000 {
		t.Errorf("created = %v, want the epoch", cfg.Created)
	}
}

// Docker stops at 125 layers; overlay stacks up to 500, and the new mount API takes them
// one at a time, so a long Dockerfile is no problem.
func TestManyLayers(t *testing.T) {
	e := newEnv(t)
	var df strings.Builder
	df.WriteString("FROM busybox\n")
	for i := 0; i < 130; i++ {
		fmt.Fprintf(&df, "RUN echo %d > /layer-%03d\n", i, i)
	}
	df.WriteString("RUN ls / | grep -c '^layer-' > /count\n")
	e.must(e.build("many:1", df.String(), nil))
	if got := readFile(t, filepath.Join(e.unpack("many:1"), "count")); got != "130\n" {
		t.Errorf("the last step saw %q layer files, want 130", got)
	}
	if n := len(e.config("many:1").RootFS.DiffIDs); n != 132 {
		t.Errorf("%d layers, want 132", n)
	}
}

func TestAddExtractsLocalArchives(t *testing.T) {
	e := newEnv(t)
	src := e.context(map[string]string{"pkg/bin/tool": "TOOL", "pkg/README": "read me"})
	archive := filepath.Join(e.dir, "pkg.tar.gz")
	if out, err := exec.Command("tar", "-C", src, "-czf", archive, "pkg").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	e.must(e.build("add:1", "FROM busybox\nADD pkg.tar.gz /opt/\nCOPY pkg.tar.gz /copied/\n", map[string]string{"pkg.tar.gz": string(data)}))
	root := e.unpack("add:1")
	if got := readFile(t, filepath.Join(root, "opt/pkg/bin/tool")); got != "TOOL" {
		t.Errorf("ADD did not extract the archive: %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "copied/pkg.tar.gz")); err != nil {
		t.Errorf("COPY must not extract: %v", err)
	}
}

func TestRunNetworkNone(t *testing.T) {
	e := newEnv(t)
	e.must(e.build("net:1", "FROM busybox\nRUN --network=none cat /proc/net/dev > /none\nRUN cat /proc/net/dev > /default\n", nil))
	root := e.unpack("net:1")
	none := readFile(t, filepath.Join(root, "none"))
	if strings.Count(none, ":") != 1 || !strings.Contains(none, "lo:") {
		t.Errorf("RUN --network=none sees interfaces other than lo:\n%s", none)
	}
	if def := readFile(t, filepath.Join(root, "default")); strings.Count(def, ":") < 2 {
		t.Errorf("a default RUN (host network) sees only:\n%s", def)
	}
}
