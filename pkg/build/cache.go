package build

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/pkg/store"
)

// CacheSource is a shared build cache to read from (--cache-from): another machine's
// results, kept in a registry or a directory.
type CacheSource interface {
	// Lookup returns the entry for key and its layer, or nil when the source has none.
	Lookup(ctx context.Context, key string) (*store.CacheEntry, v1.Layer, error)
	String() string
}

// CacheSink is a shared build cache to write to (--cache-to).
type CacheSink interface {
	// Export stores the entries (and their layers, read from the local store).
	Export(ctx context.Context, s *store.Store, entries []store.CacheEntry) error
	String() string
}

// cacheReads reports whether steps of the named stage may take results from the cache.
// Every step's result is recorded either way, as BuildKit does with --no-cache.
func (b *builder) cacheReads(stageName string) bool {
	if b.opts.NoCache {
		return false
	}
	return !slices.ContainsFunc(b.opts.NoCacheFilter, func(n string) bool { return strings.EqualFold(n, stageName) })
}

func (b *builder) contextHasher() *contextHasher {
	b.hasherOnce.Do(func() {
		b.hasher = newContextHasher(b.opts.ContextDir, filepath.Join(b.store.Root(), "cache", "contexts"))
	})
	return b.hasher
}

// exportCache notes a step result for the build's --cache-to targets.
func (b *builder) exportCache(e store.CacheEntry) {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	b.usedCache = append(b.usedCache, e)
}

// remoteCached looks key up in the --cache-from sources and, on a hit, copies the layer
// into the store and records the entry locally.
func (b *builder) remoteCached(ctx context.Context, key string) (*store.CacheEntry, bool) {
	for _, src := range b.opts.CacheFrom {
		e, layer, err := src.Lookup(ctx, key)
		if err != nil {
			b.progress.printf("WARNING: cache %s: %v\n", src, err)
			continue
		}
		if e == nil {
			continue
		}
		rc, err := layer.Compressed()
		if err != nil {
			b.progress.printf("WARNING: cache %s: %v\n", src, err)
			continue
		}
		_, _, err = b.store.WriteBlob(rc, e.Layer.Digest)
		rc.Close()
		if err != nil {
			b.progress.printf("WARNING: cache %s: %v\n", src, err)
			continue
		}
		if err := b.store.CachePut(*e); err != nil {
			b.progress.printf("WARNING: cache %s: %v\n", src, err)
		}
		return e, true
	}
	return nil, false
}

// writeCache exports what this build used and made to the --cache-to targets.
func (b *builder) writeCache(ctx context.Context) error {
	if len(b.opts.CacheTo) == 0 {
		return nil
	}
	b.cacheMu.Lock()
	entries := slices.Clone(b.usedCache)
	b.cacheMu.Unlock()
	v := b.progress.begin("exporting cache")
	for _, sink := range b.opts.CacheTo {
		if err := sink.Export(ctx, b.store, entries); err != nil {
			err = fmt.Errorf("export cache to %s: %w", sink, err)
			v.fail(err)
			return err
		}
		v.log("%d entries to %s", len(entries), sink)
	}
	v.done()
	return nil
}

// cacheState is the builder's share of the cache machinery.
type cacheState struct {
	hasherOnce sync.Once
	hasher     *contextHasher
	cacheMu    sync.Mutex
	usedCache  []store.CacheEntry
}
