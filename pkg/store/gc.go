package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Use marks the store as in use by a build or a container start until release is
// called: garbage collection waits for every user to finish, so it never deletes a layer
// a running build has made but not yet recorded.
func (s *Store) Use() (release func(), err error) {
	l, err := lockFile(filepath.Join(s.root, "gc.lock"), false, true)
	if err != nil {
		return nil, err
	}
	return l.unlock, nil
}

// Pin keeps the images with these manifest digests (and their layers) from garbage
// collection, on behalf of owner (a container, say), until Unpin.
func (s *Store) Pin(owner string, digests ...v1.Hash) error {
	if strings.ContainsAny(owner, "/\x00") || owner == "" || owner[0] == '.' {
		return fmt.Errorf("pin: invalid owner %q", owner)
	}
	b, err := json.Marshal(digests)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.root, "pins")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, owner), b)
}

// Unpin drops owner's pins.
func (s *Store) Unpin(owner string) error {
	err := os.Remove(filepath.Join(s.root, "pins", owner))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// PruneOptions select what Prune removes from the build cache; what nothing refers to
// any more (blobs, layer dirs) goes in any case.
type PruneOptions struct {
	All         bool          // every cache entry, not only those whose layers no image uses
	UnusedFor   time.Duration // only entries no build used for this long
	KeepStorage int64         // keep the most recently used entries up to this many bytes
}

// PruneReport says what Prune removed.
type PruneReport struct {
	CacheEntries, Blobs, LayerDirs int
	Bytes                          int64
}

// Prune removes build cache entries as opts say, then every blob and layer dir that no
// tagged image, remaining cache entry or pin refers to. It waits for running builds.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	l, err := lockFile(filepath.Join(s.root, "gc.lock"), true, true)
	if err != nil {
		return rep, err
	}
	defer l.unlock()
	roots, err := s.imageRoots()
	if err != nil {
		return rep, err
	}
	entries, err := s.CacheEntries()
	if err != nil {
		return rep, err
	}
	// Most recently used first: KeepStorage keeps a prefix of this order.
	sort.Slice(entries, func(i, j int) bool { return entries[i].LastUsed.After(entries[j].LastUsed) })
	var kept int64
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		inImage := roots.blobs[e.Layer.Digest]
		remove := opts.All || !inImage
		if opts.UnusedFor > 0 && time.Since(e.LastUsed) < opts.UnusedFor {
			remove = false
		}
		if opts.KeepStorage > 0 && kept+e.Layer.Size <= opts.KeepStorage {
			remove = false
		}
		if remove {
			if err := s.CacheDelete(e.Key); err != nil {
				return rep, err
			}
			rep.CacheEntries++
			continue
		}
		kept += e.Layer.Size
		roots.blobs[e.Layer.Digest] = true
		roots.diffIDs[e.Layer.DiffID] = true
	}
	if err := s.sweep(ctx, roots, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

type gcRoots struct {
	blobs   map[v1.Hash]bool
	diffIDs map[v1.Hash]bool
}

// imageRoots collects everything tagged and pinned images refer to.
func (s *Store) imageRoots() (*gcRoots, error) {
	r := &gcRoots{blobs: map[v1.Hash]bool{}, diffIDs: map[v1.Hash]bool{}}
	recs, err := s.Images()
	if err != nil {
		return nil, err
	}
	manifests := map[v1.Hash]bool{}
	for _, rec := range recs {
		manifests[rec.Digest] = true
	}
	pins, _ := filepath.Glob(filepath.Join(s.root, "pins", "*"))
	for _, p := range pins {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var ds []v1.Hash
		if json.Unmarshal(b, &ds) == nil {
			for _, d := range ds {
				manifests[d] = true
			}
		}
	}
	for d := range manifests {
		if err := r.addImage(s, d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *gcRoots) addImage(s *Store, d v1.Hash) error {
	img, err := s.ImageByDigest(d)
	if errors.Is(err, ErrNotFound) {
		return nil // a pin on an image already gone
	}
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("image %s: %w", d, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: %w", d, err)
	}
	r.blobs[d] = true
	r.blobs[m.Config.Digest] = true
	for _, l := range m.Layers {
		r.blobs[l.Digest] = true
	}
	for _, id := range cfg.RootFS.DiffIDs {
		r.diffIDs[id] = true
	}
	return nil
}

// sweep removes unreferenced blobs and layer dirs.
func (s *Store) sweep(ctx context.Context, r *gcRoots, rep *PruneReport) error {
	blobs, err := os.ReadDir(s.blobDir())
	if err != nil {
		return err
	}
	for _, b := range blobs {
		h := v1.Hash{Algorithm: "sha256", Hex: b.Name()}
		if r.blobs[h] || b.IsDir() {
			continue
		}
		if fi, err := b.Info(); err == nil {
			rep.Bytes += fi.Size()
		}
		if err := os.Remove(filepath.Join(s.blobDir(), b.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		rep.Blobs++
	}
	dirs, err := os.ReadDir(s.layersDir())
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.diffIDs[v1.Hash{Algorithm: "sha256", Hex: d.Name()}] {
			continue
		}
		p := filepath.Join(s.layersDir(), d.Name())
		rep.Bytes += dirSize(p)
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		rep.LayerDirs++
	}
	return nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
