package build

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// builtImage is an OCI image assembled from known layers and a config: every digest is
// already known, so nothing is re-read or re-hashed to describe it.
type builtImage struct {
	layers   []v1.Layer
	config   []byte
	manifest []byte
}

// newImage assembles an OCI image. cfg.RootFS must already list the layers' diffIDs.
func newImage(ls []v1.Layer, cfg *v1.ConfigFile) (v1.Image, error) {
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{
			MediaType: types.OCIConfigJSON,
			Size:      int64(len(rawCfg)),
			Digest:    sha256Hash(rawCfg),
		},
		Layers: make([]v1.Descriptor, 0, len(ls)),
	}
	for i, l := range ls {
		d, err := partial.Descriptor(l)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: ociLayerType(d.MediaType), Size: d.Size, Digest: d.Digest})
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&builtImage{layers: ls, config: rawCfg, manifest: rawManifest})
}

// ociLayerType maps a base image's Docker layer media types to their OCI twins: the
// bytes are the same, and an OCI manifest should not mix the two families.
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

func (i *builtImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *builtImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *builtImage) RawManifest() ([]byte, error)        { return i.manifest, nil }

func (i *builtImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if cfg := sha256Hash(i.config); h == cfg {
		return partial.ConfigLayer(i)
	}
	for _, l := range i.layers {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("image has no layer %s", h)
}

func sha256Hash(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}
