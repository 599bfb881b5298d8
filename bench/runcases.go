package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	seccompprofile "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Container latency: each trial is one container, so these benches repeat their trials
// (runs × runReps) to get medians worth reading.
const runReps = 10

var runTargets = map[string]map[string]target{
	"podman":       {"": {min: 3, text: "≥ 3×"}},
	"runc":         {"": {min: 1 / 1.5, text: "≥ 0.67× (within 1.5× of runc)"}},
	"runc+seccomp": {"": {min: 1 / 1.5, text: "≥ 0.67× (within 1.5× of runc)"}},
}

// runFixture is what the container benches share: our store and podman's storage, each
// holding busybox, and the same image unpacked by umoci as a runc bundle.
type runFixture struct {
	oursRoot, bundle, runcState string
	seccompBundle               string // the bundle again, with Docker's default seccomp profile
	podman                      bool   // podman storage is ready
}

func (e *env) runFixture(ctx context.Context) (*runFixture, error) {
	f := &runFixture{oursRoot: filepath.Join(e.scratch, "run-ours"), bundle: filepath.Join(e.scratch, "run-bundle"),
		runcState: filepath.Join(e.scratch, "runc-state"), seccompBundle: filepath.Join(e.scratch, "run-bundle-seccomp")}
	if err := e.oursBases(ctx, f.oursRoot, false); err != nil {
		return nil, err
	}
	// The first run extracts nothing (import keeps the layer dir) but warms the page cache.
	if err := e.sh.must(ctx, e.runner(f.oursRoot, "run", "--rm", "--network", "none", "busybox", "true")...); err != nil {
		return nil, err
	}
	if e.peers["umoci"] != "" {
		img := filepath.Join(f.oursRoot, "oci") + ":docker.io/library/busybox:latest"
		if err := e.sh.must(ctx, e.peers["umoci"], "unpack", "--image", img, f.bundle); err != nil {
			return nil, err
		}
		if err := editBundle(filepath.Join(f.bundle, "config.json"), []string{"true"}); err != nil {
			return nil, err
		}
		if err := addSeccomp(f.bundle, f.seccompBundle); err != nil {
			return nil, err
		}
	}
	if e.peers["podman"] != "" {
		if err := e.sh.must(ctx, e.peers["podman"], "import", "-q", e.busyboxTar, "docker.io/library/busybox:latest"); err != nil {
			return nil, err
		}
		if err := e.sh.must(ctx, e.peers["podman"], "run", "--rm", "--network", "none", "busybox", "true"); err != nil {
			return nil, fmt.Errorf("podman cannot run a container here: %w", err)
		}
		f.podman = true
	}
	return f, nil
}

// editBundle sets the process of a umoci bundle: these args, no terminal.
func editBundle(path string, args []string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read bundle config: %w", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	proc, ok := spec["process"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s has no process", path)
	}
	proc["args"], proc["terminal"] = args, false
	raw, err = json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// addSeccomp makes dst a bundle of src's root whose config adds the seccomp profile Docker
// (and our runner, and podman) apply by default, for the bundle's capabilities: runc then
// does the same work as the others, filter compilation included.
func addSeccomp(src, dst string) error {
	raw, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		return fmt.Errorf("read bundle config: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parse bundle config: %w", err)
	}
	if spec.Linux == nil || spec.Root == nil {
		return fmt.Errorf("bundle %s: no linux section or root", src)
	}
	if spec.Linux.Seccomp, err = seccompprofile.GetDefaultProfile(&spec); err != nil {
		return fmt.Errorf("default seccomp profile: %w", err)
	}
	spec.Root.Path = filepath.Join(src, spec.Root.Path)
	if raw, err = json.Marshal(&spec); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "config.json"), raw, 0o644)
}

// runTrueBenches: `run --rm busybox true` with no network (runc's bundle has only a
// loopback), and with each tool's private network (ours: own netns + slirp4netns when
// installed; podman: slirp4netns, as root's default bridge would rewrite the host's
// iptables).
func (e *env) runTrueBenches(fx *runFixture) []*bench {
	single := func(c func(f *runFixture, run int) cmd) trial {
		return func(ctx context.Context, run int) ([]sample, error) {
			s, err := e.sh.run(ctx, c(fx, run))
			return []sample{s}, err
		}
	}
	podmanSkip := func(c contender) contender {
		skipUnless(&c, e.peers["podman"])
		return c
	}
	runcOn := func(name string, bundle func(f *runFixture) string) contender {
		c := contender{name: name, trial: single(func(f *runFixture, run int) cmd {
			return command(e.peers["runc"], "--root", f.runcState, "run", "--bundle", bundle(f), fmt.Sprintf("%s-%d", name, run))
		})}
		skipUnless(&c, e.peers["runc"])
		if e.peers["umoci"] == "" {
			c.skip = "umoci not installed (makes the bundle)"
		}
		return c
	}
	runc := runcOn("runc", func(f *runFixture) string { return f.bundle })
	runcSeccomp := runcOn("runc+seccomp", func(f *runFixture) string { return f.seccompBundle })
	none := &bench{
		name:   "run-true-no-network",
		phases: []string{""},
		repeat: runReps,
		ours: contender{name: "ours", trial: single(func(f *runFixture, _ int) cmd {
			return command(e.runner(f.oursRoot, "run", "--rm", "--network", "none", "busybox", "true")...)
		})},
		peers: []contender{podmanSkip(contender{name: "podman", trial: single(func(*runFixture, int) cmd {
			return command(e.peers["podman"], "run", "--rm", "--network", "none", "busybox", "true")
		})}), runc, runcSeccomp},
		targets: runTargets,
	}
	private := &bench{
		name:   "run-true-private-network",
		phases: []string{""},
		repeat: runReps,
		ours: contender{name: "ours", trial: single(func(f *runFixture, _ int) cmd {
			return command(e.runner(f.oursRoot, "run", "--rm", "busybox", "true")...)
		})},
		peers: []contender{podmanSkip(contender{name: "podman", trial: single(func(*runFixture, int) cmd {
			return command(e.peers["podman"], "run", "--rm", "--network", "slirp4netns", "busybox", "true")
		})})},
		targets: map[string]map[string]target{"podman": runTargets["podman"]},
	}
	return []*bench{none, private}
}

// httpBench: from `run -d -p` to the first byte of an HTTP answer from busybox httpd in
// the container, through the published port.
func (e *env) httpBench(fx *runFixture) *bench {
	serve := []string{"httpd", "-f", "-p", "8080", "-h", "/var/www"}
	trialOf := func(start func(f *runFixture, name, publish string) cmd, rm func(f *runFixture, name string) cmd) trial {
		return func(ctx context.Context, run int) ([]sample, error) {
			f := fx
			addr, err := freePort()
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("bench-http-%d", run)
			t0 := time.Now()
			s, err := e.sh.run(ctx, start(f, name, addr+":8080"))
			defer e.sh.must(context.Background(), rm(f, name).args...)
			if err != nil {
				return nil, err
			}
			if err := firstByte(ctx, addr, 10*time.Second); err != nil {
				return nil, err
			}
			s.wall = time.Since(t0)
			return []sample{s}, nil
		}
	}
	ours := trialOf(func(f *runFixture, name, publish string) cmd {
		return command(e.runner(f.oursRoot, append([]string{"run", "-d", "--name", name, "-p", publish, "busybox"}, serve...)...)...)
	}, func(f *runFixture, name string) cmd { return command(e.runner(f.oursRoot, "rm", "-f", name)...) })
	podman := contender{name: "podman", trial: trialOf(func(_ *runFixture, name, publish string) cmd {
		return command(append([]string{e.peers["podman"], "run", "-d", "--name", name, "--network", "slirp4netns", "-p", publish, "busybox"}, serve...)...)
	}, func(_ *runFixture, name string) cmd { return command(e.peers["podman"], "rm", "-f", "-t", "0", name) })}
	skipUnless(&podman, e.peers["podman"])
	return &bench{
		name:    "http-first-byte",
		phases:  []string{""},
		repeat:  runReps / 2,
		ours:    contender{name: "ours", trial: ours},
		peers:   []contender{podman},
		targets: map[string]map[string]target{"podman": runTargets["podman"]},
	}
}

// firstByte polls addr until an HTTP request there gets a byte of answer.
func firstByte(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			_, err = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
			if err == nil {
				_, err = c.Read(make([]byte, 1))
			}
			c.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("no HTTP answer on %s within %s: %w", addr, limit, errors.Join(last, ctx.Err()))
}
