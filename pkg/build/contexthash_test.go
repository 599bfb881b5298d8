package build

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dockyard/dockyard/pkg/copier"
	"github.com/dockyard/dockyard/pkg/dockerfile"
)

func writeTree(t testing.TB, root string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		p := filepath.Join(root, fmt.Sprintf("d%02d/f%04d.txt", i%20, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func hashContext(t testing.TB, root, index string, patterns ...string) (string, int) {
	t.Helper()
	m, err := dockerfile.NewMatcher(patterns)
	if err != nil {
		t.Fatal(err)
	}
	h := newContextHasher(root, index)
	sum, err := h.hashSources([]string{"."}, copier.Options{Context: true, Filter: ignoreFilter{m}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.save(); err != nil {
		t.Fatal(err)
	}
	return sum, h.reads
}

// A rebuild reads only what changed; what changes is what the hash sees.
func TestContextHashReadsOnlyChangedFiles(t *testing.T) {
	root, index := t.TempDir(), t.TempDir()
	writeTree(t, root, 500)
	first, reads := hashContext(t, root, index)
	if reads != 500 {
		t.Fatalf("first hash read %d files, want 500", reads)
	}
	again, reads := hashContext(t, root, index)
	if reads != 0 || again != first {
		t.Errorf("unchanged context: read %d files, hash %s (was %s); want 0 reads, same hash", reads, again, first)
	}
	changed := filepath.Join(root, "d03/f0003.txt")
	os.WriteFile(changed, []byte("new content\n"), 0o644)
	third, reads := hashContext(t, root, index)
	if reads != 1 || third == first {
		t.Errorf("one file changed: read %d files, hash changed %v; want 1 read and a new hash", reads, third != first)
	}
	// Only the mtime changes (a fresh checkout): read again, same hash.
	future := time.Now().Add(time.Hour)
	os.Chtimes(changed, future, future)
	fourth, reads := hashContext(t, root, index)
	if reads != 1 || fourth != third {
		t.Errorf("mtime-only change: read %d, same hash %v; want 1 read and the same hash", reads, fourth == third)
	}
	// A mode change is content: the copy keeps modes.
	os.Chmod(changed, 0o755)
	if fifth, _ := hashContext(t, root, index); fifth == fourth {
		t.Error("a chmod did not change the hash")
	}
	// An ignored file changes nothing, and is never read.
	os.WriteFile(filepath.Join(root, "d00/f0000.txt"), []byte("ignored change"), 0o644)
	withIgnore, _ := hashContext(t, root, index, "d00")
	withIgnore2, reads := hashContext(t, root, index, "d00")
	if withIgnore != withIgnore2 || reads != 0 {
		t.Errorf("ignored files: hashes %s / %s, %d reads", withIgnore, withIgnore2, reads)
	}
}

func BenchmarkContextHashWarm(b *testing.B) {
	root, index := b.TempDir(), b.TempDir()
	writeTree(b, root, 20000)
	hashContext(b, root, index)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, reads := hashContext(b, root, index); reads != 0 {
			b.Fatalf("a warm hash read %d files", reads)
		}
	}
}
