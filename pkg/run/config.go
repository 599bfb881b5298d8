package run

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"

	// Without it the cgroup manager cannot apply device rules and Create fails.
	_ "github.com/opencontainers/cgroups/devices"
)

// defaultCapabilities is docker's default set (moby oci/caps/defaults.go).
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Paths docker hides or makes read-only inside /proc and /sys (moby oci/defaults.go).
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// defaultMounts are the kernel filesystems every container gets. Only /proc, /dev and
// /sys are mount points in Root; the others live on the /dev tmpfs.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
}

// ociMount turns an extra Mount into its OCI form.
func (m Mount) ociMount() specs.Mount {
	var opts []string
	switch m.Type {
	case "tmpfs":
		opts = append([]string{"nosuid", "nodev"}, m.Options...)
		m.Source = "tmpfs"
	default:
		m.Type = "bind"
		opts = append([]string{"rbind"}, m.Options...)
	}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: filepath.Clean(m.Destination), Type: m.Type, Source: m.Source, Options: opts}
}

// ociSpec builds the OCI runtime spec for s (already defaulted) run as u.
func ociSpec(s Spec, u execUser) *specs.Spec {
	caps := capabilityNames(s.Capabilities)
	spec := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: s.Root, Readonly: s.ReadOnlyRoot},
		Hostname: s.Hostname,
		Process: &specs.Process{
			Args:            s.Args,
			Env:             processEnv(s.Env, u.Home, s.Stdio.TTY),
			Cwd:             s.Cwd,
			User:            specs.User{UID: uint32(u.UID), GID: uint32(u.GID)},
			NoNewPrivileges: s.NoNewPrivileges,
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			// No Rlimits: the container inherits ours (root here cannot raise them).
		},
		Mounts: defaultMounts(),
		Linux: &specs.Linux{
			CgroupsPath:   path.Join(s.CgroupParent, s.ID),
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
			Seccomp:       s.Seccomp,
			Resources:     resources(s.Limits),
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
		},
	}
	for _, m := range s.Mounts {
		spec.Mounts = append(spec.Mounts, m.ociMount())
	}
	if s.Network != NetworkHost {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces,
			specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.Network.joinPath()})
	}
	return spec
}

// resources maps Limits onto cgroup resources; the device rule denies everything
// but the default devices specconv adds after it.
func resources(l Limits) *specs.LinuxResources {
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	if l.MemoryBytes > 0 {
		r.Memory = &specs.LinuxMemory{Limit: &l.MemoryBytes}
		// memory+swap equal to memory: a process past the limit is OOM-killed
		// instead of being swapped out (docker allows 2x; builds want determinism).
		if swapAccounting() {
			r.Memory.Swap = &l.MemoryBytes
		}
	}
	if l.CPUs > 0 {
		period := uint64(100000)
		quota := int64(l.CPUs * float64(period))
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if l.Pids > 0 {
		r.Pids = &specs.LinuxPids{Limit: &l.Pids}
	}
	return r
}

// swapAccounting reports whether memory+swap can be limited: always on cgroup v2
// (libcontainer ignores a missing memory.swap.max there), only with
// memory.memsw.* files on v1.
func swapAccounting() bool {
	if cgroups.IsCgroup2UnifiedMode() {
		return true
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "memory")
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(mnt, "memory.memsw.limit_in_bytes"))
	return err == nil
}

// capabilityNames returns names in libcontainer's "CAP_X" form; nil means the defaults.
func capabilityNames(names []string) []string {
	if names == nil {
		return defaultCapabilities
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.ToUpper(n)
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		out = append(out, n)
	}
	return out
}

// libcontainerConfig converts s into libcontainer's config the way runc's CLI does.
func libcontainerConfig(s Spec, u execUser) (*configs.Config, error) {
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: s.ID,
		Spec:       ociSpec(s, u),
	})
	if err != nil {
		return nil, fmt.Errorf("convert spec of container %s: %w", s.ID, err)
	}
	return cfg, nil
}
