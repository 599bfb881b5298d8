package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dockyard/dockyard/pkg/layers"
)

// CacheEntry is the result of one build step, found again by the step's cache key: the
// layer it made and the history entry that described it.
type CacheEntry struct {
	Key       string            `json:"key"`
	Layer     layers.Descriptor `json:"layer"`
	CreatedBy string            `json:"createdBy"`
	Created   time.Time         `json:"created"`
	// LastUsed is when a build last used the entry (the file's mtime, for --cache-ttl and
	// LRU pruning); not stored in the JSON.
	LastUsed time.Time `json:"-"`
}

func (s *Store) cacheDir() string { return filepath.Join(s.root, "cache", "steps") }

func (s *Store) cachePath(key string) (string, error) {
	if len(key) != 64 || strings.Trim(key, "0123456789abcdef") != "" {
		return "", fmt.Errorf("invalid cache key %q", key)
	}
	return filepath.Join(s.cacheDir(), key[:2], key), nil
}

// CacheGet returns the entry for key when its layer is still in the store (blob and
// extracted dir), and marks it used. Entries older than ttl (when ttl > 0) are misses.
func (s *Store) CacheGet(key string, ttl time.Duration) (*CacheEntry, bool) {
	p, err := s.cachePath(key)
	if err != nil {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	var e CacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Key != key {
		return nil, false
	}
	if ttl > 0 && time.Since(e.Created) > ttl {
		return nil, false
	}
	if !s.HasBlob(e.Layer.Digest) {
		return nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now)
	e.LastUsed = now
	return &e, true
}

// CachePut records an entry. A concurrent put of the same key is harmless: both describe
// the same step, and the rename makes one of them win whole.
func (s *Store) CachePut(e CacheEntry) error {
	p, err := s.cachePath(e.Key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("cache put: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return writeFileAtomic(p, b)
}

// CacheEntries lists every entry (for prune and export).
func (s *Store) CacheEntries() ([]CacheEntry, error) {
	var out []CacheEntry
	err := filepath.WalkDir(s.cacheDir(), func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // removed meanwhile
		}
		var e CacheEntry
		if json.Unmarshal(b, &e) != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			e.LastUsed = fi.ModTime()
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// CacheDelete removes an entry.
func (s *Store) CacheDelete(key string) error {
	p, err := s.cachePath(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
