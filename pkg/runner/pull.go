package runner

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/pkg/push"
	"github.com/dockyard/dockyard/pkg/store"
)

// Pull fetches ref from its registry into the store, tagged ref, and returns the
// manifest digest. Layers are verified against their digests as they are written.
func (m *Manager) Pull(ctx context.Context, ref string) (v1.Hash, error) {
	normal, err := store.Normalize(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := push.Pull(ctx, ref, v1.Platform{}, m.opts.Registry)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := m.store.WriteImage(img, normal)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return d, nil
}
