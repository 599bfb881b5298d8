package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PullPolicy says when Get asks a registry, as docker's --pull does.
type PullPolicy string

const (
	PullMissing PullPolicy = "missing" // the default: use the local image, pull only when there is none
	PullAlways  PullPolicy = "always"  // pull every time (the local copy is replaced when the registry has a newer one)
	PullNever   PullPolicy = "never"   // never contact a registry
)

// ParsePullPolicy accepts docker's spellings ("" and "true" are missing/always as in
// `docker build --pull`).
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch s {
	case "", "missing":
		return PullMissing, nil
	case "always", "true":
		return PullAlways, nil
	case "never", "false":
		return PullNever, nil
	}
	return "", fmt.Errorf("pull policy %q: want always, missing or never", s)
}

// Fetcher gets an image from a registry (pkg/push.Pull, with the caller's credentials
// and transport). The store copies what it returns.
type Fetcher func(ctx context.Context, ref string) (v1.Image, error)

// Get finds an image by reference, pulling it through fetch as policy says. A pulled
// image is stored (layers in parallel, each verified) and tagged with ref, so the next
// Get works offline.
func (s *Store) Get(ctx context.Context, ref string, policy PullPolicy, fetch Fetcher) (v1.Image, error) {
	if policy != PullAlways {
		img, err := s.Image(ref)
		if err == nil || !errors.Is(err, ErrNotFound) || policy == PullNever {
			return img, err
		}
	}
	if fetch == nil {
		return nil, fmt.Errorf("image %s: %w (and no registry access to pull it)", ref, ErrNotFound)
	}
	remote, err := fetch(ctx, ref)
	if err != nil {
		return nil, err
	}
	var tags []string
	if parsed, err := ParseReference(ref); err == nil {
		if _, isDigest := parsed.(interface{ DigestStr() string }); !isDigest {
			tags = []string{ref}
		}
	}
	d, err := s.WriteImage(remote, tags...)
	if err != nil {
		return nil, fmt.Errorf("store pulled image %s: %w", ref, err)
	}
	return s.ImageByDigest(d)
}

// copyLayers writes the layers the store lacks, jobs at a time.
func (s *Store) copyLayers(ls []v1.Layer, jobs int) error {
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		if s.HasBlob(d) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.copyLayer(l, d); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Store) copyLayer(l v1.Layer, d v1.Hash) error {
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	defer rc.Close()
	if _, _, err := s.WriteBlob(rc, d); err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	return nil
}
