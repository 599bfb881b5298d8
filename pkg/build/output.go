package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/store"
)

// Output is an --output target, BuildKit's syntax: type=oci,dest=out.tar[,tar=false].
type Output struct {
	Type string // "oci", "docker", "local", "tar"
	Dest string // a path, or "-" for stdout (tarballs only)
	Tar  bool   // oci: a tarball (default) or a layout directory
}

// ParseOutput parses an --output value. A bare path means type=local,dest=PATH, as in
// docker build.
func ParseOutput(s string) (Output, error) {
	if !strings.Contains(s, "=") {
		return Output{Type: "local", Dest: s}, nil
	}
	o := Output{Tar: true}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("--output %s: %q is not key=value", s, kv)
		}
		switch strings.TrimSpace(k) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "tar":
			o.Tar = v != "false"
		default:
			return o, fmt.Errorf("--output %s: unknown key %q", s, k)
		}
	}
	switch o.Type {
	case "oci", "docker", "local", "tar":
	case "":
		return o, fmt.Errorf("--output %s: type= is required (oci, docker, local, tar)", s)
	default:
		return o, fmt.Errorf("--output %s: unsupported type %q (oci, docker, local, tar)", s, o.Type)
	}
	if o.Dest == "" {
		return o, fmt.Errorf("--output %s: dest= is required", s)
	}
	if o.Dest == "-" && (o.Type == "local" || (o.Type == "oci" && !o.Tar)) {
		return o, fmt.Errorf("--output %s: a directory cannot go to stdout", s)
	}
	return o, nil
}

// WriteOutput exports img to out. tags name the image inside the output.
func WriteOutput(ctx context.Context, s *store.Store, img v1.Image, out Output, tags []string, stdout io.Writer) error {
	switch out.Type {
	case "local":
		return exportRootfs(ctx, s, img, out.Dest)
	}
	w, done, err := openDest(out.Dest, stdout)
	if err != nil {
		return err
	}
	switch out.Type {
	case "oci":
		if !out.Tar {
			return writeLayoutDir(img, out.Dest, tags)
		}
		err = writeLayoutTar(img, w, tags)
	case "docker":
		err = writeDockerTar(img, w, tags)
	case "tar":
		err = writeRootfsTar(ctx, s, img, w)
	}
	return done(err)
}

// openDest opens a tarball destination; done finishes it, removing a partial file on error.
func openDest(dest string, stdout io.Writer) (io.Writer, func(error) error, error) {
	if dest == "-" {
		return stdout, func(err error) error { return err }, nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+"-")
	if err != nil {
		return nil, nil, err
	}
	return tmp, func(err error) error {
		if err == nil {
			err = tmp.Close()
		} else {
			tmp.Close()
		}
		if err == nil {
			os.Chmod(tmp.Name(), 0o644)
			err = os.Rename(tmp.Name(), dest)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %w", dest, err)
		}
		return nil
	}, nil
}

// indexFor is the index.json of an OCI layout holding img, with BuildKit's annotations:
// the full name for containerd, the tag as the OCI ref name.
func indexFor(img v1.Image, tags []string) ([]byte, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	size, err := img.Size()
	if err != nil {
		return nil, err
	}
	mt, _ := img.MediaType()
	desc := v1.Descriptor{MediaType: mt, Digest: digest, Size: size}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	if len(tags) == 0 {
		idx.Manifests = []v1.Descriptor{desc}
	}
	for _, t := range tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return nil, fmt.Errorf("tag %s: %w", t, err)
		}
		d := desc
		d.Annotations = map[string]string{
			"io.containerd.image.name":          store.NormalName(ref),
			"org.opencontainers.image.ref.name": ref.TagStr(),
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	return json.Marshal(idx)
}

type blob struct {
	digest v1.Hash
	open   func() (io.ReadCloser, error)
	size   int64
}

// blobsOf lists an image's blobs: layers, config, manifest.
func blobsOf(img v1.Image) ([]blob, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var out []blob
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		size, err := l.Size()
		if err != nil {
			return nil, err
		}
		out = append(out, blob{d, l.Compressed, size})
	}
	for _, raw := range []func() ([]byte, error){img.RawConfigFile, img.RawManifest} {
		b, err := raw()
		if err != nil {
			return nil, err
		}
		out = append(out, blob{sha256Hash(b), func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, int64(len(b))})
	}
	return out, nil
}

func writeLayoutTar(img v1.Image, w io.Writer, tags []string) error {
	idx, err := indexFor(img, tags)
	if err != nil {
		return err
	}
	blobs, err := blobsOf(img)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	file := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	if err := file("oci-layout", int64(len(ociLayout)), strings.NewReader(ociLayout)); err != nil {
		return err
	}
	if err := file("index.json", int64(len(idx)), bytes.NewReader(idx)); err != nil {
		return err
	}
	seen := map[v1.Hash]bool{}
	for _, b := range blobs {
		if seen[b.digest] {
			continue
		}
		seen[b.digest] = true
		rc, err := b.open()
		if err != nil {
			return err
		}
		err = file("blobs/sha256/"+b.digest.Hex, b.size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("blob %s: %w", b.digest, err)
		}
	}
	return tw.Close()
}

const ociLayout = `{"imageLayoutVersion":"1.0.0"}`

func writeLayoutDir(img v1.Image, dest string, tags []string) error {
	idx, err := indexFor(img, tags)
	if err != nil {
		return err
	}
	blobs, err := blobsOf(img)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dest, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	for _, b := range blobs {
		rc, err := b.open()
		if err != nil {
			return err
		}
		w, done, err := openDest(filepath.Join(dest, "blobs", "sha256", b.digest.Hex), nil)
		if err == nil {
			_, err = io.Copy(w, rc)
			err = done(err)
		}
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dest, "oci-layout"), []byte(ociLayout), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dest, "index.json"), idx, 0o644)
}

// writeDockerTar writes what `docker load` reads (manifest.json + repositories).
func writeDockerTar(img v1.Image, w io.Writer, tags []string) error {
	refs := map[name.Reference]v1.Image{}
	for _, t := range tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
		refs[ref] = img
	}
	if len(refs) == 0 {
		d, err := img.Digest()
		if err != nil {
			return err
		}
		ref, _ := name.NewDigest("dockyard/untagged@" + d.String())
		refs[ref] = img
	}
	return tarball.MultiRefWrite(refs, w)
}

// exportRootfs writes the image's files into dest, layers applied in order.
func exportRootfs(ctx context.Context, s *store.Store, img v1.Image, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		err = layers.Extract(ctx, rc, dest, layers.ExtractOptions{Whiteouts: layers.WhiteoutsApply})
		rc.Close()
		if err != nil {
			return fmt.Errorf("export to %s: %w", dest, err)
		}
	}
	return nil
}

// writeRootfsTar is exportRootfs as a tarball.
func writeRootfsTar(ctx context.Context, s *store.Store, img v1.Image, w io.Writer) error {
	se, err := s.Scratch()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(se.Dir, "export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := exportRootfs(ctx, s, img, tmp); err != nil {
		return err
	}
	return layers.WriteTar(ctx, tmp, w, layers.WriteOptions{})
}
