package push_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"testing"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/pkg/push"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// bigImage is n layers of size random (incompressible) bytes, compressed once up front so
// the benchmark measures the push, not gzip.
func bigImage(b *testing.B, n int, size int64) (v1.Image, int64) {
	b.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	rng := rand.New(rand.NewSource(1))
	var total int64
	for i := 0; i < n; i++ {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("blob%d", i), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(tw, rng, size); err != nil {
			b.Fatal(err)
		}
		tw.Close()
		zw.Close()
		blob := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			b.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			b.Fatal(err)
		}
		total += int64(len(blob))
	}
	return img, total
}

// BenchmarkPush200MB pushes a 200 MB image (4 × 50 MB layers) to a loopback registry:
// "first" into an empty registry, "repush" the same image again (HEAD checks only), and
// "newtag" under a new tag (every blob HEADed, none uploaded).
func BenchmarkPush200MB(b *testing.B) {
	img, size := bigImage(b, 4, 50<<20)
	ctx := context.Background()
	b.Run("first", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			r := registrytest.Start(b, registrytest.Options{})
			b.StartTimer()
			if _, err := push.Push(ctx, img, []string{r.Host + "/bench/app:1"}, push.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	r := registrytest.Start(b, registrytest.Options{})
	if _, err := push.Push(ctx, img, []string{r.Host + "/bench/app:1"}, push.Options{}); err != nil {
		b.Fatal(err)
	}
	uploads := r.BlobUploads()
	b.Run("repush", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := push.Push(ctx, img, []string{r.Host + "/bench/app:1"}, push.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("newtag", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := push.Push(ctx, img, []string{fmt.Sprintf("%s/bench/app:t%d", r.Host, i)}, push.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if r.BlobUploads() != uploads {
		b.Errorf("re-pushes uploaded %d blobs", r.BlobUploads()-uploads)
	}
}
