package run

import (
	"context"
	"fmt"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// BenchmarkRunTrue measures the fixed cost of one container: create, start
// /bin/true on busybox, wait, destroy (the latency a build pays per RUN step).
func BenchmarkRunTrue(b *testing.B) {
	testutil.RequireRoot(b)
	root := testutil.BusyboxRootfs(b)
	stateRoot := b.TempDir()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		s := Spec{
			ID: fmt.Sprintf("bench-true-%d", i), Root: root, Args: []string{"/bin/true"},
			StateRoot: stateRoot, CgroupParent: testCgroupParent,
		}
		if code, err := Run(ctx, s); err != nil || code != 0 {
			b.Fatalf("Run = %d, %v", code, err)
		}
	}
}
