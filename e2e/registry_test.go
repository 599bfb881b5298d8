package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/internal/testutil"
)

// skopeoInspect reads an image from a registry with an independent client.
func skopeoInspect(t *testing.T, args ...string) string {
	t.Helper()
	skopeo := testutil.RequireBinary(t, "skopeo")
	out, err := exec.Command(skopeo, append([]string{"inspect"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestPushPullThroughAPlainRegistry(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	app := reg.Host + "/team/app"
	digestFile := filepath.Join(e.dir, "digest")
	e.must(e.build(app+":1.4", "FROM busybox\nRUN echo v1.4 > /version\nCMD [\"cat\", \"/version\"]\n", nil,
		"-t", app+":latest", "--push", "--digest-file", digestFile))
	digest := strings.TrimSpace(readFile(t, digestFile))
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("digest file holds %q", digest)
	}
	for _, tag := range []string{"1.4", "latest"} {
		if raw := skopeoInspect(t, "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+app+":"+tag); strings.TrimSpace(raw) != digest {
			t.Errorf("skopeo sees %s:%s at %s, the digest file says %s", app, tag, raw, digest)
		}
	}
	if raw := skopeoInspect(t, "--tls-verify=false", "--raw", "docker://"+app+":1.4"); !strings.Contains(raw, "application/vnd.oci.image.manifest.v1+json") {
		t.Errorf("the pushed manifest is not OCI:\n%s", raw)
	}

	// Pushing again, or under a new tag, uploads no blob.
	uploads := reg.BlobUploads()
	e.must(e.builder("push", app+":1.4"))
	e.must(e.builder("push", app+":1.4", app+":copy"))
	if n := reg.BlobUploads() - uploads; n != 0 {
		t.Errorf("a re-push uploaded %d blobs, want 0", n)
	}

	// A second, empty store pulls the image for FROM, then works without the registry.
	other := newEnv(t)
	r := other.must(other.build("child:1", "FROM "+app+":1.4\nRUN cat /version\n", nil))
	if !strings.Contains(r.stderr, "v1.4") {
		t.Errorf("the child build did not see the pulled image's files:\n%s", r.stderr)
	}
	reg.Close()
	other.must(other.build("child:2", "FROM "+app+":1.4\nRUN cat /version\n", nil))
	if r := other.build("child:3", "FROM "+app+":1.4\n", nil, "--pull=always"); r.code == 0 {
		t.Error("--pull=always succeeded with the registry gone")
	}
}

func TestDockerFormatAndTarballs(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/fmt/app:1"
	tarball := filepath.Join(e.dir, "app.tar")
	e.must(e.build(ref, "FROM busybox\nENV X=1\n", nil, "--push", "--format", "docker", "--output", "type=docker,dest="+tarball))
	if raw := skopeoInspect(t, "--tls-verify=false", "--raw", "docker://"+ref); !strings.Contains(raw, "application/vnd.docker.distribution.manifest.v2+json") {
		t.Errorf("--format docker pushed:\n%s", raw)
	}
	if out := skopeoInspect(t, "docker-archive:"+tarball); !strings.Contains(out, `"X=1"`) {
		t.Errorf("skopeo cannot read the docker tarball as expected:\n%s", out)
	}
	layoutTar := filepath.Join(e.dir, "oci.tar")
	layoutDir := filepath.Join(e.dir, "oci-dir")
	e.must(e.build("local:1", "FROM busybox\nENV Y=2\n", nil, "--output", "type=oci,dest="+layoutTar, "--output", "type=oci,dest="+layoutDir+",tar=false"))
	if out := skopeoInspect(t, "oci-archive:"+layoutTar+":1"); !strings.Contains(out, `"Y=2"`) {
		t.Errorf("oci-archive output:\n%s", out)
	}
	if out := skopeoInspect(t, "oci:"+layoutDir+":1"); !strings.Contains(out, `"Y=2"`) {
		t.Errorf("oci layout output:\n%s", out)
	}
}

func TestLoginAndTLS(t *testing.T) {
	const password = "s3cret-Pa55"
	e := newEnv(t)
	reg := registrytest.Start(t, registrytest.Options{TLS: true, Users: map[string]string{"ci": password}})
	config := filepath.Join(e.dir, "docker-config")
	t.Setenv("DOCKER_CONFIG", config)
	ref := reg.Host + "/secure/app:1"
	e.must(e.build("app:1", "FROM busybox\nRUN true\n", nil))

	r := e.builder("push", "--ca-file", reg.CAFile, "app:1", ref)
	if r.code == 0 || !strings.Contains(r.stderr, "builder login") || !strings.Contains(r.stderr, reg.Host) {
		t.Errorf("push without credentials:\n%s", r)
	}
	r = e.run("builder", "wrong-password\n", "login", "--ca-file", reg.CAFile, "-u", "ci", "--password-stdin", reg.Host)
	if r.code == 0 {
		t.Error("login with a wrong password succeeded")
	}
	if _, err := os.Stat(filepath.Join(config, "config.json")); err == nil {
		t.Error("a failed login wrote the docker config")
	}
	r = e.run("builder", "", "push", "app:1", ref)
	if r.code == 0 || !strings.Contains(strings.ToLower(r.stderr), "certificate") {
		t.Errorf("push to a TLS registry with an unknown CA:\n%s", r)
	}
	out := e.must(e.run("builder", password+"\n", "login", "--ca-file", reg.CAFile, "-u", "ci", "--password-stdin", reg.Host))
	e.must(e.builder("push", "--ca-file", reg.CAFile, "app:1", ref))
	if got := skopeoInspect(t, "--cert-dir", reg.CertDir, "--creds", "ci:"+password, "--format", "{{.Digest}}", "docker://"+ref); !strings.HasPrefix(got, "sha256:") {
		t.Errorf("skopeo over TLS with credentials: %q", got)
	}
	e.must(e.builder("logout", reg.Host))
	if r := e.builder("push", "--ca-file", reg.CAFile, "app:1", ref); r.code == 0 {
		t.Error("push after logout succeeded")
	}
	for _, text := range []string{out.stdout, out.stderr, r.stdout, r.stderr} {
		if strings.Contains(text, password) {
			t.Fatalf("the password was printed:\n%s", text)
		}
	}
}

func TestPushRetriesThroughFaults(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewFaultProxy(t, reg.Host,
		registrytest.Fault{Method: "PUT", Path: "/blobs/uploads/", Count: 2, Drop: true},
		registrytest.Fault{Method: "PATCH", Count: 1, Status: 503},
		registrytest.Fault{Method: "PUT", Path: "/manifests/", Count: 1, Status: 500})
	e.must(e.build("faulty:1", "FROM busybox\nRUN head -c 100000 /dev/urandom > /blob\n", nil))
	ref := proxy.Host + "/faulty/app:1"
	e.must(e.builder("push", "--retries", "5", "faulty:1", ref))
	if proxy.Injected() == 0 {
		t.Fatal("the proxy injected no fault")
	}
	if got := skopeoInspect(t, "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+reg.Host+"/faulty/app:1"); !strings.HasPrefix(got, "sha256:") {
		t.Errorf("the image is not in the registry after the retried push: %q", got)
	}
}

func TestZstdLayers(t *testing.T) {
	rootfs := testutil.BusyboxRootfs(t)
	e := newEnvFrom(t, rootfs)
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/zstd/app:1"
	e.must(e.build(ref, "FROM busybox\nRUN echo zstd > /z\n", nil, "--compression", "zstd", "--push"))
	if raw := skopeoInspect(t, "--tls-verify=false", "--raw", "docker://"+ref); !strings.Contains(raw, "application/vnd.oci.image.layer.v1.tar+zstd") {
		t.Errorf("--compression zstd pushed no zstd layer:\n%s", raw)
	}
	other := newEnvFrom(t, rootfs)
	if r := other.must(other.build("child:1", "FROM "+ref+"\nRUN cat /z\n", nil)); !strings.Contains(r.stderr, "zstd") {
		t.Errorf("a build on the pulled zstd image did not see its files:\n%s", r.stderr)
	}
}

// The seed's flow: push from one machine, runner pull on another, run it.
func TestRunnerPullAndRun(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/demo/hello:1"
	e.must(e.build(ref, "FROM busybox\nRUN echo pulled-and-ran > /msg\nCMD [\"cat\", \"/msg\"]\n", nil, "--push"))
	r := newRunnerEnv(t)
	r.mustRun("pull", ref)
	if out := r.mustRun("images"); !strings.Contains(out, reg.Host+"/demo/hello") {
		t.Errorf("runner images after pull:\n%s", out)
	}
	if out := r.mustRun("run", "--rm", ref); out != "pulled-and-ran\n" {
		t.Errorf("runner run printed %q", out)
	}
}
