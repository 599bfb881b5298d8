package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FsckReport is what Fsck found. A store with no Problems is consistent: every blob holds
// the bytes its name promises, everything a tag leads to is there, and nothing
// half-written is left.
type FsckReport struct {
	Blobs     int // blobs whose digest was verified
	Images    int // tags whose manifest, config and layers were checked
	LayerDirs int // extracted layer dirs
	// NotExtracted counts layers of stored images with no extracted dir: normal for
	// pulled images, whose layers are extracted on first use.
	NotExtracted int
	Problems     []string
}

// OK reports whether Fsck found nothing wrong.
func (r *FsckReport) OK() bool { return len(r.Problems) == 0 }

func (r *FsckReport) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Fsck verifies the store: the sha256 of every blob, every tag's manifest and what it
// references (config, layers, with their sizes), the config's diff IDs against the
// layers, the layer dirs, and that no scratch session or temp file of a dead process is
// left. It holds off garbage collection while it runs. The error is for a store it could
// not read at all; what it finds wrong is in the report.
func (s *Store) Fsck(ctx context.Context) (*FsckReport, error) {
	release, err := s.Use()
	if err != nil {
		return nil, fmt.Errorf("fsck %s: %w", s.root, err)
	}
	defer release()
	r := &FsckReport{}
	if err := s.fsckBlobs(ctx, r); err != nil {
		return nil, err
	}
	if err := s.fsckImages(r); err != nil {
		return nil, err
	}
	if err := s.fsckLayerDirs(r); err != nil {
		return nil, err
	}
	if err := s.fsckLeftovers(r); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) fsckBlobs(ctx context.Context, r *FsckReport) error {
	entries, err := os.ReadDir(s.blobDir())
	if err != nil {
		return fmt.Errorf("fsck: read %s: %w", s.blobDir(), err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(s.blobDir(), e.Name())
		if !isHex64(e.Name()) || !e.Type().IsRegular() {
			r.problem("stray entry in the blob dir: %s", p)
			continue
		}
		got, err := fileDigest(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // garbage-collected meanwhile
		}
		if err != nil {
			r.problem("blob %s: %v", p, err)
			continue
		}
		r.Blobs++
		if got != e.Name() {
			r.problem("blob sha256:%s is corrupt: its content is sha256:%s", e.Name(), got)
		}
	}
	return nil
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Store) fsckImages(r *FsckReport) error {
	idx, err := s.readIndex()
	if err != nil {
		r.problem("%v", err)
		return nil
	}
	for _, d := range idx.Manifests {
		ref := d.Annotations[refNameAnnotation]
		if ref == "" {
			ref = d.Digest.String()
		}
		r.Images++
		s.fsckManifest(r, ref, d)
	}
	return nil
}

// fsckManifest checks the manifest desc points at, and what it references.
func (s *Store) fsckManifest(r *FsckReport, ref string, desc v1.Descriptor) {
	raw, ok := s.fsckBlobRef(r, ref, "manifest", desc)
	if !ok {
		return
	}
	if desc.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			r.problem("%s: index %s: %v", ref, desc.Digest, err)
			return
		}
		for _, child := range idx.Manifests {
			s.fsckManifest(r, ref, child)
		}
		return
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		r.problem("%s: manifest %s: %v", ref, desc.Digest, err)
		return
	}
	rawCfg, ok := s.fsckBlobRef(r, ref, "config", m.Config)
	if !ok {
		return
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(rawCfg, &cfg); err != nil {
		r.problem("%s: config %s: %v", ref, m.Config.Digest, err)
		return
	}
	for _, l := range m.Layers {
		if l.MediaType == types.DockerForeignLayer {
			continue // not distributable: never stored
		}
		s.fsckBlobRef(r, ref, "layer", l)
	}
	if n := len(cfg.RootFS.DiffIDs); n != len(m.Layers) {
		r.problem("%s: config %s lists %d diff IDs for %d layers", ref, m.Config.Digest, n, len(m.Layers))
		return
	}
	for _, diffID := range cfg.RootFS.DiffIDs {
		if !s.HasLayerDir(diffID) {
			r.NotExtracted++
		}
	}
}

// fsckBlobRef checks that the blob desc names is there with desc's size, and returns its
// bytes for a manifest or a config (not for a layer).
func (s *Store) fsckBlobRef(r *FsckReport, ref, what string, desc v1.Descriptor) ([]byte, bool) {
	if desc.Digest.Algorithm != "sha256" || !isHex64(desc.Digest.Hex) {
		r.problem("%s: %s digest %q is not a sha256", ref, what, desc.Digest)
		return nil, false
	}
	fi, err := os.Stat(s.BlobPath(desc.Digest))
	if err != nil {
		r.problem("%s: %s %s is missing (%v)", ref, what, desc.Digest, err)
		return nil, false
	}
	if desc.Size > 0 && fi.Size() != desc.Size {
		r.problem("%s: %s %s is %d bytes, its descriptor says %d", ref, what, desc.Digest, fi.Size(), desc.Size)
		return nil, false
	}
	if what == "layer" {
		return nil, true
	}
	raw, err := os.ReadFile(s.BlobPath(desc.Digest))
	if err != nil {
		r.problem("%s: %s %s: %v", ref, what, desc.Digest, err)
		return nil, false
	}
	return raw, true
}

// fsckLayerDirs checks that layers/ holds only layer dirs named by their diff ID.
func (s *Store) fsckLayerDirs(r *FsckReport) error {
	entries, err := os.ReadDir(s.layersDir())
	if err != nil {
		return fmt.Errorf("fsck: read %s: %w", s.layersDir(), err)
	}
	for _, e := range entries {
		if !isHex64(e.Name()) || !e.IsDir() {
			r.problem("stray entry in the layer dirs: %s", filepath.Join(s.layersDir(), e.Name()))
			continue
		}
		r.LayerDirs++
	}
	return nil
}

// fsckLeftovers looks for what a killed process leaves: scratch sessions nobody holds
// (Recover removes them) and the temp files of atomic writes.
func (s *Store) fsckLeftovers(r *FsckReport) error {
	err := s.deadSessions(func(dir string) {
		r.problem("scratch dir of a dead process: %s (the next builder or runner start removes it)", dir)
	})
	if err != nil {
		return fmt.Errorf("fsck: read %s: %w", s.tmpDir(), err)
	}
	for _, dir := range []string{s.ociDir(), s.root} {
		temps, _ := filepath.Glob(filepath.Join(dir, ".*-*"))
		for _, t := range temps {
			r.problem("temp file of an interrupted write: %s", t)
		}
	}
	return nil
}

func isHex64(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}
