package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// registry is the loopback test registry (hack/registry: distribution in-process), with
// a request log the bench reads to count the blobs each push really uploaded.
type registry struct {
	addr, log string
	cmd       *exec.Cmd
}

func (e *env) startRegistry(ctx context.Context) (*registry, error) {
	bin := filepath.Join(e.scratch, "registry")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hack/registry")
	build.Dir = e.repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build hack/registry: %w\n%s", err, out)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &registry{addr: addr, log: filepath.Join(e.scratch, "registry.log")}
	logf, err := os.Create(r.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r.cmd = exec.Command(bin, "-addr", addr, "-dir", filepath.Join(e.scratch, "registry-data"), "-v")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			e.registry = addr
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	return nil, fmt.Errorf("registry on %s did not answer", addr)
}

func (r *registry) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(os.Interrupt)
		r.cmd.Wait()
	}
}

// freePort returns a loopback address nothing listens on right now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// A committed blob upload: the final PUT of an upload session, answered 201.
var uploadLine = regexp.MustCompile(`http\.request\.method=PUT .*http\.request\.uri="?/v2/\S+/blobs/uploads/\S* .*http\.response\.status=201`)

// uploads counts the blob uploads the registry logged after offset, and returns the new end.
func (r *registry) uploads(offset int64) (int, int64) {
	f, err := os.Open(r.log)
	if err != nil {
		return -1, offset
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return -1, offset
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if uploadLine.Match(sc.Bytes()) {
			n++
		}
	}
	end, _ := f.Seek(0, 1)
	return n, end
}

func (r *registry) size() int64 {
	st, err := os.Stat(r.log)
	if err != nil {
		return 0
	}
	return st.Size()
}

// pushBench pushes the ~200 MB big-context image: ours from our store, skopeo from the
// OCI layout our build wrote (the same blobs: it measures transport alone), buildah from
// its own build of the same context; each to a new repository, then again.
func (e *env) pushBench(reg *registry, big *buildCase, uploads map[string][]int) *bench {
	oursRoot := filepath.Join(e.scratch, "push-ours")
	layout := filepath.Join(e.scratch, "push-layout")
	buildahDir := filepath.Join(e.scratch, "push-buildah")
	ref := "bench/big-context:1"
	dir := e.contextDir(big)
	twice := func(who string, push func(dest string) cmd) trial {
		return func(ctx context.Context, run int) ([]sample, error) {
			e.forgetBlobLocations()
			dest := fmt.Sprintf("%s/%s-%d/big:1", e.registry, who, run)
			var ss []sample
			for range 2 {
				off := reg.size()
				s, err := e.sh.run(ctx, push(dest))
				if err != nil {
					return nil, err
				}
				n, _ := reg.uploads(off)
				uploads[who] = append(uploads[who], n)
				ss = append(ss, s)
			}
			return ss, nil
		}
	}
	skopeo := contender{name: "skopeo", trial: twice("skopeo", func(dest string) cmd {
		return command(e.peers["skopeo"], "copy", "-q", "--dest-tls-verify=false", "oci:"+layout, "docker://"+dest)
	})}
	buildah := contender{name: "buildah", trial: twice("buildah", func(dest string) cmd {
		return command(e.containers("buildah", buildahDir, "push", "-q", "--tls-verify=false", ref, "docker://"+dest)...)
	})}
	skipUnless(&skopeo, e.peers["skopeo"])
	skipUnless(&buildah, e.peers["buildah"])
	return &bench{
		name:   "push-200MB",
		phases: []string{"first", "repeat"},
		ours: contender{name: "ours", trial: twice("ours", func(dest string) cmd {
			return command(e.builder(oursRoot, "push", ref, dest)...)
		})},
		peers: []contender{skopeo, buildah},
		setup: func(ctx context.Context) error {
			if err := big.prepare(dir); err != nil {
				return err
			}
			if err := e.oursBases(ctx, oursRoot, false); err != nil {
				return err
			}
			out := "type=oci,dest=" + layout + ",tar=false"
			if err := e.sh.must(ctx, e.builder(oursRoot, "build", "--progress", "plain", "-t", ref, "-o", out, dir)...); err != nil {
				return err
			}
			if buildah.skip != "" {
				return nil
			}
			if err := e.buildahBases(ctx, buildahDir, false); err != nil {
				return err
			}
			return e.sh.must(ctx, e.containers("buildah", buildahDir, "build", "--layers", "--pull=never",
				"--isolation", envOr("BENCH_BUILDAH_ISOLATION", "oci"), "--network", "host", "-t", ref, dir)...)
		},
		cleanup: func() {
			e.remove(oursRoot)
			e.remove(layout)
			e.remove(buildahDir)
		},
	}
}

// rebuiltPushBench pushes after a clean rebuild (a new, empty store; a cold build of the
// same context) to the repository the previous build went to: when the layers come out
// byte-identical, nothing is uploaded but the config and the manifest.
func (e *env) rebuiltPushBench(reg *registry, big *buildCase, uploads map[string][]int, changed map[string][]string) *bench {
	ref := "bench/big-context:1"
	last := map[string][]string{}
	dir := e.contextDir(big)
	trialOf := func(who string, rebuild func(ctx context.Context, store string) error, push func(store, dest string) cmd) trial {
		return func(ctx context.Context, run int) ([]sample, error) {
			e.forgetBlobLocations()
			store := filepath.Join(e.scratch, "rebuilt-"+who)
			defer e.remove(store)
			dest := fmt.Sprintf("%s/%s-rebuilt/big:1", e.registry, who)
			if err := rebuild(ctx, store); err != nil {
				return nil, err
			}
			off := reg.size()
			s, err := e.sh.run(ctx, push(store, dest))
			if err != nil {
				return nil, err
			}
			n, _ := reg.uploads(off)
			layers, err := manifestLayers(e.registry, dest)
			if err != nil {
				return nil, err
			}
			if run >= 0 { // run -1 is the setup push that fills the repository
				uploads[who] = append(uploads[who], n)
				changed[who] = append(changed[who], fmt.Sprintf("%d/%d", countChanged(last[who], layers), len(layers)))
			}
			last[who] = layers
			return []sample{s}, nil
		}
	}
	ours := trialOf("ours", func(ctx context.Context, store string) error {
		if err := e.oursBases(ctx, store, false); err != nil {
			return err
		}
		return e.sh.must(ctx, e.builder(store, "build", "--progress", "plain", "-t", ref, dir)...)
	}, func(store, dest string) cmd { return command(e.builder(store, "push", ref, dest)...) })
	buildah := contender{name: "buildah", trial: trialOf("buildah", func(ctx context.Context, store string) error {
		if err := e.buildahBases(ctx, store, false); err != nil {
			return err
		}
		return e.sh.must(ctx, e.containers("buildah", store, "build", "--layers", "--pull=never",
			"--isolation", envOr("BENCH_BUILDAH_ISOLATION", "oci"), "--network", "host", "-t", ref, dir)...)
	}, func(store, dest string) cmd {
		return command(e.containers("buildah", store, "push", "-q", "--tls-verify=false", ref, "docker://"+dest)...)
	})}
	skipUnless(&buildah, e.peers["buildah"])
	b := &bench{
		name:   "push-after-clean-rebuild",
		phases: []string{""},
		ours:   contender{name: "ours", trial: ours},
		peers:  []contender{buildah},
	}
	// The repository must hold the previous build before the first measured push.
	b.setup = func(ctx context.Context) error {
		if err := big.prepare(dir); err != nil {
			return err
		}
		for _, c := range append([]contender{b.ours}, b.peers...) {
			if c.skip == "" {
				if _, err := c.trial(ctx, -1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return b
}

// forgetBlobLocations drops the blob info cache of skopeo and buildah (bound to scratch),
// which would otherwise turn a "first" push into cross-repository mounts of blobs an
// earlier run uploaded.
func (e *env) forgetBlobLocations() {
	if e.bound["/var/lib/containers"] {
		os.Remove("/var/lib/containers/cache/blob-info-cache-v1.boltdb")
	}
}

func skipUnless(c *contender, path string) {
	if path == "" {
		c.skip = c.name + " not installed"
	}
}

// manifestLayers fetches the layer digests of ref (host/repo:tag) from the registry.
func manifestLayers(addr, ref string) ([]string, error) {
	repo, tag, _ := strings.Cut(strings.TrimPrefix(ref, addr+"/"), ":")
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get manifest of %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get manifest of %s: %s", ref, resp.Status)
	}
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode manifest of %s: %w", ref, err)
	}
	out := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = l.Digest
	}
	return out, nil
}

// countChanged counts the layers of now that were not in before.
func countChanged(before, now []string) int {
	n := 0
	for _, d := range now {
		if !slices.Contains(before, d) {
			n++
		}
	}
	return n
}
