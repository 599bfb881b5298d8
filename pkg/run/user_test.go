package run

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fakeRoot is a root with only the files resolveUser reads.
func fakeRoot(t *testing.T, passwd, group string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"passwd": passwd, "group": group} {
		if content == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolveUser(t *testing.T) {
	t.Parallel()
	root := fakeRoot(t,
		"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"root:x:0:\napp:x:1000:\nextra:x:2000:app\nusers:x:100:\n")
	tests := []struct {
		spec    string
		want    execUser
		wantErr bool
	}{
		// The primary group comes first among the supplementary groups, as in docker.
		{"", execUser{UID: 0, GID: 0, Groups: []int{0}, Home: "/root"}, false},
		{"root", execUser{UID: 0, GID: 0, Groups: []int{0}, Home: "/root"}, false},
		{"app", execUser{UID: 1000, GID: 1000, Groups: []int{1000, 2000}, Home: "/home/app"}, false},
		{"1000", execUser{UID: 1000, GID: 1000, Groups: []int{1000, 2000}, Home: "/home/app"}, false},
		{"app:users", execUser{UID: 1000, GID: 100, Groups: []int{100}, Home: "/home/app"}, false},
		{"4242", execUser{UID: 4242, GID: 0, Groups: []int{0}, Home: "/"}, false},
		{"4242:4343", execUser{UID: 4242, GID: 4343, Groups: []int{4343}, Home: "/"}, false},
		{"nosuchuser", execUser{}, true},
		{"app:nosuchgroup", execUser{}, true},
	}
	for _, tt := range tests {
		got, err := resolveUser(root, tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("resolveUser(%q) error = %v, wantErr %v", tt.spec, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestResolveUserWithoutPasswd(t *testing.T) {
	t.Parallel()
	root := fakeRoot(t, "", "")
	if u, err := resolveUser(root, "123:456"); err != nil || u.UID != 123 || u.GID != 456 || u.Home != "/" {
		t.Errorf("numeric user without /etc/passwd = %+v, %v", u, err)
	}
	if _, err := resolveUser(root, "app"); err == nil {
		t.Error("named user without /etc/passwd resolved")
	}
}

func TestResolveUserStaysInRoot(t *testing.T) {
	t.Parallel()
	// An absolute symlink in an image must resolve inside the root, not on the host.
	root := fakeRoot(t, "", "")
	inner := filepath.Join(root, "elsewhere")
	if err := os.WriteFile(inner, []byte("app:x:77:77:app:/app:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/elsewhere", filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	if u, err := resolveUser(root, "app"); err != nil || u.UID != 77 {
		t.Errorf("resolveUser through a symlink = %+v, %v; want uid 77", u, err)
	}
}

func TestProcessEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  []string
		home string
		tty  bool
		want []string
	}{
		{nil, "/root", false, []string{"PATH=" + DefaultPath, "HOME=/root"}},
		{[]string{"PATH=/bin", "A=1"}, "/root", false, []string{"PATH=/bin", "A=1", "HOME=/root"}},
		{[]string{"HOME=/x"}, "/root", true, []string{"HOME=/x", "PATH=" + DefaultPath, "TERM=xterm"}},
		{[]string{"TERM=dumb", "PATHS=no"}, "/", true, []string{"TERM=dumb", "PATHS=no", "PATH=" + DefaultPath, "HOME=/"}},
	}
	for _, tt := range tests {
		if got := processEnv(tt.env, tt.home, tt.tty); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("processEnv(%q, %q, %v) = %q, want %q", tt.env, tt.home, tt.tty, got, tt.want)
		}
	}
}

func TestRunUserEnvCwd(t *testing.T) {
	t.Parallel()
	script := `echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G); echo pwd=$(pwd); echo home=$HOME; echo path=$PATH; echo foo=$FOO`
	tests := []struct {
		name string
		user string
		env  []string
		cwd  string
		want map[string]string
	}{
		{"defaults", "", nil, "", map[string]string{
			"uid": "0", "gid": "0", "groups": "0", "pwd": "/", "home": "/root", "path": DefaultPath, "foo": ""}},
		{"named user and new cwd", "www-data", []string{"FOO=bar"}, "/srv/app", map[string]string{
			"uid": "33", "gid": "33", "groups": "33 2000", "pwd": "/srv/app", "home": "/var/www", "path": DefaultPath, "foo": "bar"}},
		{"numeric ids without passwd entry", "4242:4343", []string{"PATH=/bin", "HOME=/h"}, "/tmp", map[string]string{
			"uid": "4242", "gid": "4343", "groups": "4343", "pwd": "/tmp", "home": "/h", "path": "/bin", "foo": ""}},
		{"user and group names", "www-data:users", nil, "", map[string]string{
			"uid": "33", "gid": "100", "groups": "100", "pwd": "/", "home": "/var/www", "path": DefaultPath, "foo": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, out := newSpec(t, "sh", "-c", script)
			s.User, s.Env, s.Cwd = tt.user, tt.env, tt.cwd
			addGroup(t, s.Root, "extra:x:2000:www-data")
			if got := fields(runOK(t, s, out)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func addGroup(t *testing.T, root, line string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "etc", "group"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

func TestRunCwdOwnedByUser(t *testing.T) {
	t.Parallel()
	s, out := newSpec(t, "sh", "-c", "touch file && echo ok")
	s.User, s.Cwd = "www-data", "/home/www/work"
	if got := runOK(t, s, out); got != "ok\n" {
		t.Fatalf("output %q", got)
	}
	for _, dir := range []string{"home", "home/www", "home/www/work"} {
		fi, err := os.Stat(filepath.Join(s.Root, dir))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		// /home existed (root-owned); only what was missing belongs to the user.
		wantUID := uint32(33)
		if dir == "home" {
			wantUID = 0
		}
		if st.Uid != wantUID {
			t.Errorf("/%s owned by %d, want %d", dir, st.Uid, wantUID)
		}
	}
}

func TestRunCapabilities(t *testing.T) {
	t.Parallel()
	const dockerDefault = "00000000a80425fb"
	tests := []struct {
		name string
		caps []string
		nnp  bool
		want map[string]string
	}{
		{"docker defaults", nil, false, map[string]string{"CapEff": dockerDefault, "CapBnd": dockerDefault, "NoNewPrivs": "0"}},
		{"none", []string{}, true, map[string]string{"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "NoNewPrivs": "1"}},
		{"net_admin and kill", []string{"net_admin", "CAP_KILL"}, false, map[string]string{"CapEff": "0000000000001020", "CapBnd": "0000000000001020", "NoNewPrivs": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, out := newSpec(t, "cat", "/proc/self/status")
			s.Capabilities, s.NoNewPrivileges = tt.caps, tt.nnp
			got := map[string]string{}
			for _, line := range strings.Split(runOK(t, s, out), "\n") {
				k, v, _ := strings.Cut(line, ":")
				if _, ok := tt.want[k]; ok {
					got[k] = strings.TrimSpace(v)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCapabilityNames(t *testing.T) {
	t.Parallel()
	if got := capabilityNames(nil); !slices.Equal(got, defaultCapabilities) {
		t.Errorf("nil → %v, want the defaults", got)
	}
	if got := capabilityNames([]string{}); len(got) != 0 {
		t.Errorf("empty → %v, want none", got)
	}
	if got := capabilityNames([]string{"sys_admin", "CAP_NET_RAW"}); !slices.Equal(got, []string{"CAP_SYS_ADMIN", "CAP_NET_RAW"}) {
		t.Errorf("got %v", got)
	}
}
