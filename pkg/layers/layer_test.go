package layers

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func sha(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

func TestWriteLayer(t *testing.T) {
	d := t.TempDir()
	buildTree(t, d)
	writeFile(t, d+"/big", semiText(rand.New(rand.NewPCG(1, 2)), 3<<20), 0o644)
	plain := writeTarBytes(t, d, WriteOptions{})
	tests := []struct {
		opts      WriteOptions
		found     Compression
		mediaType types.MediaType
	}{
		{WriteOptions{}, Gzip, types.OCILayer},
		{WriteOptions{Compression: Gzip, Level: 9}, Gzip, types.OCILayer},
		{WriteOptions{Compression: Zstd}, Zstd, types.OCILayerZStd},
		{WriteOptions{Compression: Zstd, Level: 19}, Zstd, types.OCILayerZStd},
		{WriteOptions{Compression: Uncompressed}, Uncompressed, types.OCIUncompressedLayer},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%d", tc.found, tc.opts.Level), func(t *testing.T) {
			var blob bytes.Buffer
			desc, err := WriteLayer(context.Background(), d, &blob, tc.opts)
			must(t, err)
			if desc.Size != int64(blob.Len()) || desc.Digest != sha(blob.Bytes()) || desc.MediaType != tc.mediaType {
				t.Errorf("descriptor %+v does not match blob (%d bytes, %v)", desc, blob.Len(), sha(blob.Bytes()))
			}
			rc, found, err := Decompress(bytes.NewReader(blob.Bytes()))
			must(t, err)
			raw, err := io.ReadAll(rc)
			must(t, err)
			must(t, rc.Close())
			if found != tc.found || desc.DiffID != sha(raw) || !bytes.Equal(raw, plain) {
				t.Errorf("decompressed as %s: diffID %v vs %v, equal to WriteTar: %v", found, desc.DiffID, sha(raw), bytes.Equal(raw, plain))
			}
			if tc.found != Uncompressed && desc.Size >= int64(len(plain)) {
				t.Errorf("compressed %d bytes into %d", len(plain), desc.Size)
			}
			verifyWithGGCR(t, blob.Bytes(), desc)
		})
	}
}

// verifyWithGGCR lets go-containerregistry compute digest and diffID independently.
func verifyWithGGCR(t *testing.T, blob []byte, desc Descriptor) {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	})
	must(t, err)
	digest, err := l.Digest()
	must(t, err)
	diffID, err := l.DiffID()
	must(t, err)
	if desc.MediaType == types.OCIUncompressedLayer {
		digest = desc.Digest // ggcr gzips an uncompressed blob, so only the diffID compares
	}
	if digest != desc.Digest || diffID != desc.DiffID {
		t.Errorf("ggcr: digest %v diffID %v; ours %v %v", digest, diffID, desc.Digest, desc.DiffID)
	}
}

func TestWriteLayerBadCompression(t *testing.T) {
	_, err := WriteLayer(context.Background(), t.TempDir(), io.Discard, WriteOptions{Compression: "lz4"})
	if err == nil || !strings.Contains(err.Error(), "lz4") {
		t.Fatalf("err = %v, want one naming lz4", err)
	}
}

// TestZstdIndependentOfCPUs: the digest of a zstd layer must not depend on the machine.
func TestZstdIndependentOfCPUs(t *testing.T) {
	data := []byte(semiText(rand.New(rand.NewPCG(3, 4)), 40<<20)) // several parallel jobs
	compress := func(procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var out bytes.Buffer
		zw, err := newCompressor(&out, Zstd, 0)
		must(t, err)
		_, err = zw.Write(data)
		must(t, err)
		must(t, zw.Close())
		return out.Bytes()
	}
	one := compress(1)
	for _, procs := range []int{2, 3, 8} {
		if got := compress(procs); !bytes.Equal(got, one) {
			t.Errorf("GOMAXPROCS=%d gives %d bytes %v, GOMAXPROCS=1 gives %d bytes %v", procs, len(got), sha(got), len(one), sha(one))
		}
	}
}

func TestDecompress(t *testing.T) {
	plain := tarOf(t, nil, nil)
	bz := bzip2Of(t, plain)
	tests := []struct {
		name  string
		in    []byte
		want  Compression
		plain []byte
	}{
		{"tar", plain, Uncompressed, plain},
		{"empty", nil, Uncompressed, nil},
		{"tar whose first name starts BZh", tarOf(t, []*tar.Header{reg("BZh9-not-bzip2")}, nil), Uncompressed, nil},
		{"bzip2", bz, Bzip2, plain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, got, err := Decompress(bytes.NewReader(tc.in))
			must(t, err)
			out, err := io.ReadAll(rc)
			must(t, err)
			want := tc.plain
			if want == nil {
				want = tc.in
			}
			if got != tc.want || !bytes.Equal(out, want) {
				t.Errorf("Decompress = %s, %d bytes; want %s, %d bytes", got, len(out), tc.want, len(want))
			}
		})
	}
}

func bzip2Of(t *testing.T, data []byte) []byte {
	bin := testutil.RequireBinary(t, "bzip2")
	cmd := exec.Command(bin, "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	must(t, err)
	// Cross-check with the standard library before trusting it as a fixture.
	back, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(out)))
	must(t, err)
	if !bytes.Equal(back, data) {
		t.Fatal("bzip2 fixture does not round-trip")
	}
	return out
}

// semiText is compressible like source code or text: words from a small vocabulary, with
// a sprinkle of random bytes.
func semiText(r *rand.Rand, n int) string {
	words := make([]string, 512)
	for i := range words {
		b := make([]byte, 2+r.IntN(9))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(b)
	}
	var sb strings.Builder
	sb.Grow(n + 16)
	for sb.Len() < n {
		if r.IntN(20) == 0 {
			for range 8 {
				sb.WriteByte(byte(r.Uint32()))
			}
			continue
		}
		sb.WriteString(words[r.IntN(len(words))])
		sb.WriteByte(" \n"[r.IntN(2)])
	}
	return sb.String()[:n]
}

type failingWriter struct{ left int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errDiskFull
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWriteLayerWriterError(t *testing.T) {
	d := t.TempDir()
	writeFile(t, d+"/big", semiText(rand.New(rand.NewPCG(5, 6)), 8<<20), 0o644)
	for _, c := range []Compression{Gzip, Zstd, Uncompressed} {
		_, err := WriteLayer(context.Background(), d, &failingWriter{left: 100 << 10}, WriteOptions{Compression: c})
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s: err = %v, want the writer's error", c, err)
		}
	}
}

// TestDecompressCloseEarly: closing before the end stops the read-ahead goroutine.
func TestDecompressCloseEarly(t *testing.T) {
	blob := gzipOf(t, []byte(semiText(rand.New(rand.NewPCG(8, 9)), 16<<20)))
	rc, _, err := Decompress(bytes.NewReader(blob))
	must(t, err)
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rc.Close() }()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung with unread data")
	}
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
}
