package layers

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The benchmark tree (~200 MB): 8000 small text-like files of 1-16 KiB in 200 dirs, plus
// four 32 MiB files: two text-like, one random (like an embedded archive), one half
// zeros. Built once per process, removed by TestMain.
var bench struct {
	once    sync.Once
	dir     string
	tarPath string
	tarSize int64
	err     error
}

func benchTree(b *testing.B) (dir, tarPath string, tarSize int64) {
	b.Helper()
	bench.once.Do(func() { bench.err = makeBenchTree() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.dir, bench.tarPath, bench.tarSize
}

func makeBenchTree() error {
	base, err := os.MkdirTemp("", "layers-bench-")
	if err != nil {
		return err
	}
	bench.dir = filepath.Join(base, "tree")
	r := rand.New(rand.NewPCG(7, 7))
	text := semiText(r, 64<<20)
	write := func(rel string, data string) error {
		p := filepath.Join(bench.dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(data), 0o644)
	}
	for i := range 8000 {
		n := 1024 + r.IntN(15<<10)
		off := r.IntN(len(text) - n)
		if err := write(fmt.Sprintf("d%03d/f%04d", i%200, i), text[off:off+n]); err != nil {
			return err
		}
	}
	random := make([]byte, 32<<20)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	halfZero := append(bytes.Repeat([]byte{0}, 16<<20), random[:16<<20]...)
	for name, data := range map[string]string{"big/text1": text[:32<<20], "big/text2": text[32<<20:],
		"big/random": string(random), "big/halfzero": string(halfZero)} {
		if err := write(name, data); err != nil {
			return err
		}
	}
	bench.tarPath = filepath.Join(base, "tree.tar")
	f, err := os.Create(bench.tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := WriteTar(context.Background(), bench.dir, f, WriteOptions{}); err != nil {
		return err
	}
	st, err := f.Stat()
	bench.tarSize = st.Size()
	return err
}

func removeBenchTree() {
	if bench.dir != "" {
		os.RemoveAll(filepath.Dir(bench.dir))
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func benchWriteLayer(b *testing.B, opts WriteOptions) {
	dir, _, size := benchTree(b)
	b.SetBytes(size)
	var out countWriter
	for b.Loop() {
		out = countWriter{}
		if _, err := WriteLayer(context.Background(), dir, &out, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out.n)/float64(size), "ratio")
}

func BenchmarkWriteLayerGzip(b *testing.B) {
	for _, level := range []int{0, 1, 6} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) { benchWriteLayer(b, WriteOptions{Compression: Gzip, Level: level}) })
	}
}

func BenchmarkWriteLayerZstd(b *testing.B) {
	for _, level := range []int{0, 3} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) { benchWriteLayer(b, WriteOptions{Compression: Zstd, Level: level}) })
	}
}

func BenchmarkWriteLayerNone(b *testing.B) {
	benchWriteLayer(b, WriteOptions{Compression: Uncompressed})
}

// BenchmarkWriteLayerStdlibGzip is the baseline: the same tar through compress/gzip.
func BenchmarkWriteLayerStdlibGzip(b *testing.B) {
	for _, level := range []int{gzip.BestSpeed, gzip.DefaultCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			dir, _, size := benchTree(b)
			b.SetBytes(size)
			var out countWriter
			for b.Loop() {
				out = countWriter{}
				zw, _ := gzip.NewWriterLevel(&out, level)
				if err := WriteTar(context.Background(), dir, zw, WriteOptions{}); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.n)/float64(size), "ratio")
		})
	}
}

// BenchmarkExtract unpacks the tree's tar (plain, and gzip through Decompress) into a
// fresh dir each time; on ext4 file creation, not our code, dominates.
func BenchmarkExtract(b *testing.B) {
	_, tarPath, size := benchTree(b)
	gz := filepath.Join(filepath.Dir(tarPath), "tree.tar.gz")
	b.Run("tar", func(b *testing.B) { benchExtract(b, tarPath, size) })
	b.Run("gzip", func(b *testing.B) {
		if _, err := os.Stat(gz); err != nil {
			f, err := os.Create(gz)
			must(b, err)
			_, err = WriteLayer(context.Background(), filepath.Join(filepath.Dir(tarPath), "tree"), f, WriteOptions{})
			must(b, err)
			must(b, f.Close())
		}
		benchExtract(b, gz, size)
	})
}

func benchExtract(b *testing.B, path string, size int64) {
	b.SetBytes(size)
	base := b.TempDir()
	for i := 0; b.Loop(); i++ {
		f, err := os.Open(path)
		must(b, err)
		rc, _, err := Decompress(f)
		must(b, err)
		root := filepath.Join(base, fmt.Sprint(i))
		if err := Extract(context.Background(), rc, root, ExtractOptions{}); err != nil {
			b.Fatal(err)
		}
		rc.Close()
		f.Close()
		b.StopTimer()
		must(b, os.RemoveAll(root))
		b.StartTimer()
	}
}
