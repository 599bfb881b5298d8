package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/pkg/dockerfile"
	"github.com/dockyard/dockyard/pkg/store"
)

// from starts the stage from its base: a previous stage, scratch, or an image.
func (s *stage) from(ctx context.Context) error {
	ps, b := s.ps, s.b
	display := ps.Base
	if ps.BaseStage != nil {
		display = ps.BaseStage.DisplayName()
	}
	v := b.progress.begin("%s", s.label("FROM "+display))
	var fromVars *dockerfile.Vars
	switch {
	case ps.BaseStage != nil:
		base := b.stages[ps.BaseStage]
		s.cfg = base.cfg.DeepCopy()
		s.layers = slices.Clone(base.layers)
		s.dirs = slices.Clone(base.dirs)
		fromVars = base.vars
	case strings.EqualFold(ps.Base, "scratch"):
		s.cfg = &v1.ConfigFile{
			OS:           ps.TargetPlatform.OS,
			Architecture: ps.TargetPlatform.Architecture,
			Variant:      ps.TargetPlatform.Variant,
			RootFS:       v1.RootFS{Type: "layers"},
		}
	default:
		if err := s.fromImage(ctx, ps.Base); err != nil {
			err = b.df.ErrorAt(ps.Line, err)
			v.fail(err)
			return err
		}
	}
	if !slices.ContainsFunc(s.cfg.Config.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		// As BuildKit: an image without PATH gets the default one, so RUN finds its tools.
		s.cfg.Config.Env = append(s.cfg.Config.Env, dockerfile.DefaultPathEnv)
	}
	s.vars = ps.NewVars(s.cfg.Config.Env, fromVars)
	if ps.BaseStage != nil {
		s.lastTime = b.stages[ps.BaseStage].lastTime
	} else {
		s.lastTime = s.cfg.Created.Time
	}
	s.baseTime = s.lastTime
	if s.baseTime.IsZero() {
		s.baseTime = time.Unix(0, 0)
	}
	v.done()
	return nil
}

func (s *stage) fromImage(ctx context.Context, ref string) error {
	normal, err := store.Normalize(ref)
	if err != nil {
		return fmt.Errorf("FROM %s: %w", ref, err)
	}
	img, err := s.b.image(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("FROM %s: image %s is not in the local store (make it with `builder import`, or pull it)", ref, normal)
	}
	if err != nil {
		return fmt.Errorf("FROM %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("FROM %s: config: %w", ref, err)
	}
	want := s.ps.TargetPlatform
	if cfg.OS != "" && (cfg.OS != want.OS || cfg.Architecture != want.Architecture) {
		return fmt.Errorf("FROM %s: the image is for %s/%s, the build targets %s", ref, cfg.OS, cfg.Architecture,
			dockerfile.FormatPlatform(want))
	}
	if s.layers, err = img.Layers(); err != nil {
		return fmt.Errorf("FROM %s: %w", ref, err)
	}
	if s.dirs, err = s.b.store.LayerDirs(ctx, img); err != nil {
		return fmt.Errorf("FROM %s: %w", ref, err)
	}
	s.cfg = cfg.DeepCopy()
	return nil
}

// image gets a base image from the store, pulling it as the build's policy says.
func (b *builder) image(ctx context.Context, ref string) (v1.Image, error) {
	policy := b.opts.Pull
	if policy == "" {
		policy = store.PullMissing
	}
	return b.store.Get(ctx, ref, policy, b.opts.Fetch)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return v1.Platform{}, nil
	}
	return dockerfile.ParsePlatform(s)
}
