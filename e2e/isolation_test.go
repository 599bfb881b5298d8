package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRunnerContainersCannotEscape runs testdata/escape, which tries the classic ways
// out (mount, namespaces, keyrings, ptrace and signals to host processes, /proc and /sys
// writes, modules, raw disks, the chroot fchdir trick), in a runner container: every one
// fails, and the process has Docker's capabilities, no_new_privs and a seccomp filter.
func TestRunnerContainersCannotEscape(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(e.dir, "escape")
	build := exec.Command("go", "build", "-o", bin, "./testdata/escape")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the escape helper: %v\n%s", err, out)
	}
	helper, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	e.must(e.build("escape:1", "FROM busybox\nCOPY escape /escape\nRUN chmod 755 /escape\n", map[string]string{"escape": string(helper)}))
	marker := filepath.Join(e.dir, "host-marker")
	if err := os.WriteFile(marker, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	var root syscall.Stat_t
	if err := syscall.Stat("/", &root); err != nil {
		t.Fatal(err)
	}
	re := newRunnerEnvAt(t, e.root)
	out := re.mustRun("run", "--rm", "escape:1", "/escape", strconv.Itoa(os.Getpid()), marker, strconv.FormatUint(root.Dev, 10))
	got := fields(out)
	want := map[string]string{
		"mount": "EPERM", "unshare-mnt": "EPERM", "add_key": "EPERM", "ptrace-host": "ESRCH", "kill-host": "ESRCH",
		"core_pattern": "EROFS", "sys-create": "EROFS", "finit_module": "EPERM",
		"host-pid-visible": "false",
		"chroot":           "ok", "breakout-sees-host": "false", "breakout-sees-container": "true",
		// Docker's default capability set, and its confinement.
		"CapEff": "00000000a80425fb", "CapBnd": "00000000a80425fb", "NoNewPrivs": "1", "Seccomp": "2",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	// However they fail, these must not work (a kernel without magic SysRq has no file).
	for _, k := range []string{"userns", "open-disk", "sysrq"} {
		if v, ok := got[k]; !ok || v == "ok" {
			t.Errorf("%s = %q: it worked", k, v)
		}
	}
	// The container's mounts are its own: none of the host's is there.
	for _, p := range strings.Fields(got["mountpoints"]) {
		if !ownMount(p) {
			t.Errorf("a mount at %s is visible in the container", p)
		}
	}
	if t.Failed() {
		t.Logf("escape printed:\n%s", out)
	}
	re.assertNothingLeft()

	// Builder RUN steps still do what package installs need.
	e.must(e.build("setup:1", `FROM busybox
RUN mkdir /data && chown 33:33 /data && chmod 2775 /data && su -s /bin/sh www-data -c 'touch /data/by-www' && ls -ln /data | grep -q ' 33 *33 '
`, nil))
}

// ownMount reports whether p is where a container has mounts of its own.
func ownMount(p string) bool {
	switch p {
	case "/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf":
		return true
	}
	for _, dir := range []string{"/proc", "/dev", "/sys"} {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// fields parses NAME=VALUE lines.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}
