// Package cache keeps build cache entries outside the local store, so that a build on
// another machine (another, empty store) reuses steps built here: in a registry
// repository (--cache-to type=registry,ref=REPO, Kaniko's --cache-repo) or in an OCI
// layout directory (type=local,dest=DIR), the kind a CI system keeps as files.
//
// Each entry is a one-layer OCI image tagged with its 64-hex cache key: the layer is the
// step's layer and the config's history records the step, so any registry stores it and
// any tool can inspect it.
package cache

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/store"
)

// entryLabel carries the entry itself in the cache image's config.
const entryLabel = "io.dockyard.cache.entry"

// Spec is a parsed --cache-from or --cache-to value.
type Spec struct {
	Type string // "registry" or "local"
	Ref  string // registry: the repository
	Dir  string // local: the layout directory
}

// ParseSpec parses BuildKit's syntax: type=registry,ref=REPO or type=local,dest=DIR
// (src=DIR for reading). A bare value is a registry repository, as Kaniko's --cache-repo.
func ParseSpec(s string) (Spec, error) {
	if !strings.Contains(s, "=") {
		return Spec{Type: "registry", Ref: s}, nil
	}
	var sp Spec
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			sp.Type = v
		case "ref":
			sp.Ref = v
		case "dest", "src":
			sp.Dir = v
		case "mode", "ignore-error", "compression":
			// BuildKit options that change nothing here: every step is exported.
		default:
			return sp, fmt.Errorf("cache %q: unknown key %q", s, k)
		}
	}
	switch {
	case sp.Type == "registry" && sp.Ref == "":
		return sp, fmt.Errorf("cache %q: type=registry needs ref=REPOSITORY", s)
	case sp.Type == "local" && sp.Dir == "":
		return sp, fmt.Errorf("cache %q: type=local needs dest= (or src=) DIRECTORY", s)
	case sp.Type != "registry" && sp.Type != "local":
		return sp, fmt.Errorf("cache %q: type must be registry or local", s)
	}
	return sp, nil
}

// entryImage wraps a cache entry and its layer as an image.
func entryImage(e store.CacheEntry, layer v1.Layer) (v1.Image, error) {
	meta, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	cfg := &v1.ConfigFile{
		Created:      v1.Time{Time: e.Created},
		OS:           "linux",
		Architecture: "unknown",
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{e.Layer.DiffID}},
		History:      []v1.History{{Created: v1.Time{Time: e.Created}, CreatedBy: e.CreatedBy}},
		Config:       v1.Config{Labels: map[string]string{entryLabel: string(meta)}},
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	return mutate.ConfigFile(img, cfg)
}

// entryOf reads the entry back from a cache image, checking it describes key.
func entryOf(img v1.Image, key string) (*store.CacheEntry, v1.Layer, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	var e store.CacheEntry
	if err := json.Unmarshal([]byte(cfg.Config.Labels[entryLabel]), &e); err != nil {
		return nil, nil, fmt.Errorf("cache image for %s: no entry: %w", key, err)
	}
	if e.Key != key {
		return nil, nil, fmt.Errorf("cache image for %s describes %s", key, e.Key)
	}
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		return nil, nil, fmt.Errorf("cache image for %s: want one layer", key)
	}
	d, err := ls[0].Digest()
	if err != nil || d != e.Layer.Digest {
		return nil, nil, fmt.Errorf("cache image for %s: layer %s is not the entry's %s", key, d, e.Layer.Digest)
	}
	e.LastUsed = time.Now()
	return &e, ls[0], nil
}

// storedLayer is the local store's copy of an entry's layer.
func storedLayer(s *store.Store, d layers.Descriptor) v1.Layer { return s.Layer(d) }
