package run

import (
	"fmt"

	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	profiles "github.com/moby/profiles/seccomp"
)

// SeccompSupported reports whether this binary can load seccomp profiles: it must be
// built with the "seccomp" tag (cgo and libseccomp).
func SeccompSupported() bool { return lcseccomp.Enabled }

// DefaultSeccomp returns Docker's default seccomp profile for a process keeping caps
// (nil: docker's default set, as Spec.Capabilities): the syscalls a capability unlocks
// (mount with CAP_SYS_ADMIN, ...) are allowed only if the process has it.
func DefaultSeccomp(caps []string) (*specs.LinuxSeccomp, error) {
	names := capabilityNames(caps)
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: names, Effective: names, Permitted: names,
	}}}
	p, err := profiles.GetDefaultProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	return p, nil
}
