package build

import (
	"context"
	"fmt"
	"os"

	"github.com/dockyard/dockyard/pkg/snapshot"
)

// fsStep runs change on a fresh root made of the stage's layers and turns what it changed
// into the stage's next layer, recorded in history as createdBy. Whatever happens, the
// root is unmounted and its scratch removed before fsStep returns.
func (s *stage) fsStep(ctx context.Context, createdBy string, stubs []snapshot.Stub, change func(root string) error) error {
	return s.fsStepOn(ctx, s.dirs, createdBy, stubs, change)
}

// fsStepOn is fsStep on a root made of lowers rather than the stage's layers.
func (s *stage) fsStepOn(ctx context.Context, lowers []string, createdBy string, stubs []snapshot.Stub, change func(root string) error) error {
	m, err := s.b.snap.Prepare(ctx, lowers, stubs)
	if err != nil {
		return err
	}
	if err := change(m.Root); err != nil {
		s.b.snap.Release(context.WithoutCancel(ctx), m)
		return err
	}
	diff, err := s.b.snap.Commit(ctx, m)
	if err != nil {
		s.b.snap.Release(context.WithoutCancel(ctx), m)
		return err
	}
	layer, err := s.b.store.WriteLayerDir(ctx, diff, s.b.layerOptions())
	if err != nil {
		os.RemoveAll(diff)
		return fmt.Errorf("write layer: %w", err)
	}
	desc := layer.Descriptor()
	s.layers = append(s.layers, layer)
	s.dirs = append([]string{s.b.store.LayerDir(desc.DiffID)}, s.dirs...)
	s.cfg.RootFS.Type = "layers"
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, desc.DiffID)
	s.history(createdBy, true)
	return nil
}
