// Package testutil holds the few helpers tests share: prerequisite checks that fail instead
// of skipping under CI, and the busybox root filesystem every container test runs on.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run under CI, where a missing prerequisite is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test locally and fails it under CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("prerequisite missing (CI=true): "+format, args...)
	}
	t.Skipf("prerequisite missing: "+format, args...)
}

// RequireRoot stops the test unless it runs as root (mounts, namespaces, cgroups).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "must run as root")
	}
}

// RequireBinary returns the path of name on $PATH, or stops the test.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not installed", name)
	}
	return p
}

// ModuleRoot is the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate testutil source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BusyboxRootfs makes a busybox root filesystem (hack/busybox-rootfs) in a fresh temp dir.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	RequireBinary(t, "busybox")
	dir := filepath.Join(t.TempDir(), "rootfs")
	out, err := exec.Command(filepath.Join(ModuleRoot(t), "hack", "busybox-rootfs"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("busybox-rootfs: %v\n%s", err, out)
	}
	return dir
}
