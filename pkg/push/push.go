package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push writes img under every ref and returns the manifest digest they all point to.
// Blobs the target repository already has are skipped (HEAD), blobs another repository of
// the same registry has are mounted, the rest go up Jobs at a time; tags of one repository
// share their uploads. A failed push can simply be run again: it uploads only what is
// still missing.
func Push(ctx context.Context, img v1.Image, refs []string, opts Options) (v1.Hash, error) {
	if len(refs) == 0 {
		return v1.Hash{}, errors.New("push: no destination reference")
	}
	c, err := opts.resolve()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push: %w", err)
	}
	img, err = convert(img, c.Format)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push: image digest: %w", err)
	}
	groups, err := c.groupByRepo(refs)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push: %w", err)
	}
	from, err := c.mountSource()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push: %w", err)
	}
	t := newTracker(c.Progress, len(groups) > 1)
	pusher, err := c.pusher(ctx, img, t)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push: %w", err)
	}
	// Repositories written so far, by registry: later repositories mount from them.
	written := map[string]name.Repository{}
	if from != nil {
		written[from.RegistryStr()] = *from
	}
	for _, g := range groups {
		view := &pushImage{Image: img, t: t, repo: g.repo.RepositoryStr()}
		if src, ok := written[g.repo.RegistryStr()]; ok && src.Name() != g.repo.Name() {
			view.from = src.Digest(digest.String())
		}
		for _, ref := range g.refs {
			if err := pusher.Push(ctx, ref, view); err != nil {
				return v1.Hash{}, c.describe("push", ref.String(), g.repo, err, c.hasAuth(ctx, g.repo))
			}
		}
		written[g.repo.RegistryStr()] = g.repo
	}
	return digest, nil
}

type repoGroup struct {
	repo name.Repository
	refs []name.Reference
}

// groupByRepo keeps the callers' order: the first repository of a registry is the one
// later repositories mount from.
func (c *config) groupByRepo(refs []string) ([]repoGroup, error) {
	var groups []repoGroup
	index := map[string]int{}
	for _, s := range refs {
		r, err := c.parseRef(s)
		if err != nil {
			return nil, err
		}
		k := r.Context().Name()
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, repoGroup{repo: r.Context()})
		}
		groups[i].refs = append(groups[i].refs, r)
	}
	return groups, nil
}

func (c *config) mountSource() (*name.Repository, error) {
	if c.MountFrom == "" {
		return nil, nil
	}
	r, err := c.parseRepo(c.MountFrom)
	if err != nil {
		return nil, fmt.Errorf("mount source: %w", err)
	}
	return &r, nil
}

// pusher is a ggcr Pusher whose innermost transport reports blob outcomes to t.
func (c *config) pusher(ctx context.Context, img v1.Image, t *tracker) (*remote.Pusher, error) {
	base := c.base
	if t != nil {
		sizes, err := blobSizes(img)
		if err != nil {
			return nil, err
		}
		base = &observer{inner: c.base, t: t, sizes: sizes}
	}
	return remote.NewPusher(c.remoteOptions(ctx, base)...)
}

func blobSizes(img v1.Image) (map[v1.Hash]int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	sizes := map[v1.Hash]int64{m.Config.Digest: m.Config.Size}
	for _, l := range m.Layers {
		sizes[l.Digest] = l.Size
	}
	return sizes, nil
}

// hasAuth reports whether credentials exist for repo, to word a 401 precisely.
func (c *config) hasAuth(ctx context.Context, repo name.Repository) bool {
	a, err := authn.Resolve(ctx, c.keychain, repo)
	return err == nil && a != authn.Anonymous
}

// pushImage is the image as one repository sees it: layers count their bytes into the
// tracker and, when from is set, are offered for cross-repository mount from there.
type pushImage struct {
	v1.Image
	t    *tracker
	repo string
	from name.Reference
}

func (p *pushImage) wrap(l v1.Layer) v1.Layer {
	if p.t != nil {
		l = rewrap(l, func(l v1.Layer) v1.Layer {
			return &trackedLayer{Layer: l, t: p.t, repo: p.repo, verb: "pushing"}
		})
	}
	if p.from == nil {
		return l
	}
	if ml, ok := l.(*remote.MountableLayer); ok {
		l = ml.Layer
	}
	return &remote.MountableLayer{Layer: l, Reference: p.from}
}

func (p *pushImage) Layers() ([]v1.Layer, error) {
	ls, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = p.wrap(l)
	}
	return out, nil
}

func (p *pushImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := p.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return p.wrap(l), nil
}

func (p *pushImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := p.Image.LayerByDiffID(h)
	if err != nil {
		return nil, err
	}
	return p.wrap(l), nil
}

// ConfigLayer makes ggcr upload the config through the same wrapper as the layers.
func (p *pushImage) ConfigLayer() (v1.Layer, error) {
	l, err := partial.ConfigLayer(p.Image)
	if err != nil {
		return nil, err
	}
	return p.wrap(l), nil
}
