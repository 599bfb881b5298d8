package conformance

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// image is what the suite compares: the config and the layer tars, read straight from
// the files each builder exported (an OCI layout from ours, a `dir:` copy from buildah),
// with no code of ours in between.
type image struct {
	config imageConfig
	layers [][]byte // uncompressed tars, bottom first
}

// imageConfig holds the fields of an image config the suite compares. It is decoded
// from the raw JSON, so Docker-only fields (Healthcheck, OnBuild, Shell) survive.
type imageConfig struct {
	Created time.Time `json:"created"`
	Config  struct {
		User         string              `json:"User"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Env          []string            `json:"Env"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Volumes      map[string]struct{} `json:"Volumes"`
		WorkingDir   string              `json:"WorkingDir"`
		Labels       map[string]string   `json:"Labels"`
		StopSignal   string              `json:"StopSignal"`
		OnBuild      []string            `json:"OnBuild"`
		Shell        []string            `json:"Shell"`
		Healthcheck  *struct {
			Test        []string      `json:"Test"`
			Interval    time.Duration `json:"Interval"`
			Timeout     time.Duration `json:"Timeout"`
			StartPeriod time.Duration `json:"StartPeriod"`
			Retries     int           `json:"Retries"`
		} `json:"Healthcheck"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
}

type manifest struct {
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []struct {
		descriptor
		Annotations map[string]string `json:"annotations"`
	} `json:"manifests"`
}

// readOCILayout reads the image named ref (the ref.name annotation) from an OCI layout.
func readOCILayout(dir, ref string) (*image, error) {
	var index manifest
	if err := readJSON(filepath.Join(dir, "index.json"), &index); err != nil {
		return nil, err
	}
	blob := func(d string) string { return filepath.Join(dir, "blobs", strings.Replace(d, ":", "/", 1)) }
	for _, m := range index.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] != ref {
			continue
		}
		var man manifest
		if err := readJSON(blob(m.Digest), &man); err != nil {
			return nil, err
		}
		return readImage(man, blob)
	}
	return nil, fmt.Errorf("no image %s in %s", ref, dir)
}

// readDirTransport reads what `buildah push IMAGE dir:DIR` wrote.
func readDirTransport(dir string) (*image, error) {
	var man manifest
	if err := readJSON(filepath.Join(dir, "manifest.json"), &man); err != nil {
		return nil, err
	}
	return readImage(man, func(d string) string { return filepath.Join(dir, strings.TrimPrefix(d, "sha256:")) })
}

func readImage(man manifest, blob func(string) string) (*image, error) {
	img := &image{}
	if err := readJSON(blob(man.Config.Digest), &img.config); err != nil {
		return nil, err
	}
	for _, l := range man.Layers {
		data, err := os.ReadFile(blob(l.Digest))
		if err != nil {
			return nil, err
		}
		plain, err := decompress(data)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		img.layers = append(img.layers, plain)
	}
	return img, nil
}

func decompress(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return io.ReadAll(zr)
	}
	return data, nil
}

func readJSON(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", file, err)
	}
	return nil
}

// entry is one path of a flattened image.
type entry struct {
	Type     string // "dir", "file", "symlink", "char", "block", "fifo"
	Mode     int64  // permission, set-id and sticky bits
	UID, GID int
	Size     int64
	Digest   string // regular files
	Link     string // symlink target
	Xattrs   map[string]string
	Mtime    time.Time
	linked   []string // every path hardlinked to this one (itself included), sorted
	layer    int
	linkID   int
}

// tree is an image's file system after applying every layer, by absolute path.
type tree map[string]*entry

// flatten applies the layers in order, with OCI whiteouts, as a runtime would see them.
func flatten(layers [][]byte) (tree, error) {
	t := tree{}
	links := map[int][]string{}
	nextLink := 0
	for i, l := range layers {
		tr := tar.NewReader(bufio.NewReader(bytes.NewReader(l)))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			name := path.Clean("/" + h.Name)
			if name == "/" {
				continue
			}
			dir, base := path.Split(name)
			dir = path.Clean(dir)
			if base == ".wh..wh..opq" {
				t.removeBelow(dir, i)
				continue
			}
			if strings.HasPrefix(base, ".wh.") {
				t.remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
				continue
			}
			e, err := newEntry(h, tr, i)
			if err != nil {
				return nil, fmt.Errorf("layer %d %s: %w", i, name, err)
			}
			if h.Typeflag == tar.TypeLink {
				target := t[path.Clean("/"+h.Linkname)]
				if target == nil {
					return nil, fmt.Errorf("layer %d: hardlink %s to missing %s", i, name, h.Linkname)
				}
				copied := *target
				if copied.linkID == 0 {
					nextLink++
					target.linkID = nextLink
					copied.linkID = nextLink
					links[nextLink] = []string{path.Clean("/" + h.Linkname)}
				}
				copied.layer = i
				e = &copied
				links[e.linkID] = append(links[e.linkID], name)
			}
			if old := t[name]; old != nil && (old.Type != "dir" || e.Type != "dir") {
				t.remove(name)
			}
			t[name] = e
		}
	}
	for id, paths := range links {
		var live []string
		for _, p := range paths {
			if e := t[p]; e != nil && e.linkID == id {
				live = append(live, p)
			}
		}
		sort.Strings(live)
		for _, p := range live {
			if len(live) > 1 {
				t[p].linked = live
			}
		}
	}
	return t, nil
}

func newEntry(h *tar.Header, r io.Reader, layer int) (*entry, error) {
	e := &entry{Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid, Mtime: h.ModTime, layer: layer}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[name] = v
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		e.Type = "dir"
	case tar.TypeReg, tar.TypeRegA:
		e.Type = "file"
		hash := sha256.New()
		n, err := io.Copy(hash, r)
		if err != nil {
			return nil, err
		}
		e.Size, e.Digest = n, hex.EncodeToString(hash.Sum(nil))[:16]
	case tar.TypeSymlink:
		e.Type, e.Link = "symlink", h.Linkname
	case tar.TypeChar:
		e.Type, e.Link = "char", fmt.Sprintf("%d,%d", h.Devmajor, h.Devminor)
	case tar.TypeBlock:
		e.Type, e.Link = "block", fmt.Sprintf("%d,%d", h.Devmajor, h.Devminor)
	case tar.TypeFifo:
		e.Type = "fifo"
	case tar.TypeLink:
		e.Type = "hardlink" // replaced by the caller
	default:
		return nil, fmt.Errorf("unexpected tar entry type %q", h.Typeflag)
	}
	return e, nil
}

// remove deletes p and everything below it.
func (t tree) remove(p string) {
	delete(t, p)
	prefix := p + "/"
	for k := range t {
		if strings.HasPrefix(k, prefix) {
			delete(t, k)
		}
	}
}

// removeBelow empties dir of what layers below layer put in it (an opaque directory).
func (t tree) removeBelow(dir string, layer int) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for k, e := range t {
		if strings.HasPrefix(k, prefix) && e.layer < layer {
			delete(t, k)
		}
	}
}

// describe prints an entry as the suite reports it; mtime only when asked.
func (e *entry) describe(mtime bool) string {
	if e == nil {
		return "(absent)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %04o %d:%d", e.Type, e.Mode, e.UID, e.GID)
	switch e.Type {
	case "file":
		fmt.Fprintf(&b, " size=%d sha256=%s", e.Size, e.Digest)
	case "symlink", "char", "block":
		fmt.Fprintf(&b, " -> %s", e.Link)
	}
	if len(e.linked) > 0 {
		fmt.Fprintf(&b, " links=%s", strings.Join(e.linked, ","))
	}
	if len(e.Xattrs) > 0 {
		keys := make([]string, 0, len(e.Xattrs))
		for k := range e.Xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " xattr:%s=%x", k, e.Xattrs[k])
		}
	}
	if mtime {
		fmt.Fprintf(&b, " mtime=%s", e.Mtime.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}
