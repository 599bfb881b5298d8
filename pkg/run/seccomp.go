package run

import (
	"fmt"
	"slices"

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
//
// One difference: the x32 ABI is left out of the architectures (x86_64 and x86, 32-bit
// programs, stay), so an x32 system call kills the calling thread instead of being
// filtered like the others. libcontainer compiles the filter in every container's init,
// and libseccomp's compilation time grows with the square of the whole program: x32's
// third copy of the rules made it 26 ms per start instead of 14 ms. Hardly anything uses
// x32 (distributions ship no x32 userland and most kernels, Debian's included, disable
// the ABI), so Docker's filter is otherwise kept rule for rule.
func DefaultSeccomp(caps []string) (*specs.LinuxSeccomp, error) {
	names := capabilityNames(caps)
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: names, Effective: names, Permitted: names,
	}}}
	p, err := profiles.GetDefaultProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	p.Architectures = slices.DeleteFunc(p.Architectures, func(a specs.Arch) bool { return a == specs.ArchX32 })
	return p, nil
}
