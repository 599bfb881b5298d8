package run

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/dockyard/dockyard/internal/testutil"
)

func TestDefaultSeccompArchitectures(t *testing.T) {
	p, err := DefaultSeccomp(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.Architectures, specs.ArchX86_64) || !slices.Contains(p.Architectures, specs.ArchX86) {
		t.Errorf("architectures %v: want x86_64 and x86 kept", p.Architectures)
	}
	if slices.Contains(p.Architectures, specs.ArchX32) {
		t.Errorf("architectures %v: x32 should be left out", p.Architectures)
	}
	if p.DefaultAction != specs.ActErrno || len(p.Syscalls) < 10 {
		t.Errorf("not Docker's profile: default %s, %d rule groups", p.DefaultAction, len(p.Syscalls))
	}
}

// TestDefaultSeccompX86: 32-bit x86 programs still run under Docker's profile, and their
// system calls are filtered like 64-bit ones. The program calls unshare(CLONE_NEWUSER)
// through int 0x80 and exits with the errno: 0 unconfined, EPERM (1) with the profile;
// an architecture missing from the filter would kill it at its first call (159, SIGSYS).
func TestDefaultSeccompX86(t *testing.T) {
	t.Parallel()
	if !SeccompSupported() {
		testutil.Missing(t, "seccomp support (build with -tags seccomp)")
	}
	if _, err := os.Stat("/proc/sys/abi/vsyscall32"); err != nil {
		testutil.Missing(t, "32-bit x86 emulation in the kernel: %v", err)
	}
	profile, err := DefaultSeccomp(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		confined bool
		want     int
	}{{false, 0}, {true, 1}} {
		s, out := newSpec(t, "/unshare32")
		if err := os.WriteFile(filepath.Join(s.Root, "unshare32"), unshareUserNS386(), 0o755); err != nil {
			t.Fatal(err)
		}
		if tc.confined {
			s.Seccomp, s.NoNewPrivileges = profile, true
		}
		code, err := Run(context.Background(), s)
		if err != nil || code != tc.want {
			t.Errorf("confined=%v: Run = %d, %v; want %d; output:\n%s", tc.confined, code, err, tc.want, out.String())
		}
	}
}

// unshareUserNS386 is a static i386 ELF executable: unshare(CLONE_NEWUSER), then exit
// with the negated result (the errno, or 0).
func unshareUserNS386() []byte {
	const base, hdrs = 0x08048000, 52 + 32
	code := []byte{
		0xb8, 0x36, 0x01, 0x00, 0x00, // mov eax, 310 (unshare)
		0xbb, 0x00, 0x00, 0x00, 0x10, // mov ebx, CLONE_NEWUSER
		0xcd, 0x80, // int 0x80
		0xf7, 0xd8, // neg eax
		0x89, 0xc3, // mov ebx, eax
		0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 (exit)
		0xcd, 0x80, // int 0x80
	}
	size := uint32(hdrs + len(code))
	var b bytes.Buffer
	le := func(v ...any) {
		for _, x := range v {
			_ = binary.Write(&b, binary.LittleEndian, x)
		}
	}
	b.Write([]byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	le(uint16(2), uint16(3), uint32(1), uint32(base+hdrs), uint32(52), uint32(0), uint32(0),
		uint16(52), uint16(32), uint16(1), uint16(40), uint16(0), uint16(0))
	le(uint32(1), uint32(0), uint32(base), uint32(base), size, size, uint32(5), uint32(0x1000))
	b.Write(code)
	return b.Bytes()
}
