package push

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// mediaTypes is one image format: what a manifest, a config and each kind of layer are called.
type mediaTypes struct {
	manifest, config types.MediaType
	layers           map[types.MediaType]types.MediaType // from either format to this one
}

var formats = map[string]mediaTypes{
	"oci": {
		manifest: types.OCIManifestSchema1,
		config:   types.OCIConfigJSON,
		layers: map[types.MediaType]types.MediaType{
			types.DockerLayer:             types.OCILayer,
			types.DockerUncompressedLayer: types.OCIUncompressedLayer,
			types.DockerForeignLayer:      types.OCIRestrictedLayer,
			types.OCILayer:                types.OCILayer,
			types.OCILayerZStd:            types.OCILayerZStd,
			types.OCIUncompressedLayer:    types.OCIUncompressedLayer,
			types.OCIRestrictedLayer:      types.OCIRestrictedLayer,
		},
	},
	"docker": {
		manifest: types.DockerManifestSchema2,
		config:   types.DockerConfigJSON,
		layers: map[types.MediaType]types.MediaType{
			types.OCILayer:                types.DockerLayer,
			types.OCIUncompressedLayer:    types.DockerUncompressedLayer,
			types.OCIRestrictedLayer:      types.DockerForeignLayer,
			types.DockerLayer:             types.DockerLayer,
			types.DockerUncompressedLayer: types.DockerUncompressedLayer,
			types.DockerForeignLayer:      types.DockerForeignLayer,
		},
	},
}

// convert rewrites img's manifest into format ("oci" or "docker"); blobs are unchanged,
// so only the manifest digest moves. An empty format, or an image already in it, is
// returned as it is.
func convert(img v1.Image, format string) (v1.Image, error) {
	if format == "" {
		return img, nil
	}
	want := formats[format]
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	out := m.DeepCopy()
	out.MediaType = want.manifest
	out.Config.MediaType = want.config
	for i, l := range out.Layers {
		mt, ok := want.layers[l.MediaType]
		if !ok {
			return nil, fmt.Errorf("layer %s has media type %s, which the %s format cannot express: push with another --format", l.Digest, l.MediaType, format)
		}
		out.Layers[i].MediaType = mt
	}
	if format == "docker" {
		// Docker v2 schema 2 has no place for these.
		out.Annotations, out.Subject, out.ArtifactType = nil, nil, ""
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode %s manifest: %w", format, err)
	}
	if orig, err := img.RawManifest(); err == nil && sameManifest(orig, out) {
		return img, nil
	}
	return &converted{img: img, manifest: out, raw: raw}, nil
}

// sameManifest reports whether orig already says what out says, so converting would only
// re-encode it (and change its digest for nothing).
func sameManifest(orig []byte, out *v1.Manifest) bool {
	var m v1.Manifest
	if err := json.Unmarshal(orig, &m); err != nil {
		return false
	}
	if m.MediaType != out.MediaType || m.Config.MediaType != out.Config.MediaType || len(m.Layers) != len(out.Layers) {
		return false
	}
	for i := range m.Layers {
		if m.Layers[i].MediaType != out.Layers[i].MediaType {
			return false
		}
	}
	return (m.Subject == nil) == (out.Subject == nil)
}

// converted is img under a rewritten manifest. It implements v1.Image itself rather than
// through partial.CompressedToImage, whose layer wrappers would hide remote.MountableLayer.
type converted struct {
	img      v1.Image
	manifest *v1.Manifest
	raw      []byte
}

func (c *converted) MediaType() (types.MediaType, error) { return c.manifest.MediaType, nil }
func (c *converted) RawManifest() ([]byte, error)        { return c.raw, nil }
func (c *converted) Manifest() (*v1.Manifest, error)     { return c.manifest.DeepCopy(), nil }
func (c *converted) Size() (int64, error)                { return int64(len(c.raw)), nil }
func (c *converted) ConfigName() (v1.Hash, error)        { return c.manifest.Config.Digest, nil }
func (c *converted) ConfigFile() (*v1.ConfigFile, error) { return c.img.ConfigFile() }
func (c *converted) RawConfigFile() ([]byte, error)      { return c.img.RawConfigFile() }
func (c *converted) Digest() (v1.Hash, error)            { return partial.Digest(c) }

func (c *converted) Layers() ([]v1.Layer, error) {
	ls := make([]v1.Layer, 0, len(c.manifest.Layers))
	for _, d := range c.manifest.Layers {
		l, err := c.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func (c *converted) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := c.img.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	for _, d := range c.manifest.Layers {
		if d.Digest == h {
			return rewrap(l, func(l v1.Layer) v1.Layer { return &typedLayer{Layer: l, mt: d.MediaType} }), nil
		}
	}
	return l, nil
}

func (c *converted) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := c.img.LayerByDiffID(h)
	if err != nil {
		return nil, err
	}
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	return c.LayerByDigest(d)
}

// typedLayer is a layer under another media type name.
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (t *typedLayer) MediaType() (types.MediaType, error) { return t.mt, nil }

// rewrap applies f under a remote.MountableLayer, which ggcr recognises only as the
// outermost type, so wrapping a pulled layer keeps it mountable.
func rewrap(l v1.Layer, f func(v1.Layer) v1.Layer) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: f(ml.Layer), Reference: ml.Reference}
	}
	return f(l)
}
