package cache

import (
	"context"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"

	"github.com/dockyard/dockyard/pkg/store"
)

const refName = "org.opencontainers.image.ref.name"

// Local keeps entries in an OCI image layout directory, one ref name per cache key.
type Local struct{ dir string }

// NewLocal uses the layout at dir (created by the first Export).
func NewLocal(dir string) *Local { return &Local{dir: dir} }

func (l *Local) String() string { return "directory " + l.dir }

func (l *Local) Lookup(ctx context.Context, key string) (*store.CacheEntry, v1.Layer, error) {
	p, err := layout.FromPath(l.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	for _, d := range m.Manifests {
		if d.Annotations[refName] != key {
			continue
		}
		img, err := p.Image(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		return entryOf(img, key)
	}
	return nil, nil, nil
}

// Export adds the entries the layout lacks (replacing an entry of the same key).
func (l *Local) Export(ctx context.Context, s *store.Store, entries []store.CacheEntry) error {
	p, err := layout.FromPath(l.dir)
	if err != nil {
		if p, err = layout.Write(l.dir, empty.Index); err != nil {
			return fmt.Errorf("create cache layout %s: %w", l.dir, err)
		}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, err := entryImage(e, storedLayer(s, e.Layer))
		if err != nil {
			return err
		}
		err = p.ReplaceImage(img, match.Annotation(refName, e.Key), layout.WithAnnotations(map[string]string{refName: e.Key}))
		if err != nil {
			return fmt.Errorf("entry %s: %w", e.Key[:12], err)
		}
	}
	return nil
}
