package registrytest

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Paths in distribution's filesystem layout under Options.Dir: content once under
// blobs/, and per repository a link file naming each blob the repository may serve.

func (r *Registry) v2Dir() string { return filepath.Join(r.dir, "docker", "registry", "v2") }

func (r *Registry) blobData(h v1.Hash) string {
	return filepath.Join(r.v2Dir(), "blobs", h.Algorithm, h.Hex[:2], h.Hex, "data")
}

func (r *Registry) layerLink(repo string, h v1.Hash) string {
	return filepath.Join(r.v2Dir(), "repositories", filepath.FromSlash(repo), "_layers", h.Algorithm, h.Hex, "link")
}

// HasBlob reports whether repo serves blob digest ("sha256:…"): the content is stored
// and the repository links it (by upload or mount).
func (r *Registry) HasBlob(repo, digest string) bool {
	h, err := v1.NewHash(digest)
	if err != nil || !filepath.IsLocal(filepath.FromSlash(repo)) {
		return false
	}
	for _, p := range []string{r.layerLink(repo, h), r.blobData(h)} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// CorruptBlob flips one byte of a stored blob in place, for tests of digest verification.
// The size stays, so the registry serves the blob as before; only its digest is wrong.
func (r *Registry) CorruptBlob(digest string) error {
	h, err := v1.NewHash(digest)
	if err != nil {
		return fmt.Errorf("corrupt blob: %w", err)
	}
	p := r.blobData(h)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open blob: %w", err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 0); err != nil {
		return fmt.Errorf("read blob %s: %w", p, err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("write blob %s: %w", p, err)
	}
	return nil
}
