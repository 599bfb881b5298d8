package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Every build case runs three phases per trial, on a store that holds only the base
// image: a cold build, a rebuild with no change, and a rebuild after touching one file.
var buildPhases = []string{"cold", "warm", "touched"}

var buildTargets = map[string]map[string]target{"buildah": {
	"cold": {min: 1.5, text: "≥ 1.5×"},
	"warm": {min: 5, text: "≥ 5×"},
}}

func (e *env) contextDir(c *buildCase) string { return filepath.Join(e.cache, "contexts", c.name) }

func (e *env) buildBench(c *buildCase) *bench {
	dir := e.contextDir(c)
	buildah := contender{name: "buildah", trial: e.buildahBuild(c, dir)}
	if e.peers["buildah"] == "" {
		buildah.skip = "buildah not installed"
	}
	return &bench{
		name:    c.name,
		phases:  buildPhases,
		ours:    contender{name: "ours", trial: e.oursBuild(c, dir)},
		peers:   []contender{buildah},
		targets: buildTargets,
		setup:   func(context.Context) error { return c.prepare(dir) },
	}
}

func (e *env) oursBuild(c *buildCase, dir string) trial {
	return func(ctx context.Context, run int) ([]sample, error) {
		root := filepath.Join(e.scratch, "ours-"+c.name)
		defer e.remove(root)
		if err := e.oursBases(ctx, root, c.debian); err != nil {
			return nil, err
		}
		build := command(e.builder(root, "build", "--progress", "plain", "-t", "bench/"+c.name+":1", dir)...)
		return e.runPhases(ctx, build, dir, c.touch, "ours", run)
	}
}

func (e *env) buildahBuild(c *buildCase, dir string) trial {
	return func(ctx context.Context, run int) ([]sample, error) {
		store := filepath.Join(e.scratch, "buildah-"+c.name)
		defer e.remove(store)
		if err := e.buildahBases(ctx, store, c.debian); err != nil {
			return nil, err
		}
		build := command(e.containers("buildah", store, "build", "--layers", "--pull=never",
			"--isolation", envOr("BENCH_BUILDAH_ISOLATION", "oci"), "--network", "host",
			"-t", "bench/"+c.name+":1", dir)...)
		return e.runPhases(ctx, build, dir, c.touch, "buildah", run)
	}
}

// runPhases runs build cold, again unchanged, and again after touching one file.
func (e *env) runPhases(ctx context.Context, build cmd, dir, touch, who string, run int) ([]sample, error) {
	var ss []sample
	for i := range buildPhases {
		if buildPhases[i] == "touched" {
			if err := touchFile(dir, touch, who, run); err != nil {
				return nil, err
			}
		}
		// Untimed: nothing another tool (or the setup) left dirty is written back on
		// this build's clock. Ours syncs the filesystem when a step's overlay goes, as
		// the kernel does on every overlay unmount; buildah's data would be ours to flush.
		unix.Sync()
		s, err := e.sh.run(ctx, build)
		if err != nil {
			return nil, fmt.Errorf("%s build: %w", buildPhases[i], err)
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// oursBases makes a fresh store at root holding busybox (and the Debian root).
func (e *env) oursBases(ctx context.Context, root string, debian bool) error {
	if err := e.remove(root); err != nil {
		return err
	}
	if err := e.sh.must(ctx, e.builder(root, "import", "-c", `CMD ["sh"]`, e.busyboxRootfs, "busybox:latest")...); err != nil {
		return err
	}
	if debian {
		return e.sh.must(ctx, e.builder(root, "import", "-c", `CMD ["bash"]`, e.debianTar, "debian:bookworm")...)
	}
	return nil
}

// buildahBases makes a fresh buildah storage under dir holding the same base images, by
// the names our store gives them, so one Dockerfile serves both tools.
func (e *env) buildahBases(ctx context.Context, dir string, debian bool) error {
	if err := e.remove(dir); err != nil {
		return err
	}
	if err := e.buildahImport(ctx, dir, e.busyboxTar, "sh", "docker.io/library/busybox:latest"); err != nil {
		return err
	}
	if debian {
		return e.buildahImport(ctx, dir, e.debianTar, "bash", "docker.io/library/debian:bookworm")
	}
	return nil
}

func (e *env) buildahImport(ctx context.Context, dir, tarball, cmdName, ref string) error {
	w := "bench-import"
	steps := [][]string{
		{"from", "--name", w, "scratch"},
		{"add", w, tarball, "/"},
		{"config", "--cmd", cmdName, w},
		{"commit", "--rm", "-q", w, ref},
	}
	for _, s := range steps {
		if err := e.sh.must(ctx, e.containers("buildah", dir, s...)...); err != nil {
			return fmt.Errorf("import %s into buildah: %w", tarball, err)
		}
	}
	return nil
}

// remove deletes a scratch tree, unmounting what a tool left mounted in it.
func (e *env) remove(dir string) error {
	err := removeTree(dir)
	if err != nil {
		e.sh.logf("cleanup: %v", err)
	}
	return err
}

// demoBench times hack/demo, what `make demo` runs once the binaries are built: a busybox
// image from busybox-static, examples/hello built, pushed to a loopback registry, pulled
// into an empty store and served on a published port. Each run starts from nothing.
func (e *env) demoBench() *bench {
	dir := filepath.Join(e.scratch, "demo")
	return &bench{
		name:   "make-demo",
		phases: []string{""},
		ours: contender{name: "ours", trial: func(ctx context.Context, run int) ([]sample, error) {
			if err := e.remove(dir); err != nil {
				return nil, err
			}
			defer e.remove(dir)
			regPort, err := freePort()
			if err != nil {
				return nil, err
			}
			appPort, err := freePort()
			if err != nil {
				return nil, err
			}
			c := command(filepath.Join(e.repo, "hack", "demo"))
			c.dir = e.repo
			c.env = []string{"DEMO_DIR=" + dir, "DEMO_REGISTRY_PORT=" + portOf(regPort), "DEMO_PORT=" + portOf(appPort)}
			s, err := e.sh.run(ctx, c)
			return []sample{s}, err
		}},
	}
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}
