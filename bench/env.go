package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/mountinfo"
)

// env is the machine as the benchmarks see it: our binaries, the peers found, the base
// images every tool starts from, and the scratch space of this run.
type env struct {
	repo, bin string
	cache     string // kept between runs: the Debian tarball, generated contexts
	scratch   string // this run's stores, bundles, registry data; wiped at start and end
	sh        *shell
	peers     map[string]string // tool → path, for the peers installed

	busyboxRootfs, busyboxTar, debianTar string
	registry                             string          // host:port of the loopback registry
	bound                                map[string]bool // state paths bound to scratch
}

const peerEnvMarker = "_DOCKYARD_BENCH_NS"

// confine re-executes the bench in a private mount namespace (as pkg/mountns does for the
// builder): every overlay any tool leaves mounted dies with it, and the peers' fixed state
// paths (/var/lib/containers, /run/containers) are bound to scratch dirs, so no run writes
// the host's container storage. It returns true in the child.
func confine() (child bool, err error) {
	if os.Getenv(peerEnvMarker) == "1" {
		return true, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("private mount namespace: %w", err)
	}
	c := exec.Command(exe, os.Args[1:]...)
	c.Env = append(os.Environ(), peerEnvMarker+"=1")
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	err = c.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		return false, fmt.Errorf("private mount namespace: %w", err)
	}
	os.Exit(0)
	return false, nil
}

// bindStatePaths binds the peers' fixed state paths to dirs under scratch. Only in the
// private mount namespace confine made.
func (e *env) bindStatePaths() error {
	if os.Getenv(peerEnvMarker) != "1" {
		return errors.New("bind state paths: not in the bench's mount namespace")
	}
	// skopeo and buildah keep their blob info cache there whatever they are told; an empty
	// dir is all the host gets.
	if err := os.MkdirAll("/var/lib/containers", 0o700); err != nil {
		return fmt.Errorf("bind state paths: %w", err)
	}
	e.bound = map[string]bool{}
	for _, p := range []string{"/var/lib/containers", "/run/containers", "/run/libpod", "/var/lib/dockyard", "/run/dockyard"} {
		if _, err := os.Stat(p); err != nil {
			continue // nothing there to protect; the peers are told where to write instead
		}
		dst := filepath.Join(e.scratch, "bound", strings.ReplaceAll(strings.Trim(p, "/"), "/", "-"))
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := unix.Mount(dst, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", dst, p, err)
		}
		e.bound[p] = true
	}
	return nil
}

func newEnv(repo, bin, cache string) (*env, error) {
	e := &env{repo: repo, bin: bin, cache: cache, scratch: filepath.Join(cache, "run"), peers: map[string]string{}}
	if err := removeTree(e.scratch); err != nil {
		return nil, err
	}
	for _, d := range []string{e.scratch, filepath.Join(e.scratch, "tmp"), filepath.Join(e.scratch, "podman-tmp"),
		filepath.Join(e.scratch, "podman-networks")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	for _, name := range []string{"builder", "runner"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return nil, fmt.Errorf("our binaries: %w (make build)", err)
		}
	}
	for _, t := range []string{"buildah", "podman", "runc", "skopeo", "umoci"} {
		if p, err := exec.LookPath(t); err == nil {
			e.peers[t] = p
		}
	}
	logPath := filepath.Join(cache, "bench.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	e.sh = &shell{log: log, logFile: logPath, tmp: filepath.Join(e.scratch, "tmp")}
	if p, err := exec.LookPath("time"); err == nil {
		e.sh.timeBin = p // GNU time (Debian's "time" package), for peak RSS
	}
	conf, err := e.writeContainersConf()
	if err != nil {
		return nil, err
	}
	e.sh.env = []string{
		"CONTAINERS_CONF=" + conf,
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(e.scratch, "storage.conf"),
		"TMPDIR=" + filepath.Join(e.scratch, "tmp"),
	}
	return e, nil
}

// writeContainersConf gives podman and buildah a configuration of this run's own (through
// $CONTAINERS_CONF, never /etc): cgroupfs (no systemd here), runc (crun fails on these
// hybrid cgroups), and default rlimits root can grant. Root lacks CAP_SYS_RESOURCE here, so
// podman's defaults (nofile 1048576; nproc above the 32768 podman lowers its own limit to)
// fail in runc's init with "error setting rlimits"; --ulimit host does not help in 4.3.
func (e *env) writeContainersConf() (string, error) {
	var nofile, nproc unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		return "", fmt.Errorf("getrlimit: %w", err)
	}
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &nproc); err != nil {
		return "", fmt.Errorf("getrlimit: %w", err)
	}
	np := min(nproc.Max, 32768)
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = %q

[network]
network_config_dir = %q
`, nofile.Max, nofile.Max, np, np, filepath.Join(e.scratch, "podman-tmp"), filepath.Join(e.scratch, "podman-networks"))
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(e.scratch, "podman", "run"), filepath.Join(e.scratch, "podman", "root"))
	path := filepath.Join(e.scratch, "containers.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	sp := filepath.Join(e.scratch, "storage.conf")
	if err := os.WriteFile(sp, []byte(storage), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", sp, err)
	}
	return path, nil
}

func (e *env) builder(root string, args ...string) []string {
	return append([]string{filepath.Join(e.bin, "builder"), "--root", root}, args...)
}

func (e *env) runner(root string, args ...string) []string {
	return append([]string{filepath.Join(e.bin, "runner"), "--root", root, "--run-dir", root + "-run"}, args...)
}

// containers returns a buildah or podman command line on a storage of its own under dir.
func (e *env) containers(tool, dir string, args ...string) []string {
	return append([]string{e.peers[tool], "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "overlay"}, args...)
}

// prepareBases makes the base images' sources: busybox from Debian's busybox-static, and a
// Debian minbase root from mmdebstrap, cached between runs (it downloads ~50 MB).
func (e *env) prepareBases(ctx context.Context, needDebian bool) error {
	e.busyboxRootfs = filepath.Join(e.scratch, "busybox-rootfs")
	e.busyboxTar = filepath.Join(e.scratch, "busybox.tar")
	if err := e.sh.must(ctx, filepath.Join(e.repo, "hack", "busybox-rootfs"), e.busyboxRootfs); err != nil {
		return err
	}
	if err := e.sh.must(ctx, "tar", "-C", e.busyboxRootfs, "-cf", e.busyboxTar, "."); err != nil {
		return err
	}
	e.debianTar = filepath.Join(e.cache, "debian-minbase.tar")
	if _, err := os.Stat(e.debianTar); err == nil || !needDebian {
		return nil
	}
	part := e.debianTar + ".part"
	mirror := envOr("BENCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
	if err := e.sh.must(ctx, "mmdebstrap", "--mode=unshare", "--format=tar", "--variant=minbase", "bookworm", part, mirror); err != nil {
		os.Remove(part)
		return fmt.Errorf("debian base: %w", err)
	}
	return os.Rename(part, e.debianTar)
}

// removeTree unmounts whatever is mounted under dir, deepest first, then removes it.
func removeTree(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	mounts, err := mountinfo.Under(abs)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", m, err)
		}
	}
	if err := os.RemoveAll(abs); err != nil {
		return fmt.Errorf("remove %s: %w", abs, err)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
