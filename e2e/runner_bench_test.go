package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/testutil"
)

// The latency of running `true` in a fresh busybox container, three ways, on the same
// root filesystem: go test -run '^$' -bench 'RunTrue' ./e2e/

// BenchmarkRunnerRunTrue: `runner run --rm busybox true`, supervisor, overlay mount,
// network namespace and cleanup included.
func BenchmarkRunnerRunTrue(b *testing.B) {
	e := newRunnerEnv(b)
	e.image("busybox", v1.Config{Cmd: []string{"sh"}}, nil)
	e.mustRun("run", "--rm", "busybox", "true") // extract the layer once
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.mustRun("run", "--rm", "busybox", "true")
	}
}

// BenchmarkRuncRunTrue: Debian's `runc run` of the same root unpacked as an OCI bundle
// (no overlay, no supervisor: the floor).
func BenchmarkRuncRunTrue(b *testing.B) {
	runc := testutil.RequireBinary(b, "runc")
	testutil.RequireRoot(b)
	bundle := b.TempDir()
	if err := os.Rename(testutil.BusyboxRootfs(b), filepath.Join(bundle, "rootfs")); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		b.Fatalf("runc spec: %v\n%s", err, out)
	}
	path := filepath.Join(bundle, "config.json")
	var spec map[string]any
	raw, _ := os.ReadFile(path)
	if err := json.Unmarshal(raw, &spec); err != nil {
		b.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"], proc["args"] = false, []string{"true"}
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	state := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("bench-%d-%d", os.Getpid(), i)
		if out, err := exec.Command(runc, "--root", state, "run", "--bundle", bundle, id).CombinedOutput(); err != nil {
			b.Fatalf("runc run: %v\n%s", err, out)
		}
	}
}

// BenchmarkPodmanRunTrue: `podman run --rm` of the same root imported into podman, when
// podman is installed. Its default rlimits are passed down to ours: root here cannot
// raise them, which podman does by default.
func BenchmarkPodmanRunTrue(b *testing.B) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		b.Skip("podman not installed")
	}
	testutil.RequireRoot(b)
	tar := filepath.Join(b.TempDir(), "busybox.tar")
	if out, err := exec.Command("tar", "-C", testutil.BusyboxRootfs(b), "-cf", tar, ".").CombinedOutput(); err != nil {
		b.Fatalf("tar: %v\n%s", err, out)
	}
	if out, err := exec.Command(podman, "import", tar, "dockyard-bench-busybox").CombinedOutput(); err != nil {
		b.Fatalf("podman import: %v\n%s", err, out)
	}
	b.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", "dockyard-bench-busybox").Run() })
	args := []string{"run", "--rm", "--network", "none"}
	for name, res := range map[string]int{"nofile": syscall.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC} {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(res, &rl); err == nil {
			args = append(args, "--ulimit", fmt.Sprintf("%s=%d:%d", name, rl.Cur, rl.Max))
		}
	}
	args = append(args, "dockyard-bench-busybox", "true")
	if out, err := exec.Command(podman, args...).CombinedOutput(); err != nil {
		// Debian's podman 4.3 on runc 1.1.5 fails here on rlimits even when told ours.
		b.Skipf("podman cannot run a container on this machine: %v\n%s", err, out)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := exec.Command(podman, args...).CombinedOutput(); err != nil {
			b.Fatalf("podman run: %v\n%s", err, out)
		}
	}
}
