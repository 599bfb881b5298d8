// Package store is the local image store shared by builder and runner: an OCI image layout
// (blobs, manifests, an index of tags), the extracted directory of every layer (the lower
// dirs overlay mounts stack), per-process scratch sessions, and the locks that make two
// builds at once safe.
//
// Layout under the root (default /var/lib/dockyard, $DOCKYARD_ROOT):
//
//	oci/                 OCI image layout: oci-layout, index.json, blobs/sha256/<hex>
//	layers/<diffid-hex>/ a layer's files, in the store's layer dir format (see pkg/layers)
//	layer-format         that format: "overlay" (overlay upper dirs, the default), or
//	                     "oci" where the filesystem cannot hold overlay whiteouts
//	tmp/<session>/       scratch space of one running process, removed when it ends
//	index.lock           serialises changes to oci/index.json
//
// Nothing half-written is ever visible: blobs and layer dirs are written under tmp/ and
// renamed into place only when complete (blobs after their digest is verified).
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockyard/dockyard/pkg/layers"
)

// DefaultRoot is where the store lives unless --root or $DOCKYARD_ROOT say otherwise.
const DefaultRoot = "/var/lib/dockyard"

// RootFromEnv returns $DOCKYARD_ROOT, or DefaultRoot.
func RootFromEnv() string {
	if r := os.Getenv("DOCKYARD_ROOT"); r != "" {
		return r
	}
	return DefaultRoot
}

// Store is an open local store.
type Store struct {
	root   string
	format layers.DirFormat
	sess   sessions
}

// ErrNotFound is returned for references, blobs and layers the store does not hold.
var ErrNotFound = errors.New("not found")

// Open opens the store at root, creating it if needed. Call Recover to clean what killed
// processes left behind, and Close when done.
func Open(root string) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	s := &Store{root: root}
	for _, d := range []string{s.blobDir(), s.layersDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", root, err)
		}
	}
	if err := s.initLayout(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	if err := s.loadFormat(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) ociDir() string    { return filepath.Join(s.root, "oci") }
func (s *Store) blobDir() string   { return filepath.Join(s.root, "oci", "blobs", "sha256") }
func (s *Store) layersDir() string { return filepath.Join(s.root, "layers") }
func (s *Store) tmpDir() string    { return filepath.Join(s.root, "tmp") }

// LayoutPath is the OCI image layout directory (what `skopeo inspect oci:PATH:REF` reads).
func (s *Store) LayoutPath() string { return s.ociDir() }
