package store

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/dockyard/dockyard/pkg/layers"
)

// Layer is a layer blob the store holds, with everything about it already known, so
// nothing is read to answer Digest, DiffID or Size.
type Layer struct {
	s    *Store
	desc layers.Descriptor
}

var _ v1.Layer = (*Layer)(nil)

// Layer returns the stored layer described by desc.
func (s *Store) Layer(desc layers.Descriptor) *Layer { return &Layer{s: s, desc: desc} }

func (l *Layer) Digest() (v1.Hash, error)             { return l.desc.Digest, nil }
func (l *Layer) DiffID() (v1.Hash, error)             { return l.desc.DiffID, nil }
func (l *Layer) Size() (int64, error)                 { return l.desc.Size, nil }
func (l *Layer) MediaType() (types.MediaType, error)  { return l.desc.MediaType, nil }
func (l *Layer) Compressed() (io.ReadCloser, error)   { return l.s.OpenBlob(l.desc.Digest) }
func (l *Layer) Descriptor() layers.Descriptor        { return l.desc }
func (l *Layer) Uncompressed() (io.ReadCloser, error) { return l.uncompressed() }

func (l *Layer) uncompressed() (io.ReadCloser, error) {
	f, err := l.s.OpenBlob(l.desc.Digest)
	if err != nil {
		return nil, err
	}
	rc, _, err := layers.Decompress(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layer %s: %w", l.desc.Digest, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{rc, closers{rc, f}}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	var first error
	for _, x := range c {
		if err := x.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// WriteLayerDir turns a finished layer directory (a committed snapshot) in the store's
// layer format into a stored layer: the blob is written and verified, then the directory
// moves into place as the layer's extracted dir, ready to be a lower of the next step.
// opts.Format is the store's, whatever the caller set.
func (s *Store) WriteLayerDir(ctx context.Context, dir string, opts layers.WriteOptions) (*Layer, error) {
	opts.Format = s.format
	bw, err := s.NewBlobWriter()
	if err != nil {
		return nil, err
	}
	desc, err := layers.WriteLayer(ctx, dir, bw, opts)
	if err != nil {
		bw.Abort()
		return nil, err
	}
	if _, err := bw.Commit(desc.Digest); err != nil {
		return nil, err
	}
	if _, err := s.CommitLayerDir(dir, desc.DiffID); err != nil {
		return nil, err
	}
	return s.Layer(desc), nil
}
