// Package layers turns layer directories into OCI layer blobs and back.
//
// A layer directory has, by default, the format of a kernel overlayfs upper dir (mounted
// with redirect_dir=off, metacopy=off, index=off): a deleted path is a character device 0/0
// and a directory hiding its lower contents carries trusted.overlay.opaque=y. Where a
// filesystem cannot hold those (overlayfs itself), a layer dir has the DirOCI format
// instead, the tar's own marker files. WriteTar and WriteLayer convert either into OCI
// whiteouts (.wh.<name>, .wh..wh..opq), the same bytes for the same layer; Extract
// converts them back, or applies them when flattening several layers into one root
// filesystem.
//
// The package is Linux-only (openat2, xattrs, mknod) and never prints.
package layers

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteOptions controls how a layer directory becomes a blob.
type WriteOptions struct {
	Compression Compression // "" means Gzip
	// Level is the compressor's level (gzip 1-9, zstd 1-22 mapped to the encoder's
	// presets); 0 picks a fast default chosen for throughput.
	Level int
	// SourceDateEpoch, when set, clamps every mtime later than it (reproducible builds).
	SourceDateEpoch *time.Time
	// Format is how the layer dir records deletions (DirOverlay unless set).
	Format DirFormat
}

// Descriptor identifies a written layer blob.
type Descriptor struct {
	Digest    v1.Hash         // sha256 of the compressed bytes written
	DiffID    v1.Hash         // sha256 of the uncompressed tar
	Size      int64           // number of compressed bytes written
	MediaType types.MediaType // OCI layer media type for the compression
}

// WriteLayer streams dir as an OCI layer blob to w in one pass: tar → diffID hash →
// compressor → digest hash and byte count → w. It never holds the layer in memory; the
// compressor runs on a second goroutine so that it overlaps with reading the files.
func WriteLayer(ctx context.Context, dir string, w io.Writer, opts WriteOptions) (Descriptor, error) {
	mediaType, err := opts.Compression.MediaType()
	if err != nil {
		return Descriptor{}, err
	}
	if opts.Compression.normalize() == Uncompressed {
		return writeUncompressed(ctx, dir, w, opts, mediaType)
	}
	blob := &hashingWriter{w: w, h: sha256.New()}
	// Compressors emit many small writes; batching them keeps syscalls on w large.
	blobBuf := bufio.NewWriterSize(blob, 1<<20)
	comp, err := newCompressor(blobBuf, opts.Compression, opts.Level)
	if err != nil {
		return Descriptor{}, err
	}
	async := newAsyncWriter(comp)
	diff := &hashingWriter{w: async, h: sha256.New()}
	// Always stop the goroutine and the encoder; WriteTar's error, if any, comes first.
	err = errors.Join(WriteTar(ctx, dir, diff, opts), async.Close(), comp.Close())
	if err == nil {
		err = blobBuf.Flush()
	}
	if err != nil {
		return Descriptor{}, fmt.Errorf("write layer of %s: %w", dir, err)
	}
	return Descriptor{Digest: blob.sum(), DiffID: diff.sum(), Size: blob.n, MediaType: mediaType}, nil
}

// writeUncompressed writes the tar itself as the blob: one hash is digest and diffID.
func writeUncompressed(ctx context.Context, dir string, w io.Writer, opts WriteOptions, mt types.MediaType) (Descriptor, error) {
	out := &hashingWriter{w: w, h: sha256.New()}
	if err := WriteTar(ctx, dir, out, opts); err != nil {
		return Descriptor{}, fmt.Errorf("write layer of %s: %w", dir, err)
	}
	sum := out.sum()
	return Descriptor{Digest: sum, DiffID: sum, Size: out.n, MediaType: mt}, nil
}

// WriteTar writes dir as an uncompressed, deterministic PAX tar (see package doc for the
// whiteout conversion). Same directory contents give byte-identical output.
func WriteTar(ctx context.Context, dir string, w io.Writer, opts WriteOptions) error {
	// Tar headers are 512-byte writes; buffering spares the compressor and hashes the
	// per-call overhead.
	bw := bufio.NewWriterSize(w, 256<<10)
	tw := newTarWalker(ctx, dir, bw, opts)
	if err := tw.run(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write tar of %s: %w", dir, err)
	}
	return nil
}

// hashingWriter forwards to w while hashing and counting what w accepted.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func (hw *hashingWriter) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", hw.h.Sum(nil))}
}
