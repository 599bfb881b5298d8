package store

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/pkg/layers"
)

func TestLayerFormat(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name     string
		parent   string
		recorded string // layer-format before the first Open ("" none)
		want     layers.DirFormat
		wantErr  string
	}{
		{name: "new store on a plain filesystem", parent: t.TempDir(), want: layers.DirOverlay},
		{name: "new store on overlayfs", parent: testutil.Overlayfs(t), want: layers.DirOCI},
		{name: "a recorded format is kept", parent: t.TempDir(), recorded: "oci\n", want: layers.DirOCI},
		{name: "a recorded format is kept on overlayfs", parent: testutil.Overlayfs(t), recorded: "overlay\n", want: layers.DirOverlay},
		{name: "unknown format", parent: t.TempDir(), recorded: "aufs\n", wantErr: "layer-format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(tc.parent, "store")
			if tc.recorded != "" {
				if err := os.MkdirAll(root, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, formatFile), []byte(tc.recorded), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // the second Open reads what the first one recorded
				s, err := Open(root)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("Open: %v; want an error naming %s", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := s.LayerFormat(); got != tc.want {
					t.Errorf("LayerFormat = %v, want %v", got, tc.want)
				}
				s.Close()
			}
			if b, _ := os.ReadFile(filepath.Join(root, formatFile)); strings.TrimSpace(string(b)) != tc.want.String() {
				t.Errorf("%s holds %q, want %s", formatFile, b, tc.want)
			}
			if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
				t.Errorf("the probe left %v in tmp/", left)
			}
		})
	}
}

// tarLayer stores a gzip layer of these tar entries (regular files are empty).
func tarLayer(t *testing.T, s *Store, hdrs ...*tar.Header) *Layer {
	t.Helper()
	var tb, gb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, h := range hdrs {
		if h.Mode == 0 && !strings.HasPrefix(filepath.Base(h.Name), ".wh.") {
			h.Mode = 0o755
		}
		h.ModTime = time.Unix(0, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(&gb)
	zw.Write(tb.Bytes())
	zw.Close()
	digest, _, err := s.WriteBlob(bytes.NewReader(gb.Bytes()), sha(gb.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return s.Layer(layers.Descriptor{Digest: digest, DiffID: sha(tb.Bytes()), Size: int64(gb.Len()), MediaType: types.OCILayer})
}

// TestLayerDirsKeepTheStoresFormat extracts a layer that deletes a file and replaces a
// directory, in a store on a plain filesystem and in one on overlayfs: each layer dir has
// its store's format, and writes back to the layer's diffID.
func TestLayerDirsKeepTheStoresFormat(t *testing.T) {
	testutil.RequireRoot(t)
	for name, parent := range map[string]string{"plain": t.TempDir(), "overlayfs": testutil.Overlayfs(t)} {
		t.Run(name, func(t *testing.T) {
			s, err := Open(filepath.Join(parent, "store"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			dir := func(n string) *tar.Header { return &tar.Header{Typeflag: tar.TypeDir, Name: n} }
			reg := func(n string) *tar.Header { return &tar.Header{Typeflag: tar.TypeReg, Name: n} }
			lower := tarLayer(t, s, reg("a"), dir("d/"), reg("d/old"))
			upper := tarLayer(t, s, reg(".wh.a"), dir("d/"), reg("d/.wh..wh..opq"), reg("d/new"))
			base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
			img, err := mutate.AppendLayers(base, lower, upper)
			if err != nil {
				t.Fatal(err)
			}
			dirs, err := s.LayerDirs(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			top := dirs[0]
			var st unix.Stat_t
			switch s.LayerFormat() {
			case layers.DirOCI:
				for _, p := range []string{".wh.a", "d/.wh..wh..opq"} {
					if err := unix.Lstat(filepath.Join(top, p), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
						t.Errorf("marker %s: %v", p, err)
					}
				}
			default:
				if err := unix.Lstat(filepath.Join(top, "a"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
					t.Errorf("whiteout device a: %v", err)
				}
			}
			var buf bytes.Buffer
			if err := layers.WriteTar(context.Background(), top, &buf, layers.WriteOptions{Format: s.LayerFormat()}); err != nil {
				t.Fatal(err)
			}
			if got, want := sha(buf.Bytes()), upper.desc.DiffID; got != want {
				t.Errorf("the %s layer dir writes back as %s, the layer is %s", s.LayerFormat(), got, want)
			}
		})
	}
}
