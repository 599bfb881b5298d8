package run

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
)

// BenchmarkRunTrue measures the fixed cost of one container: create, start
// /bin/true on busybox, wait, destroy (the latency a build pays per RUN step).
//
//   - seccomp: with Docker's default profile, as the runner starts containers; the
//     difference is the filter's compilation in the container's init.
//   - idle: each start comes after 50 ms of quiet, as a `runner run` does, instead of
//     right after the previous one; the kernel's cgroup attach then waits for an RCU
//     grace period (see warm.go), which back-to-back starts do not.
//   - idle+warm: the same with WarmUp called 20 ms before Create, as the runner does
//     while it prepares the root.
func BenchmarkRunTrue(b *testing.B) {
	testutil.RequireRoot(b)
	root := testutil.BusyboxRootfs(b)
	profile, err := DefaultSeccomp(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name       string
		seccomp    bool
		idle, warm time.Duration
	}{
		{name: "plain"},
		{name: "seccomp", seccomp: true},
		{name: "idle", idle: 50 * time.Millisecond},
		{name: "idle+warm", idle: 30 * time.Millisecond, warm: 20 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.seccomp && !SeccompSupported() {
				testutil.Missing(b, "seccomp support (build with -tags seccomp)")
			}
			stateRoot := b.TempDir()
			i := 0
			for b.Loop() {
				i++
				s := Spec{
					ID: fmt.Sprintf("bench-true-%d", i), Root: root, Args: []string{"/bin/true"},
					StateRoot: stateRoot, CgroupParent: testCgroupParent,
				}
				if bc.seccomp {
					s.Seccomp, s.NoNewPrivileges = profile, true
				}
				cool := func() {}
				if bc.idle > 0 {
					b.StopTimer()
					time.Sleep(bc.idle)
					if bc.warm > 0 {
						cool = WarmUp()
						time.Sleep(bc.warm) // the caller's preparation
					}
					b.StartTimer()
				}
				code, err := Run(context.Background(), s)
				cool()
				if err != nil || code != 0 {
					b.Fatalf("Run = %d, %v", code, err)
				}
			}
		})
	}
}
