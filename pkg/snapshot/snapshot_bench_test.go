package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
	"golang.org/x/sys/unix"
)

// BenchmarkStepSnapshot is the snapshot cost of one build step that changes one file
// (`RUN touch /x`): Prepare on the lowers, the change, Commit. The upper dir is the diff,
// so nothing walks the lowers and the time must stay flat however many files or layers
// lie below: compare the sub-benchmarks' ns/op.
//
//	go test -run '^$' -bench StepSnapshot ./pkg/snapshot
func BenchmarkStepSnapshot(b *testing.B) {
	testutil.RequireRoot(b)
	cases := []struct {
		layers, filesPerLayer, size int
	}{
		{1, 100, 4096},
		{1, 10_000, 4096},
		{1, 50_000, 1024},
		{20, 1000, 1024},
		{100, 500, 1024},
	}
	for _, c := range cases {
		name := fmt.Sprintf("layers=%d/files=%d", c.layers, c.layers*c.filesPerLayer)
		b.Run(name, func(b *testing.B) {
			lowers := benchLowers(b, c.layers, c.filesPerLayer, c.size)
			ov, err := NewOverlay(filepath.Join(b.TempDir(), "work"))
			if err != nil {
				b.Fatal(err)
			}
			// Flush the lowers just written, or the first unmount pays for them (below).
			unix.Sync()
			for b.Loop() {
				stepSnapshot(b, ov, lowers)
			}
			b.ReportMetric(float64(c.layers*c.filesPerLayer), "lower-files")
		})
	}
}

// BenchmarkStepSnapshotDirtyDisk is BenchmarkStepSnapshot on a small root while something
// else (another step's COPY, another build, a test) has left 64 MiB unwritten on the same
// filesystem. Unmounting an overlay syncs its whole upper filesystem (ovl_sync_fs ->
// sync_filesystem of the upper sb, skipped only with the "volatile" mount option), so
// each step pays for every dirty page on that disk: compare with layers=1/files=100.
func BenchmarkStepSnapshotDirtyDisk(b *testing.B) {
	testutil.RequireRoot(b)
	lowers := benchLowers(b, 1, 100, 4096)
	work := filepath.Join(b.TempDir(), "work")
	ov, err := NewOverlay(work)
	if err != nil {
		b.Fatal(err)
	}
	dirty := filepath.Join(b.TempDir(), "dirty")
	junk := make([]byte, 64<<20)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	unix.Sync()
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(dirty, junk, 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		stepSnapshot(b, ov, lowers)
	}
}

// stepSnapshot is one `RUN touch /x`, as far as the snapshotter sees it.
func stepSnapshot(b *testing.B, ov *Overlay, lowers []string) {
	ctx := context.Background()
	m, err := ov.Prepare(ctx, lowers, DefaultStubs)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.Root, "x"), nil, 0o644); err != nil {
		ov.Release(ctx, m)
		b.Fatal(err)
	}
	diff, err := ov.Commit(ctx, m)
	if err != nil {
		b.Fatal(err)
	}
	// The diff must be the change alone: a snapshot that copied up or walked would show
	// here as extra entries (and as time).
	entries, err := os.ReadDir(diff)
	if err != nil || len(entries) != 1 || entries[0].Name() != "x" {
		b.Fatalf("diff = %v, %v; want just x", entries, err)
	}
	if err := os.RemoveAll(diff); err != nil {
		b.Fatal(err)
	}
}

// benchLowers makes layers directories of files each (in dirs of 100), and returns them top
// first. The bottom one has a root's skeleton but, like busybox, no /etc/hosts: every
// Prepare then builds the stub layer, as in a real build step.
func benchLowers(b *testing.B, layers, files, size int) []string {
	b.Helper()
	base := b.TempDir()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	lowers := make([]string, layers)
	for l := range layers {
		dir := filepath.Join(base, fmt.Sprintf("layer%03d", l))
		for f := range files {
			p := filepath.Join(dir, fmt.Sprintf("usr/share/l%03d/d%03d/f%05d", l, f/100, f))
			if f%100 == 0 {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		lowers[layers-1-l] = dir
	}
	for _, d := range []string{"proc", "sys", "dev", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(lowers[layers-1], d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	return lowers
}
