package run

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// mountTable parses /proc/mounts output into mount point → "type options".
func mountTable(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			m[f[1]] = f[2] + " " + f[3]
		}
	}
	return m
}

func TestRunDefaultMounts(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "cat", "/proc/self/mounts")
	mounts := mountTable(runOK(t, s, out))
	tests := []struct{ dir, typ, opt string }{
		{"/proc", "proc", "rw"},
		{"/dev", "tmpfs", "rw"},
		{"/dev/pts", "devpts", "rw"},
		{"/dev/shm", "tmpfs", "rw"},
		{"/dev/mqueue", "mqueue", "rw"},
		{"/sys", "sysfs", "ro"},
		{"/proc/sys", "proc", "ro"}, // docker's read-only paths
	}
	for _, tt := range tests {
		got, ok := mounts[tt.dir]
		typ, opts, _ := strings.Cut(got, " ")
		if !ok || typ != tt.typ || !strings.HasPrefix(opts, tt.opt+",") {
			t.Errorf("%s mounted as %q, want type %s, %s", tt.dir, got, tt.typ, tt.opt)
		}
	}
}

func TestRunDevices(t *testing.T) {
	t.Parallel()
	script := `for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo $d=char; done
echo ptmx=$(readlink /dev/ptmx)
echo x > /dev/null && echo write=ok
echo zero=$(head -c 4 /dev/zero | od -An -tx1 | tr -d ' ')
touch /sys/x 2>/dev/null || echo sys=ro`
	s, out := newSpec(t, "sh", "-c", script)
	got := fields(runOK(t, s, out))
	want := map[string]string{
		"null": "char", "zero": "00000000", "full": "char", "random": "char", "urandom": "char",
		"tty": "char", "ptmx": "pts/ptmx", "write": "ok", "sys": "ro",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestRunBindMounts(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	hosts := filepath.Join(host, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 generated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(host, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `echo hosts=$(cat /etc/hosts)
echo x >> /etc/hosts 2>/dev/null || echo hostsro=yes
echo from-container > /shared/out && echo shared=rw
grep -q ' /scratch tmpfs ' /proc/self/mounts && echo scratch=tmpfs`
	s, out := newSpec(t, "sh", "-c", script)
	s.Mounts = []Mount{
		{Source: hosts, Destination: "/etc/hosts", ReadOnly: true}, // missing in Root
		{Source: shared, Destination: "/shared", Type: "bind"},
		{Destination: "/scratch", Type: "tmpfs", Options: []string{"size=1m"}},
	}
	got := fields(runOK(t, s, out))
	want := map[string]string{"hosts": "127.0.0.1 generated", "hostsro": "yes", "shared": "rw", "scratch": "tmpfs"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(shared, "out")); err != nil || string(b) != "from-container\n" {
		t.Errorf("shared/out = %q, %v", b, err)
	}
	if b, _ := os.ReadFile(hosts); string(b) != "127.0.0.1 generated\n" {
		t.Errorf("read-only bind source changed: %q", b)
	}
}

// TestRunLeavesRootAlone checks the documented list of what the runtime changes in
// Root: the working directory and missing mount targets, nothing else.
func TestRunLeavesRootAlone(t *testing.T) {
	t.Parallel()
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, out := newSpec(t, "true")
	s.Cwd = "/work/app"
	s.User = "www-data"
	s.Mounts = []Mount{
		{Source: hosts, Destination: "/etc/hosts"},
		{Destination: "/run/cache", Type: "tmpfs"},
	}
	before := snapshot(t, s.Root)
	runOK(t, s, out)
	after := snapshot(t, s.Root)
	var added []string
	for p, info := range after {
		if old, ok := before[p]; !ok {
			added = append(added, p+" "+info)
		} else if old != info {
			t.Errorf("%s changed: %s → %s", p, old, info)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s removed", p)
		}
	}
	want := []string{
		"/etc/hosts -rw-r--r-- 0:0 0", // bind target: an empty file
		"/run drwxr-xr-x 0:0",         // mount target parents
		"/run/cache drwxr-xr-x 0:0",
		"/work drwxr-xr-x 33:33", // working directory, owned by the user
		"/work/app drwxr-xr-x 33:33",
	}
	if !sameSet(added, want) {
		t.Errorf("added %q\nwant %q", added, want)
	}
}

// snapshot maps every path under root to its type, mode, owner and (for files) size.
// Directory times are left out: creating an entry changes them.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		info := fmt.Sprintf("%s %d:%d", fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			info += fmt.Sprintf(" %d", fi.Size())
		}
		rel, _ := filepath.Rel(root, p)
		m["/"+filepath.ToSlash(rel)] = info
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	delete(m, "/.")
	return m
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x]--; seen[x] < 0 {
			return false
		}
	}
	return true
}

// TestMainThreadStaysHome: however many containers with bind mounts start (libcontainer
// opens their sources from a thread it moves into the container's mount namespace),
// this process's main thread, whose view /proc/self shows, stays in our namespace.
func TestMainThreadStaysHome(t *testing.T) {
	host := t.TempDir()
	home, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	s, out := newSpec(t, "true")
	s.Mounts = []Mount{{Source: host, Destination: "/host", Type: "bind"}}
	for i := range 30 {
		s.ID = uniqueID(t)
		runOK(t, s, out)
		if now, _ := os.Readlink("/proc/self/ns/mnt"); now != home {
			t.Fatalf("after container %d the main thread is in mount namespace %s, not %s", i+1, now, home)
		}
	}
}
