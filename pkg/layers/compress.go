package layers

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"runtime"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names a layer blob's compression.
type Compression string

const (
	Gzip         Compression = "gzip" // the default: what every registry and runtime reads
	Zstd         Compression = "zstd"
	Uncompressed Compression = "none"
	// Bzip2 and Xz are only ever returned by Decompress: old Docker images and ADD'ed
	// archives may be compressed so, but OCI has no layer media type for writing them.
	Bzip2 Compression = "bzip2"
	Xz    Compression = "xz"
)

// Default levels, measured (BenchmarkWriteLayer*, and text / Go-binary inputs): klauspost
// gzip level 2 is as fast as level 1 and 3-6% smaller, level 6 costs 1.7x the time for
// 2-4% less; zstd "fastest" beats gzip 2 on both speed and size.
const (
	defaultGzipLevel = 2
	defaultZstdLevel = zstd.SpeedFastest
)

var (
	gzipMagic  = []byte{0x1f, 0x8b}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	bzip2Block = []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59} // pi: first block header
	bzip2End   = []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90} // sqrt(pi): empty stream trailer
)

// normalize maps the zero value to the default compression.
func (c Compression) normalize() Compression {
	if c == "" {
		return Gzip
	}
	return c
}

// MediaType is the OCI layer media type for blobs written with c.
func (c Compression) MediaType() (types.MediaType, error) {
	switch c.normalize() {
	case Gzip:
		return types.OCILayer, nil
	case Zstd:
		return types.OCILayerZStd, nil
	case Uncompressed:
		return types.OCIUncompressedLayer, nil
	}
	return "", fmt.Errorf("layer compression %q: not writable (want gzip, zstd or none)", c)
}

// newCompressor wraps w in the gzip or zstd compressor. Closing it flushes the compressed
// stream but does not close w.
func newCompressor(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c.normalize() {
	case Gzip:
		if level == 0 {
			level = defaultGzipLevel
		}
		zw, err := gzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, fmt.Errorf("create gzip writer: %w", err)
		}
		return zw, nil
	case Zstd:
		lvl := defaultZstdLevel
		if level != 0 {
			lvl = zstd.EncoderLevelFromZstd(level)
		}
		// Concurrent blocks split the stream into jobs whose size depends only on the
		// window, so the bytes do not depend on the CPU count; the library turns the mode
		// off below two workers, hence the floor: the digest must not vary by machine.
		zw, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(lvl),
			zstd.WithEncoderConcurrency(max(2, runtime.GOMAXPROCS(0))),
			zstd.WithConcurrentBlocks(true),
		)
		if err != nil {
			return nil, fmt.Errorf("create zstd writer: %w", err)
		}
		return zw, nil
	}
	return nil, fmt.Errorf("no compressor for %q", c)
}

// Decompress sniffs r's magic bytes (gzip, zstd, bzip2, xz, else plain tar) and returns the
// uncompressed stream with the compression found. Close releases decoder resources; it does
// not close r.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(10)
	if err != nil && err != io.EOF {
		return nil, "", fmt.Errorf("read layer header: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("open gzip stream: %w", err)
		}
		return newReadAhead(zr, zr), Gzip, nil
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("open zstd stream: %w", err)
		}
		return zr.IOReadCloser(), Zstd, nil
	case isBzip2(magic):
		return newReadAhead(bzip2.NewReader(br), noClose{}), Bzip2, nil
	case bytes.HasPrefix(magic, xzMagic):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("open xz stream: %w", err)
		}
		return newReadAhead(xr, noClose{}), Xz, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}

// isBzip2 checks the stream header and the first block magic, so that a plain tar whose
// first file happens to be named "BZh…" is not mistaken for bzip2.
func isBzip2(m []byte) bool {
	if len(m) < 10 || m[0] != 'B' || m[1] != 'Z' || m[2] != 'h' || m[3] < '1' || m[3] > '9' {
		return false
	}
	return bytes.Equal(m[4:10], bzip2Block) || bytes.Equal(m[4:10], bzip2End)
}
