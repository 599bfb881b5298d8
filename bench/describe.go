package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// describe collects the machine and tool versions results.md starts with.
func (e *env) describe(ctx context.Context) (machine, tools [][2]string) {
	first := func(args ...string) string {
		out, err := e.sh.output(ctx, args...)
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(firstLine(out))
	}
	commit := first("git", "-C", e.repo, "rev-parse", "--short", "HEAD")
	if st, err := e.sh.output(ctx, "git", "-C", e.repo, "status", "--porcelain", "--untracked-files=no"); err == nil && strings.TrimSpace(st) != "" {
		commit += " + uncommitted changes"
	}
	load, _ := os.ReadFile("/proc/loadavg")
	machine = [][2]string{
		{"kernel", first("uname", "-sr")},
		{"cpu", fmt.Sprintf("%s, %d cores", cpuModel(), runtime.NumCPU())},
		{"memory", memTotal()},
		{"filesystem of the stores", first("findmnt", "-no", "FSTYPE,OPTIONS", "-T", e.cache) + journalNote(first("findmnt", "-no", "SOURCE", "-T", e.cache))},
		{"load average at start", strings.Join(strings.Fields(string(load))[:3], " ")},
		{"commit", commit},
	}
	tools = [][2]string{
		{"go", first("go", "version")},
		{"builder", first(filepath.Join(e.bin, "builder"), "--version")},
		{"runner", first(filepath.Join(e.bin, "runner"), "version")},
	}
	for _, t := range []string{"buildah", "podman", "runc", "skopeo", "umoci", "mmdebstrap"} {
		v := "not installed"
		if p := e.peers[t]; p != "" {
			v = first(p, "--version")
		} else if t == "mmdebstrap" {
			v = first(t, "--version")
		}
		tools = append(tools, [2]string{t, v})
	}
	return machine, tools
}

// journalNote flags an ext4 without a journal: there ext4 will not reuse an inode freed in
// the last 5 minutes and scans past each one on every file creation, so creating files
// right after deleting many (tests, the bench's own cleanup) costs up to ~1 ms a file.
func journalNote(source string) string {
	b, err := os.ReadFile(filepath.Join("/sys/fs/ext4", filepath.Base(source), "journal_task"))
	if err != nil || strings.TrimSpace(string(b)) != "<none>" {
		return ""
	}
	return " — no journal: file creation slows down after mass deletions (ext4 skips recently freed inodes)"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

// notes say how each tool was set up, so the numbers can be read right.
func (e *env) notes() []string {
	n := []string{
		"Cold: a fresh store holding only the base image (imported, untimed). Warm: the same build again, no change. " +
			"Touched: one source file a late COPY reads rewritten, then the build again. " +
			"The disk is synced (untimed) before every timed build, so that no tool writes back another's data on its clock.",
		"buildah: `buildah build --layers --pull=never --isolation " + envOr("BENCH_BUILDAH_ISOLATION", "oci") +
			" --network host` on its own fresh storage per trial; base images added with `buildah from scratch` + `buildah add`.",
		"podman and buildah read a containers.conf of this run ($CONTAINERS_CONF): cgroupfs, runc, " +
			"default_ulimits = the hard nofile limit and nproc ≤ 32768 (root here lacks CAP_SYS_RESOURCE, podman's own defaults fail in runc's init).",
		"podman runs with --network none or slirp4netns (root's default bridge would rewrite the host's iptables); " +
			"ours with --network none, or its default private network.",
		"make-demo: hack/demo from an empty DEMO_DIR, binaries already built; its RSS is `go build`'s (the demo builds hack/registry).",
		"http-first-byte: from starting `run -d -p` to the first byte of busybox httpd's answer through the published port. " +
			"RSS there is the `run -d` command's alone (the supervisor / conmon is detached).",
		"push: to a loopback distribution registry (hack/registry). skopeo copies the OCI layout our build wrote " +
			"(the same compressed blobs: transport alone); buildah pushes its own build and compresses on push. " +
			"The blob info cache of skopeo/buildah is cleared before each trial so that a first push is not a cross-repository mount.",
		"Every tool runs inside one private mount namespace whose /var/lib/containers and /run/containers are scratch dirs.",
	}
	if !e.hasBuildCache() {
		n = append(n, "PRE-CACHE: this builder has no build cache yet (issue 6): its warm and touched numbers are full rebuilds.")
	}
	return n
}

// hasBuildCache tells from `builder build --help` whether the cache of issue 6 is in.
func (e *env) hasBuildCache() bool {
	out, err := e.sh.output(context.Background(), filepath.Join(e.bin, "builder"), "build", "--help")
	return err == nil && strings.Contains(out, "--no-cache")
}
