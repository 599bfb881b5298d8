package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/dockyard/dockyard/pkg/layers"
)

// refNameAnnotation holds a tag in index.json; skopeo and umoci resolve `oci:DIR:REF` by it.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Record is one tag of a stored image.
type Record struct {
	Ref       string // normal name, e.g. docker.io/library/busybox:latest
	Digest    v1.Hash
	Size      int64
	MediaType types.MediaType
}

func (s *Store) initLayout() error {
	if err := writeFileIfMissing(filepath.Join(s.ociDir(), "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	empty, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}})
	return writeFileIfMissing(s.indexPath(), empty)
}

func (s *Store) indexPath() string { return filepath.Join(s.ociDir(), "index.json") }

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(s.indexPath())
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read image index %s: %w", s.indexPath(), err)
	}
	return idx, nil
}

// updateIndex changes index.json under the store's lock and replaces it atomically.
func (s *Store) updateIndex(change func(*v1.IndexManifest) error) error {
	l, err := lockFile(filepath.Join(s.root, "index.lock"), true, true)
	if err != nil {
		return err
	}
	defer l.unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := change(idx); err != nil {
		return err
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.indexPath(), b)
}

// WriteImage stores img (every blob it lacks, then its manifest) and points tags at it.
// Tags are references, normalized by Docker's rules.
func (s *Store) WriteImage(img v1.Image, tags ...string) (v1.Hash, error) {
	normal, err := normalizeAll(tags)
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	if err := s.copyLayers(layers, 4); err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	if _, _, err := s.WriteBlob(bytes.NewReader(cfg), cfgName); err != nil {
		return v1.Hash{}, fmt.Errorf("write image: config: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	digest, size, err := s.WriteBlob(bytes.NewReader(raw), v1.Hash{})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	desc := v1.Descriptor{MediaType: mt, Digest: digest, Size: size}
	return digest, s.tag(desc, normal)
}

// Tag points more tags at an image the store holds.
func (s *Store) Tag(digest v1.Hash, tags ...string) error {
	normal, err := normalizeAll(tags)
	if err != nil {
		return err
	}
	f, err := s.OpenBlob(digest)
	if err != nil {
		return fmt.Errorf("tag %s: %w", digest, err)
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		return fmt.Errorf("tag %s: %w", digest, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	return s.tag(v1.Descriptor{MediaType: mt, Digest: digest, Size: s.blobSize(digest)}, normal)
}

func (s *Store) tag(desc v1.Descriptor, normal []string) error {
	if len(normal) == 0 {
		return nil
	}
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		for _, ref := range normal {
			idx.Manifests = removeRef(idx.Manifests, ref)
			d := desc
			d.Annotations = map[string]string{refNameAnnotation: ref}
			idx.Manifests = append(idx.Manifests, d)
		}
		sort.SliceStable(idx.Manifests, func(i, j int) bool {
			return idx.Manifests[i].Annotations[refNameAnnotation] < idx.Manifests[j].Annotations[refNameAnnotation]
		})
		return nil
	})
}

// Untag removes a tag. The image's blobs stay until garbage collection.
func (s *Store) Untag(ref string) error {
	normal, err := Normalize(ref)
	if err != nil {
		return err
	}
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		n := len(idx.Manifests)
		idx.Manifests = removeRef(idx.Manifests, normal)
		if len(idx.Manifests) == n {
			return fmt.Errorf("image %s: %w", ref, ErrNotFound)
		}
		return nil
	})
}

func removeRef(descs []v1.Descriptor, ref string) []v1.Descriptor {
	out := descs[:0]
	for _, d := range descs {
		if d.Annotations[refNameAnnotation] != ref {
			out = append(out, d)
		}
	}
	return out
}

// Images lists every tag, sorted by reference.
func (s *Store) Images() ([]Record, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, d := range idx.Manifests {
		if ref := d.Annotations[refNameAnnotation]; ref != "" {
			out = append(out, Record{Ref: ref, Digest: d.Digest, Size: d.Size, MediaType: d.MediaType})
		}
	}
	return out, nil
}

// Resolve finds an image by tag ("busybox", "app:1"), by digest ("app@sha256:…") or by an
// unambiguous prefix of its manifest digest or image ID (config digest), as docker does.
func (s *Store) Resolve(ref string) (v1.Hash, error) {
	records, err := s.Images()
	if err != nil {
		return v1.Hash{}, err
	}
	if parsed, perr := ParseReference(ref); perr == nil {
		normal := NormalName(parsed)
		for _, r := range records {
			if r.Ref == normal {
				return r.Digest, nil
			}
		}
		if d, err := v1.NewHash(parsed.Identifier()); err == nil && s.HasBlob(d) {
			return d, nil
		}
	}
	if d, ok := s.resolveID(ref, records); ok {
		return d, nil
	}
	return v1.Hash{}, fmt.Errorf("image %s: %w", ref, ErrNotFound)
}

func (s *Store) resolveID(id string, records []Record) (v1.Hash, bool) {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) < 4 || strings.Trim(id, "0123456789abcdef") != "" {
		return v1.Hash{}, false
	}
	var match v1.Hash
	n := 0
	seen := map[v1.Hash]bool{}
	for _, r := range records {
		if seen[r.Digest] {
			continue
		}
		seen[r.Digest] = true
		cfg, _ := s.configDigest(r.Digest)
		if strings.HasPrefix(r.Digest.Hex, id) || strings.HasPrefix(cfg.Hex, id) {
			match = r.Digest
			n++
		}
	}
	return match, n == 1
}

func (s *Store) configDigest(manifest v1.Hash) (v1.Hash, error) {
	f, err := s.OpenBlob(manifest)
	if err != nil {
		return v1.Hash{}, err
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		return v1.Hash{}, err
	}
	return m.Config.Digest, nil
}

// Image opens a stored image by anything Resolve accepts.
func (s *Store) Image(ref string) (v1.Image, error) {
	d, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.ImageByDigest(d)
}

// ImageByDigest opens the image whose manifest has digest d.
func (s *Store) ImageByDigest(d v1.Hash) (v1.Image, error) {
	if !s.HasBlob(d) {
		return nil, fmt.Errorf("image %s: %w", d, ErrNotFound)
	}
	raw, err := os.ReadFile(s.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", d, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", d, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	// Read from the blobs, not through index.json: untagged images (a container's, a
	// build's intermediate) have no index entry.
	img, err := partial.CompressedToImage(&blobImage{s: s, raw: raw, mediaType: mt, manifest: m})
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", d, err)
	}
	return s.withKnownLayers(img)
}

// blobImage is an image read straight from the store's blobs.
type blobImage struct {
	s         *Store
	raw       []byte
	mediaType types.MediaType
	manifest  *v1.Manifest
}

func (i *blobImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *blobImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

func (i *blobImage) RawConfigFile() ([]byte, error) {
	b, err := os.ReadFile(i.s.BlobPath(i.manifest.Config.Digest))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", i.manifest.Config.Digest, err)
	}
	return b, nil
}

func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return partial.ConfigLayer(i)
	}
	for _, l := range i.manifest.Layers {
		if l.Digest == h {
			return &blobLayer{s: i.s, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("image has no blob %s", h)
}

// blobLayer is one blob of a blobImage.
type blobLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.s.OpenBlob(l.desc.Digest) }

// storedImage is a layout image whose layers know their diffIDs from the config: ggcr's
// layout layers compute DiffID by decompressing the whole blob, which for a 170 MB base
// image costs most of a second on every FROM. Extraction still verifies the diffID.
type storedImage struct {
	v1.Image
	layers []v1.Layer
}

func (s *Store) withKnownLayers(img v1.Image) (v1.Image, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image config lists %d diffIDs for %d layers", len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	si := &storedImage{Image: img, layers: make([]v1.Layer, len(m.Layers))}
	for i, l := range m.Layers {
		si.layers[i] = s.Layer(layers.Descriptor{Digest: l.Digest, DiffID: cfg.RootFS.DiffIDs[i], Size: l.Size, MediaType: l.MediaType})
	}
	return si, nil
}

func (i *storedImage) Layers() ([]v1.Layer, error) { return i.layers, nil }

func (i *storedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if d, _ := l.Digest(); d == h {
			return l, nil
		}
	}
	return i.Image.LayerByDigest(h)
}

func (i *storedImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if d, _ := l.DiffID(); d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("image has no layer with diffID %s", h)
}

func normalizeAll(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		ref, err := ParseReference(t)
		if err != nil {
			return nil, err
		}
		if _, isDigest := ref.(interface{ DigestStr() string }); isDigest {
			return nil, fmt.Errorf("tag %q: a digest reference cannot be a tag", t)
		}
		out = append(out, NormalName(ref))
	}
	return out, nil
}

func writeFileIfMissing(path string, data []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic replaces path so that readers see either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := writeAside(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Rename(tmp, path)
}

// writeAside writes data, synced and mode 0644, to a new hidden file next to path, for
// the caller to move into place and remove in any case.
func writeAside(path string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}
