package push_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/pkg/push"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushIndex writes an OCI index of one image per platform under ref and returns the images.
func pushIndex(t *testing.T, ref string, platforms ...v1.Platform) []v1.Image {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var imgs []v1.Image
	for _, p := range platforms {
		img := ociImage(t, 1, 4096)
		cf := mustConfig(t, img)
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		img, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		imgs = append(imgs, img)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("write index: %v", err)
	}
	return imgs
}

func TestPullIndexResolvesPlatform(t *testing.T) {
	isolateDockerConfig(t)
	r := registrytest.Start(t, registrytest.Options{})
	ref := r.Host + "/multi/app:1"
	imgs := pushIndex(t, ref,
		v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
		v1.Platform{OS: "linux", Architecture: "amd64"},
		v1.Platform{OS: "windows", Architecture: "amd64"})
	cases := []struct {
		platform v1.Platform
		want     v1.Image
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, imgs[1]},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, imgs[0]},
		{v1.Platform{OS: "windows", Architecture: "amd64"}, imgs[2]},
	}
	for _, tc := range cases {
		t.Run(tc.platform.String(), func(t *testing.T) {
			img, err := push.Pull(context.Background(), ref, tc.platform, push.Options{})
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if got, want := mustDigest(t, img), mustDigest(t, tc.want); got != want {
				t.Errorf("Pull resolved to %s, want %s", got, want)
			}
			if cf := mustConfig(t, img); cf.Architecture != tc.platform.Architecture || cf.OS != tc.platform.OS {
				t.Errorf("pulled config is %s/%s", cf.OS, cf.Architecture)
			}
		})
	}
	_, err := push.Pull(context.Background(), ref, v1.Platform{OS: "linux", Architecture: "s390x"}, push.Options{})
	if err == nil || !strings.Contains(err.Error(), "linux/arm64/v8") || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("Pull for a missing platform: %v, want one naming the wanted and offered platforms", err)
	}
}

func TestPullProgressAndVerify(t *testing.T) {
	isolateDockerConfig(t)
	r := registrytest.Start(t, registrytest.Options{})
	img := ociImage(t, 2, 8<<10)
	ref := r.Host + "/dl/app:1"
	if _, err := push.Push(context.Background(), img, []string{ref}, push.Options{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	pulled, err := push.Pull(context.Background(), ref, v1.Platform{}, push.Options{Progress: &out})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	ls, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("read layer: %v", err)
		}
		rc.Close()
		d, _ := l.Digest()
		if !regexp.MustCompile(`(?m)^` + d.Hex[:12] + `: pulled `).MatchString(out.String()) {
			t.Errorf("no progress line for %s:\n%s", d, out.String())
		}
	}

	// A blob altered in the registry fails the read instead of yielding other bytes.
	d, _ := ls[0].Digest()
	if err := r.CorruptBlob(d.String()); err != nil {
		t.Fatal(err)
	}
	pulled, err = push.Pull(context.Background(), ref, v1.Platform{}, push.Options{Progress: &out})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	l, err := pulled.LayerByDigest(d)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("reading a corrupted blob: %v, want a digest mismatch", err)
	}
}

func TestRegistryErrors(t *testing.T) {
	isolateDockerConfig(t)
	plain := registrytest.Start(t, registrytest.Options{})
	secure := registrytest.Start(t, registrytest.Options{TLS: true})
	ctx := context.Background()
	if _, err := push.Push(ctx, ociImage(t, 1, 512), []string{plain.Host + "/have/app:1"}, push.Options{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  func() error
		kind error
		want []string
	}{
		// distribution answers a manifest of a repository it never saw MANIFEST_UNKNOWN,
		// not NAME_UNKNOWN (the spec allows either).
		{"unknown repository", func() error {
			_, err := push.Pull(ctx, plain.Host+"/nope/app:1", v1.Platform{}, push.Options{})
			return err
		}, push.ErrNotFound, []string{plain.Host + "/nope/app", "404", "MANIFEST_UNKNOWN"}},
		{"unknown tag", func() error {
			_, err := push.Pull(ctx, plain.Host+"/have/app:2", v1.Platform{}, push.Options{})
			return err
		}, push.ErrNotFound, []string{plain.Host + "/have/app", "404", "MANIFEST_UNKNOWN"}},
		{"untrusted certificate", func() error {
			_, err := push.Push(ctx, ociImage(t, 1, 512), []string{secure.Host + "/a/b:1"}, push.Options{})
			return err
		}, push.ErrTLS, []string{secure.Host, "--ca-file", "--insecure-registry"}},
		{"invalid manifest", func() error {
			_, err := push.Push(ctx, mislabelled{ociImage(t, 1, 512)}, []string{plain.Host + "/bad/app:1"}, push.Options{})
			return err
		}, push.ErrInvalid, []string{plain.Host, "MANIFEST_INVALID", "400"}},
		{"unreachable", func() error {
			_, err := push.Pull(ctx, "127.0.0.1:1/a/b:1", v1.Platform{}, push.Options{Retries: -1})
			return err
		}, push.ErrUnreachable, []string{"127.0.0.1:1", "connection refused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if !errors.Is(err, tc.kind) {
				t.Fatalf("got %v, want %v", err, tc.kind)
			}
			var regErr *push.Error
			if !errors.As(err, &regErr) {
				t.Fatalf("%v is not a *push.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// mislabelled sends a Docker Content-Type for an OCI manifest, which registries refuse.
type mislabelled struct{ v1.Image }

func (mislabelled) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
