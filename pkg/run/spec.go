package run

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Defaults applied when the corresponding Spec field is empty.
const (
	// DefaultStateRoot holds libcontainer's per-container state dirs.
	DefaultStateRoot = "/run/dockyard/libcontainer"
	// DefaultCgroupParent is the cgroup every container's own cgroup is created under.
	DefaultCgroupParent = "/dockyard"
	// DefaultPath is docker's PATH for containers whose Env has none.
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// NetworkMode selects the container's network namespace.
type NetworkMode string

const (
	// NetworkNone gives the container a new network namespace with only loopback up.
	// It is also what the zero value means.
	NetworkNone NetworkMode = "none"
	// NetworkHost shares the host's network namespace.
	NetworkHost NetworkMode = "host"
)

// Any other NetworkMode is the path of a network namespace to join, e.g.
// "/run/netns/x" or "/proc/PID/ns/net".
func (n NetworkMode) joinPath() string {
	switch n {
	case "", NetworkNone, NetworkHost:
		return ""
	}
	return string(n)
}

// Mount is an extra mount on top of the default ones (/proc, /dev, /dev/pts, /dev/shm,
// /dev/mqueue, /sys).
type Mount struct {
	Source      string   // host path for binds; ignored for tmpfs
	Destination string   // absolute path inside the container
	Type        string   // "bind" (the default) or "tmpfs"
	Options     []string // mount(8)-style options, e.g. "size=64m", "noexec", "rprivate"
	ReadOnly    bool
}

// Limits are the cgroup limits of a container; zero means unlimited.
type Limits struct {
	MemoryBytes int64   // memory limit; swap is not allowed on top of it
	CPUs        float64 // CFS quota, in CPUs (1.5 = 150ms per 100ms period)
	Pids        int64   // maximum number of processes
}

// Stdio connects a process to its caller. Nil streams are connected to /dev/null.
// With TTY, the process gets a new pty as its stdin, stdout and stderr: Stdin is copied
// to the pty master, the master's output to Stdout, and Stderr is unused.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	ConsoleSize    *[2]uint16 // initial {width, height} of the pty
}

// Spec describes one container and its first process.
type Spec struct {
	ID   string // container id, matching ^[\w+\-.]+$; names the state dir and the cgroup
	Root string // root filesystem, already prepared (e.g. an overlay's merged dir)
	Args []string
	// Env holds "K=V" pairs. PATH defaults to DefaultPath, HOME to the user's passwd
	// home (or "/"), and TERM to "xterm" when Stdio.TTY is set.
	Env []string
	// Cwd is absolute; "" means "/". Missing directories are created inside Root,
	// owned by the resolved user (as docker does for WORKDIR).
	Cwd string
	// User is "", "name", "uid", "uid:gid", "name:group", ... resolved against Root's
	// /etc/passwd and /etc/group; supplementary groups come from /etc/group.
	User     string
	Hostname string // "" means the first 12 characters of ID
	Mounts   []Mount
	Network  NetworkMode
	Limits   Limits

	ReadOnlyRoot bool
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS. Off by default, as in docker, so that
	// setuid programs (su, sudo, ping) keep working in builds.
	NoNewPrivileges bool
	// Capabilities lists the capabilities the process keeps ("CAP_" prefix optional).
	// Nil means docker's default set; an empty non-nil slice drops them all.
	Capabilities []string
	// Seccomp is the seccomp profile; nil runs unconfined. Setting it requires a
	// binary built with the "seccomp" tag (cgo + libseccomp).
	Seccomp *specs.LinuxSeccomp

	Stdio Stdio
	// Gate, when set, is called by Start once the container is set up and its init only
	// waits to execute Args; the command runs after Gate returns nil, and an error makes
	// Start fail with it (Destroy the container then). It lets work the command needs,
	// such as its network, overlap the container's setup instead of preceding it.
	Gate func() error
	// StateRoot is libcontainer's state dir, shared by all containers; created if
	// missing. "" means DefaultStateRoot.
	StateRoot string
	// CgroupParent is the cgroup (absolute, from each hierarchy's root) under which
	// every container gets its own cgroup named ID. "" means DefaultCgroupParent.
	CgroupParent string
}

// ProcessSpec describes an additional process run inside a started container.
type ProcessSpec struct {
	Args  []string
	Env   []string // defaults as for Spec.Env
	Cwd   string   // must exist in the container; "" means "/"
	User  string   // resolved against the container's /etc/passwd and /etc/group
	Stdio Stdio
}

var validID = regexp.MustCompile(`^[\w+\-.]+$`)

// withDefaults validates s and fills in its defaulted fields.
func (s Spec) withDefaults() (Spec, error) {
	if !validID.MatchString(s.ID) || s.ID == "." || s.ID == ".." {
		return s, fmt.Errorf("invalid container id %q: want letters, digits, _ + - .", s.ID)
	}
	if len(s.Args) == 0 {
		return s, errors.New("no command to run: Args is empty")
	}
	if !filepath.IsAbs(s.Root) {
		return s, fmt.Errorf("root %q: not an absolute path", s.Root)
	}
	if fi, err := os.Stat(s.Root); err != nil {
		return s, fmt.Errorf("stat root: %w", err)
	} else if !fi.IsDir() {
		return s, fmt.Errorf("root %s: not a directory", s.Root)
	}
	cwd, err := cleanCwd(s.Cwd)
	if err != nil {
		return s, err
	}
	s.Cwd = cwd
	if s.Hostname == "" {
		s.Hostname = s.ID[:min(len(s.ID), 12)]
	}
	if s.StateRoot == "" {
		s.StateRoot = DefaultStateRoot
	}
	if s.CgroupParent == "" {
		s.CgroupParent = DefaultCgroupParent
	}
	if !filepath.IsAbs(s.CgroupParent) {
		return s, fmt.Errorf("cgroup parent %q: not an absolute path", s.CgroupParent)
	}
	if p := s.Network.joinPath(); p != "" {
		if _, err := os.Stat(p); err != nil {
			return s, fmt.Errorf("network namespace: %w", err)
		}
	}
	for _, m := range s.Mounts {
		if err := m.validate(); err != nil {
			return s, err
		}
	}
	return s, nil
}

func cleanCwd(cwd string) (string, error) {
	if cwd == "" {
		return "/", nil
	}
	if !filepath.IsAbs(cwd) {
		return "", fmt.Errorf("working directory %q: not an absolute path", cwd)
	}
	return filepath.Clean(cwd), nil
}

func (m Mount) validate() error {
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf("mount destination %q: not an absolute path", m.Destination)
	}
	switch m.Type {
	case "", "bind":
		if !filepath.IsAbs(m.Source) {
			return fmt.Errorf("bind mount source %q: not an absolute path", m.Source)
		}
		if _, err := os.Stat(m.Source); err != nil {
			return fmt.Errorf("bind mount source: %w", err)
		}
	case "tmpfs":
	default:
		return fmt.Errorf("mount %s: unsupported type %q (want bind or tmpfs)", m.Destination, m.Type)
	}
	return nil
}

// processEnv returns env with PATH, HOME and (for a TTY) TERM added when absent.
func processEnv(env []string, home string, tty bool) []string {
	out := append([]string(nil), env...)
	has := func(key string) bool {
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); k == key {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		out = append(out, "PATH="+DefaultPath)
	}
	if !has("HOME") {
		out = append(out, "HOME="+home)
	}
	if tty && !has("TERM") {
		out = append(out, "TERM=xterm")
	}
	return out
}
