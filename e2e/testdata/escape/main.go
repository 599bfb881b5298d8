// Command escape tries the classic ways out of a container and prints one NAME=RESULT
// line for each: RESULT is "ok" when the attempt worked, else the errno's name. Every
// attempt is one whose success would be harmless on its own (nothing is written through
// what it opens). Usage: escape HOST_PID HOST_MARKER DISK_DEV
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: escape HOST_PID HOST_MARKER DISK_DEV")
		os.Exit(2)
	}
	hostPid, _ := strconv.Atoi(os.Args[1])
	marker := os.Args[2]
	disk, _ := strconv.ParseUint(os.Args[3], 10, 64)

	os.MkdirAll("/mnt/escape", 0o755)
	report("mount", unix.Mount("none", "/mnt/escape", "tmpfs", 0, ""))
	report("unshare-mnt", unix.Unshare(unix.CLONE_NEWNS))
	report("userns", newUserNS())
	_, err := unix.AddKey("user", "escape-test", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
	report("add_key", err)
	report("ptrace-host", unix.PtraceAttach(hostPid))
	report("kill-host", unix.Kill(hostPid, 0))
	report("sysrq", openWrite("/proc/sysrq-trigger", 0))
	report("core_pattern", openWrite("/proc/sys/kernel/core_pattern", 0))
	report("sys-create", openWrite("/sys/kernel/escape-test", os.O_CREATE))
	report("finit_module", unix.FinitModule(-1, "", 0))
	report("mknod-disk", unix.Mknod("/tmp/escape-disk", unix.S_IFBLK|0o600, int(disk)))
	report("open-disk", openRead("/tmp/escape-disk"))
	status()
	_, err = os.Stat("/proc/" + os.Args[1])
	fmt.Printf("host-pid-visible=%v\n", err == nil)
	mountPoints()
	chrootBreakout(marker) // last: it changes the root of every thread
}

func report(name string, err error) {
	var errno syscall.Errno
	switch {
	case err == nil:
		fmt.Printf("%s=ok\n", name)
	case errors.As(err, &errno):
		fmt.Printf("%s=%s\n", name, unix.ErrnoName(errno))
	default:
		fmt.Printf("%s=%v\n", name, err)
	}
}

// newUserNS starts a process in a new user namespace (unshare cannot: Go is threaded).
func newUserNS() error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
	return cmd.Run()
}

func openWrite(path string, flags int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|flags, 0o600)
	if err == nil {
		f.Close() // opened, never written
	}
	return err
}

func openRead(path string) error {
	f, err := os.Open(path)
	if err == nil {
		f.Close()
	}
	return err
}

// mountPoints prints where this mount namespace has mounts.
func mountPoints() {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			points = append(points, f[4])
		}
	}
	fmt.Printf("mountpoints=%s\n", strings.Join(points, " "))
}

func status() {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "CapEff", "CapBnd", "NoNewPrivs", "Seccomp":
			fmt.Printf("%s=%s\n", k, strings.TrimSpace(v))
		}
	}
}

// chrootBreakout is the classic: chroot into a subdirectory while holding a descriptor
// of the current root, fchdir back out of it, climb, and chroot there. In a container
// (pivot_root, its own mount namespace) the climb ends at the container's root.
func chrootBreakout(marker string) {
	os.MkdirAll("/tmp/jail", 0o755)
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		report("chroot", err)
		return
	}
	if err := unix.Chroot("/tmp/jail"); err != nil {
		report("chroot", err)
		return
	}
	report("chroot", nil)
	unix.Fchdir(fd)
	for range 64 {
		unix.Chdir("..")
	}
	report("chroot-out", unix.Chroot("."))
	_, err = os.Stat(marker)
	fmt.Printf("breakout-sees-host=%v\n", err == nil)
	_, err = os.Stat("/escape")
	fmt.Printf("breakout-sees-container=%v\n", err == nil)
}
