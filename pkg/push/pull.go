package push

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pull resolves ref to one image: an index (multi-platform image) resolves to its entry
// for platform (zero fields match anything; a zero OS and architecture mean
// linux/GOARCH). The manifest and config are fetched now; layers are fetched when read,
// with ctx, and ggcr verifies each blob's digest as it is read, so a copy that completes
// is the published content. Reading layers in parallel is the caller's choice.
func Pull(ctx context.Context, ref string, platform v1.Platform, opts Options) (v1.Image, error) {
	c, err := opts.resolve()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	r, err := c.parseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if platform.OS == "" && platform.Architecture == "" {
		platform = v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	fail := func(err error) error {
		return c.describe("pull", r.String(), r.Context(), err, c.hasAuth(ctx, r.Context()))
	}
	ropts := append(c.remoteOptions(ctx, c.base), remote.WithPlatform(platform))
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fail(err)
	}
	var img v1.Image
	switch {
	case desc.MediaType.IsIndex():
		img, err = pickPlatform(r, desc, platform, ropts)
	case desc.MediaType.IsImage():
		img, err = desc.Image()
	default:
		err = fmt.Errorf("%s is a %s, not an image", r, desc.MediaType)
	}
	if err != nil {
		return nil, fail(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fail(err)
	}
	if have := cfg.Platform(); have != nil && !have.Satisfies(platform) && !desc.MediaType.IsIndex() {
		c.warn("%s is built for %s, not %s", r, have, platform)
	}
	return trackPull(img, newTracker(c.Progress, false), r.Context().RepositoryStr()), nil
}

// pickPlatform chooses the index entry for platform, and names the platforms on offer
// when none fits.
func pickPlatform(r name.Reference, desc *remote.Descriptor, platform v1.Platform, ropts []remote.Option) (v1.Image, error) {
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var offered []string
	for _, m := range im.Manifests {
		if m.Platform == nil || !m.MediaType.IsImage() {
			continue
		}
		if m.Platform.Satisfies(platform) {
			return remote.Image(r.Context().Digest(m.Digest.String()), ropts...)
		}
		offered = append(offered, m.Platform.String())
	}
	return nil, fmt.Errorf("%s has no image for %s (it has: %s)", r, platform, strings.Join(offered, ", "))
}

// trackPull makes the image's layers report download progress, one line per blob.
func trackPull(img v1.Image, t *tracker, repo string) v1.Image {
	if t == nil {
		return img
	}
	return &pullImage{Image: img, t: t, repo: repo}
}

type pullImage struct {
	v1.Image
	t    *tracker
	repo string
}

func (p *pullImage) wrap(l v1.Layer) v1.Layer {
	return rewrap(l, func(l v1.Layer) v1.Layer {
		return &trackedLayer{Layer: l, t: p.t, repo: p.repo, verb: "pulling", done: "pulled"}
	})
}

func (p *pullImage) Layers() ([]v1.Layer, error) {
	ls, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	for i := range ls {
		ls[i] = p.wrap(ls[i])
	}
	return ls, nil
}

func (p *pullImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := p.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return p.wrap(l), nil
}

func (p *pullImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := p.Image.LayerByDiffID(h)
	if err != nil {
		return nil, err
	}
	return p.wrap(l), nil
}
