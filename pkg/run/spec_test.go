package run

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := root + "/file"
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	valid := Spec{ID: "abcdefghijklmnop", Root: root, Args: []string{"true"}}
	got, err := valid.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.Cwd != "/" || got.Hostname != "abcdefghijkl" || got.StateRoot != DefaultStateRoot || got.CgroupParent != DefaultCgroupParent {
		t.Errorf("defaults: %+v", got)
	}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string // part of the error
	}{
		{"bad id", func(s *Spec) { s.ID = "a/b" }, "invalid container id"},
		{"dot id", func(s *Spec) { s.ID = ".." }, "invalid container id"},
		{"no args", func(s *Spec) { s.Args = nil }, "Args is empty"},
		{"relative root", func(s *Spec) { s.Root = "rootfs" }, "not an absolute path"},
		{"missing root", func(s *Spec) { s.Root = root + "/nope" }, "no such file"},
		{"root is a file", func(s *Spec) { s.Root = file }, "not a directory"},
		{"relative cwd", func(s *Spec) { s.Cwd = "work" }, "working directory"},
		{"relative cgroup parent", func(s *Spec) { s.CgroupParent = "dockyard" }, "cgroup parent"},
		{"missing netns", func(s *Spec) { s.Network = "/run/netns/nope" }, "network namespace"},
		{"relative mount target", func(s *Spec) { s.Mounts = []Mount{{Type: "tmpfs", Destination: "tmp"}} }, "mount destination"},
		{"relative bind source", func(s *Spec) { s.Mounts = []Mount{{Source: "x", Destination: "/x"}} }, "bind mount source"},
		{"missing bind source", func(s *Spec) { s.Mounts = []Mount{{Source: root + "/nope", Destination: "/x"}} }, "no such file"},
		{"unknown mount type", func(s *Spec) { s.Mounts = []Mount{{Type: "nfs", Destination: "/x"}} }, "unsupported type"},
	}
	for _, tt := range tests {
		s := valid
		tt.change(&s)
		if _, err := s.withDefaults(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestOCIMount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Mount
		want specs.Mount
	}{
		{Mount{Source: "/h", Destination: "/etc/hosts/", ReadOnly: true},
			specs.Mount{Source: "/h", Destination: "/etc/hosts", Type: "bind", Options: []string{"rbind", "ro"}}},
		{Mount{Source: "/d", Destination: "/d", Type: "bind", Options: []string{"rprivate"}},
			specs.Mount{Source: "/d", Destination: "/d", Type: "bind", Options: []string{"rbind", "rprivate"}}},
		{Mount{Destination: "/tmp", Type: "tmpfs", Options: []string{"size=1m"}},
			specs.Mount{Source: "tmpfs", Destination: "/tmp", Type: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m"}}},
	}
	for _, tt := range tests {
		if got := tt.in.ociMount(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v.ociMount() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestOCISpecNetwork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode     NetworkMode
		wantNet  bool
		wantPath string
	}{
		{"", true, ""},
		{NetworkNone, true, ""},
		{NetworkHost, false, ""},
		{"/proc/1/ns/net", true, "/proc/1/ns/net"},
	}
	for _, tt := range tests {
		spec := ociSpec(Spec{ID: "x", Network: tt.mode}, execUser{})
		var hasNet bool
		var path string
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				hasNet, path = true, ns.Path
			}
		}
		if hasNet != tt.wantNet || path != tt.wantPath {
			t.Errorf("network %q: netns %v %q, want %v %q", tt.mode, hasNet, path, tt.wantNet, tt.wantPath)
		}
	}
}

func TestAsExecError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		code int // -1: not an ExecError
	}{
		{`unable to start container process: error during container init: exec: "foo": executable file not found in $PATH`, ExitNotFound},
		{`error during container init: exec: "/x/y": stat /x/y: no such file or directory`, ExitNotFound},
		{`error during container init: exec: "/etc/passwd": permission denied`, ExitNotExecutable},
		{`error during container init: error mounting "/a" to rootfs at "/b": no such file or directory`, -1},
		{`chdir to cwd ("/nope") set in config.json failed: no such file or directory`, -1},
	}
	for _, tt := range tests {
		err := asExecError(fmt.Errorf("wrapped: %w", errors.New(tt.msg)))
		if got := exitCodeOf(err); got != tt.code {
			t.Errorf("%s: code %d, want %d", tt.msg, got, tt.code)
		}
		var ee *ExecError
		if errors.As(err, &ee) && !strings.HasPrefix(ee.Error(), "exec: ") {
			t.Errorf("reason %q", ee.Error())
		}
	}
	if asExecError(nil) != nil {
		t.Error("asExecError(nil) != nil")
	}
}

func TestIsContainerInit(t *testing.T) {
	// Not parallel: it changes os.Args and the environment.
	args := os.Args
	defer func() { os.Args = args }()
	tests := []struct {
		args []string
		pipe string
		want bool
	}{
		{[]string{"runner", "init"}, "3", true},
		{[]string{"runner", "init"}, "", false}, // a user's "runner init" command
		{[]string{"runner", "run", "init"}, "3", false},
		{[]string{"runner"}, "3", false},
	}
	for _, tt := range tests {
		os.Args = tt.args
		t.Setenv("_LIBCONTAINER_INITPIPE", tt.pipe)
		if got := isContainerInit(); got != tt.want {
			t.Errorf("args %q pipe %q: %v, want %v", tt.args, tt.pipe, got, tt.want)
		}
	}
}
