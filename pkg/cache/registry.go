package cache

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/pkg/push"
	"github.com/dockyard/dockyard/pkg/store"
)

// Registry keeps entries in a registry repository, one tag per cache key.
type Registry struct {
	repo string
	opts push.Options
}

// NewRegistry uses repository repo with the caller's credentials and transport.
func NewRegistry(repo string, opts push.Options) *Registry {
	opts.Format = "" // entries go up as they are
	return &Registry{repo: repo, opts: opts}
}

func (r *Registry) String() string { return "registry " + r.repo }

// Lookup pulls the entry's manifest and config; the layer is read when the caller copies it.
func (r *Registry) Lookup(ctx context.Context, key string) (*store.CacheEntry, v1.Layer, error) {
	opts := r.opts
	opts.Progress = nil // a probe per step: only hits deserve a line
	opts.Retries = -1
	img, err := push.Pull(ctx, r.repo+":"+key, v1.Platform{}, opts)
	if errors.Is(err, push.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return entryOf(img, key)
}

// Export pushes every entry the repository does not hold yet.
func (r *Registry) Export(ctx context.Context, s *store.Store, entries []store.CacheEntry) error {
	for _, e := range entries {
		img, err := entryImage(e, storedLayer(s, e.Layer))
		if err != nil {
			return err
		}
		if _, err := push.Push(ctx, img, []string{r.repo + ":" + e.Key}, r.opts); err != nil {
			return fmt.Errorf("entry %s: %w", e.Key[:12], err)
		}
	}
	return nil
}
