package build

import (
	"context"
	"fmt"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/pkg/snapshot"
	"github.com/dockyard/dockyard/pkg/store"
)

// fsStep runs change on a fresh root made of the stage's layers and turns what it changed
// into the stage's next layer, recorded in history as createdBy. Whatever happens, the
// root is unmounted and its scratch removed before fsStep returns.
//
// With a cache key, a step the cache already holds is not run at all: its layer and
// history entry are reused, and fsStep reports cached.
func (s *stage) fsStep(ctx context.Context, key, createdBy string, stubs []snapshot.Stub, change func(root string) error) (cached bool, err error) {
	return s.fsStepOn(ctx, s.dirs, key, createdBy, stubs, change)
}

// fsStepOn is fsStep on a root made of lowers rather than the stage's layers.
func (s *stage) fsStepOn(ctx context.Context, lowers []string, key, createdBy string, stubs []snapshot.Stub, change func(root string) error) (bool, error) {
	if key != "" && s.b.cacheReads(s.ps.DisplayName()) {
		e, ok := s.b.store.CacheGet(key, s.b.opts.CacheTTL)
		if !ok {
			e, ok = s.b.remoteCached(ctx, key)
		}
		if ok {
			if err := s.addCached(ctx, e); err == nil {
				return true, nil
			}
		}
	}
	m, err := s.b.snap.Prepare(ctx, lowers, stubs)
	if err != nil {
		return false, err
	}
	if err := change(m.Root); err != nil {
		s.b.snap.Release(context.WithoutCancel(ctx), m)
		return false, err
	}
	diff, err := s.b.snap.Commit(ctx, m)
	if err != nil {
		s.b.snap.Release(context.WithoutCancel(ctx), m)
		return false, err
	}
	layer, err := s.b.store.WriteLayerDir(ctx, diff, s.b.layerOptions())
	if err != nil {
		os.RemoveAll(diff)
		return false, fmt.Errorf("write layer: %w", err)
	}
	created := s.b.now()
	s.addLayer(layer, createdBy, created)
	if key != "" {
		e := store.CacheEntry{Key: key, Layer: layer.Descriptor(), CreatedBy: createdBy, Created: created}
		if err := s.b.store.CachePut(e); err != nil {
			s.b.progress.printf("WARNING: cannot record the step in the build cache: %v\n", err)
		}
		s.b.exportCache(e)
	}
	return false, nil
}

// addCached reuses a cached step's layer, extracting its dir if the store lost it.
func (s *stage) addCached(ctx context.Context, e *store.CacheEntry) error {
	layer := s.b.store.Layer(e.Layer)
	if err := s.b.store.EnsureLayerDir(ctx, layer); err != nil {
		return err
	}
	s.addLayer(layer, e.CreatedBy, e.Created)
	s.b.exportCache(*e)
	return nil
}

func (s *stage) addLayer(layer *store.Layer, createdBy string, created time.Time) {
	desc := layer.Descriptor()
	s.layers = append(s.layers, layer)
	s.dirs = append([]string{s.b.store.LayerDir(desc.DiffID)}, s.dirs...)
	s.cfg.RootFS.Type = "layers"
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, desc.DiffID)
	s.lastTime = created
	s.cfg.History = append(s.cfg.History, v1.History{
		Created: v1.Time{Time: created}, CreatedBy: createdBy, Comment: historyComment,
	})
}
