package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/dockyard/dockyard/pkg/copier"
	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/snapshot"
	"github.com/dockyard/dockyard/pkg/store"
)

// runMounts is what the --mount flags of one RUN add to its container. Every target is
// also a stub, so that a target missing from the image exists while the step runs and
// never shows up in its layer (BuildKit removes such mount stubs too).
type runMounts struct {
	mounts  []run.Mount
	stubs   []snapshot.Stub
	env     []string // secrets given as environment variables
	key     []string // what the mounts contribute to the step's cache key
	cleanup []func()
}

// release unmounts the views and removes the scratch files the mounts used.
func (r *runMounts) release() {
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	r.cleanup = nil
}

// runMounts prepares the --mount flags of c, BuildKit's dispatchRunMounts.
func (s *stage) runMounts(ctx context.Context, c *instructions.RunCommand) (*runMounts, error) {
	r := &runMounts{}
	for _, m := range instructions.GetMounts(c) {
		if err := s.addRunMount(ctx, r, m); err != nil {
			r.release()
			return nil, fmt.Errorf("--mount=type=%s: %w", m.Type, err)
		}
	}
	// A mount inside another must come after it.
	sort.SliceStable(r.mounts, func(i, j int) bool {
		return strings.Count(r.mounts[i].Destination, "/") < strings.Count(r.mounts[j].Destination, "/")
	})
	return r, nil
}

func (s *stage) addRunMount(ctx context.Context, r *runMounts, m *instructions.Mount) error {
	if m.Type == instructions.MountTypeSecret {
		return s.secretMount(r, m)
	}
	if m.Type == instructions.MountTypeSSH {
		return errors.New("ssh mounts are not supported")
	}
	target, err := s.mountTarget(m.Target)
	if err != nil {
		return err
	}
	switch m.Type {
	case instructions.MountTypeTmpfs:
		var opts []string
		if m.SizeLimit > 0 {
			opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
		}
		r.mounts = append(r.mounts, run.Mount{Type: "tmpfs", Destination: target, Options: opts})
		r.stubs = append(r.stubs, snapshot.Stub{Path: target, Dir: true})
		r.key = append(r.key, "tmpfs", target, strconv.FormatInt(m.SizeLimit, 10))
		return nil
	case instructions.MountTypeBind:
		r.key = append(r.key, "bind", target, m.From, m.Source, strconv.FormatBool(m.ReadOnly))
		src, isDir, err := s.bindSource(ctx, r, m.From, m.Source)
		if err != nil {
			return err
		}
		r.mounts = append(r.mounts, run.Mount{Source: src, Destination: target, ReadOnly: m.ReadOnly})
		r.stubs = append(r.stubs, snapshot.Stub{Path: target, Dir: isDir})
		return nil
	case instructions.MountTypeCache:
		dir, err := s.cacheMount(ctx, r, m, target)
		if err != nil {
			return err
		}
		r.mounts = append(r.mounts, run.Mount{Source: dir, Destination: target, ReadOnly: m.ReadOnly})
		r.stubs = append(r.stubs, snapshot.Stub{Path: target, Dir: true})
		return nil
	}
	return fmt.Errorf("unsupported mount type %q", m.Type)
}

// mountTarget is a target made absolute against the working directory, as BuildKit does.
func (s *stage) mountTarget(target string) (string, error) {
	if target == "" {
		return "", errors.New("target is required")
	}
	if !path.IsAbs(target) {
		target = path.Join("/", s.cfg.Config.WorkingDir, target)
	}
	target = path.Clean(target)
	if target == "/" {
		return "", fmt.Errorf("invalid mount target %q", target)
	}
	return target, nil
}

// bindSource is the host path a bind mount shows: source inside the build context, a
// stage or an image. A stage or image is an overlay view whose changes are thrown away;
// the context is copied (through .dockerignore, owned by root as COPY makes it), so
// that an rw mount's writes are thrown away too and the context is never touched.
func (s *stage) bindSource(ctx context.Context, r *runMounts, from, source string) (string, bool, error) {
	if from == "" {
		return s.contextBindSource(ctx, r, source)
	}
	root, err := s.mountFromRoot(ctx, r, from)
	if err != nil {
		return "", false, err
	}
	p, err := securejoin.SecureJoin(root, source)
	if err != nil {
		return "", false, fmt.Errorf("source %s: %w", source, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", false, fmt.Errorf("source %s in %s: %w", source, from, errors.Unwrap(err))
	}
	return p, fi.IsDir(), nil
}

// mountFromRoot prepares a read-only-in-effect view of a stage or an image for from=.
func (s *stage) mountFromRoot(ctx context.Context, r *runMounts, from string) (string, error) {
	var dirs []string
	if ps := s.b.plan.MountFrom(from); ps != nil {
		st := s.b.stages[ps]
		if st == nil {
			return "", fmt.Errorf("from=%s: the stage is not built yet", from)
		}
		dirs = st.dirs
		r.key = append(r.key, "stage")
		r.key = append(r.key, diffIDStrings(st.cfg.RootFS.DiffIDs)...)
	} else {
		img, err := s.b.image(ctx, from)
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("from=%s: no such stage, and no such image in the local store", from)
		}
		if err != nil {
			return "", fmt.Errorf("from=%s: %w", from, err)
		}
		if dirs, err = s.b.store.LayerDirs(ctx, img); err != nil {
			return "", fmt.Errorf("from=%s: %w", from, err)
		}
		id, err := img.ConfigName()
		if err != nil {
			return "", fmt.Errorf("from=%s: %w", from, err)
		}
		r.key = append(r.key, "image", id.String())
	}
	m, err := s.b.snap.Prepare(ctx, dirs, nil)
	if err != nil {
		return "", err
	}
	r.cleanup = append(r.cleanup, func() { s.b.snap.Release(context.WithoutCancel(ctx), m) })
	return m.Root, nil
}

func (s *stage) contextBindSource(ctx context.Context, r *runMounts, source string) (string, bool, error) {
	dir, err := os.MkdirTemp(s.b.scratch, "bind-")
	if err != nil {
		return "", false, err
	}
	r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
	rel := strings.TrimPrefix(path.Clean("/"+source), "/")
	if rel == "" {
		rel = "."
	}
	opts := copier.Options{Context: true, Filter: ignoreFilter{s.b.ignore}}
	found, err := copier.ResolveSources(s.b.opts.ContextDir, rel, opts)
	if err != nil {
		return "", false, err
	}
	if len(found) != 1 {
		return "", false, fmt.Errorf("source %s: not found in the build context", source)
	}
	fi, err := os.Stat(found[0].Abs)
	if err != nil {
		return "", false, err
	}
	dest := "/data"
	if fi.IsDir() {
		dest += "/"
	}
	if err := copier.Copy(ctx, copier.Request{SrcRoot: s.b.opts.ContextDir, Srcs: []string{rel}, DstRoot: dir, Dest: dest}, opts); err != nil {
		return "", false, fmt.Errorf("source %s: %w", source, err)
	}
	h, err := s.b.contextHasher().hashSources([]string{rel}, opts)
	if err != nil {
		return "", false, err
	}
	r.key = append(r.key, "context", rel, h)
	return filepath.Join(dir, "data"), fi.IsDir(), nil
}
