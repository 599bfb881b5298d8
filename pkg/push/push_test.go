package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/pkg/push"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestPushReadBack(t *testing.T) {
	cases := []struct {
		name   string
		reg    registrytest.Options
		skopeo func(r *registrytest.Registry) []string
	}{
		{
			name:   "plain",
			skopeo: func(*registrytest.Registry) []string { return []string{"--tls-verify=false"} },
		},
		{
			name: "tls+auth",
			reg:  registrytest.Options{TLS: true, Users: map[string]string{"ci": "s3cret-pw"}},
			skopeo: func(r *registrytest.Registry) []string {
				return []string{"--cert-dir", r.CertDir, "--creds", "ci:s3cret-pw"}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateDockerConfig(t)
			r := registrytest.Start(t, tc.reg)
			opts := push.Options{CAFile: r.CAFile, RetryDelay: 1}
			if len(tc.reg.Users) > 0 {
				opts.Keychain = staticKeychain{"ci", "s3cret-pw"}
			}
			img := ociImage(t, 3, 64<<10)
			ref := r.Host + "/team/app:1.4"
			got, err := push.Push(context.Background(), img, []string{ref}, opts)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if want := mustDigest(t, img); got != want {
				t.Fatalf("Push returned %s, image digest is %s", got, want)
			}
			if sd := skopeoDigest(t, append(tc.skopeo(r), "docker://"+ref)...); sd != got.String() {
				t.Errorf("skopeo sees %s, pushed %s", sd, got)
			}
			pulled, err := push.Pull(context.Background(), ref, v1.Platform{OS: "linux", Architecture: "amd64"}, opts)
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if pd := mustDigest(t, pulled); pd != got {
				t.Errorf("Pull gives %s, pushed %s", pd, got)
			}
			if err := validate.Image(pulled); err != nil {
				t.Errorf("pulled image does not validate: %v", err)
			}
		})
	}
}

func TestPushFormat(t *testing.T) {
	isolateDockerConfig(t)
	r := registrytest.Start(t, registrytest.Options{})
	dockerImg, err := random.Image(32<<10, 2) // random.Image writes Docker media types
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, format string
		img          v1.Image
		manifest     types.MediaType
		config       types.MediaType
		layer        types.MediaType
		sameDigest   bool
	}{
		{"oci to docker", "docker", ociImage(t, 2, 32<<10), types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, false},
		{"docker to oci", "oci", dockerImg, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, false},
		{"oci kept", "", ociImage(t, 1, 1024), types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, true},
		{"docker already", "docker", dockerImg, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := r.Host + "/format/img:" + string(rune('a'+i))
			got, err := push.Push(context.Background(), tc.img, []string{ref}, push.Options{Format: tc.format})
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if same := got == mustDigest(t, tc.img); same != tc.sameDigest {
				t.Errorf("pushed digest equal to the source's: %v, want %v", same, tc.sameDigest)
			}
			var m v1.Manifest
			raw := skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("parse manifest %s: %v", raw, err)
			}
			if m.MediaType != tc.manifest || m.Config.MediaType != tc.config {
				t.Errorf("manifest %s config %s, want %s and %s", m.MediaType, m.Config.MediaType, tc.manifest, tc.config)
			}
			for _, l := range m.Layers {
				if l.MediaType != tc.layer {
					t.Errorf("layer %s has media type %s, want %s", l.Digest, l.MediaType, tc.layer)
				}
			}
			if sd := skopeoDigest(t, "--tls-verify=false", "docker://"+ref); sd != got.String() {
				t.Errorf("skopeo sees %s, Push returned %s", sd, got)
			}
		})
	}
}

func TestPushFormatZstdToDocker(t *testing.T) {
	img := ociImage(t, 1, 1024)
	l, err := random.Layer(1024, types.OCILayerZStd)
	if err != nil {
		t.Fatal(err)
	}
	zimg, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	_, err = push.Push(context.Background(), zimg, []string{"127.0.0.1:1/x:1"}, push.Options{Format: "docker"})
	if err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Fatalf("Push of a zstd layer as docker: %v, want an error naming zstd", err)
	}
}

func TestPushUploadsOnce(t *testing.T) {
	isolateDockerConfig(t)
	r := registrytest.Start(t, registrytest.Options{})
	img := ociImage(t, 3, 32<<10)
	blobs := blobCount(t, img)
	ctx := context.Background()

	// Two tags in one push: every blob goes up once.
	if _, err := push.Push(ctx, img, []string{r.Host + "/team/app:1", r.Host + "/team/app:latest"}, push.Options{}); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if got := r.BlobUploads(); got != blobs {
		t.Errorf("first push uploaded %d blobs, want %d", got, blobs)
	}
	if got := r.ManifestPuts(); got != 2 {
		t.Errorf("first push stored %d manifests, want 2 (one per tag)", got)
	}
	// The same image again, and under a new tag: nothing to upload.
	for _, tag := range []string{"1", "2"} {
		if _, err := push.Push(ctx, img, []string{r.Host + "/team/app:" + tag}, push.Options{}); err != nil {
			t.Fatalf("re-push %s: %v", tag, err)
		}
	}
	if got := r.BlobUploads(); got != blobs {
		t.Errorf("re-pushes uploaded %d more blobs, want 0", got-blobs)
	}
	for _, tag := range []string{"1", "latest", "2"} {
		if d := skopeoDigest(t, "--tls-verify=false", "docker://"+r.Host+"/team/app:"+tag); d != mustDigest(t, img).String() {
			t.Errorf("tag %s points to %s", tag, d)
		}
	}
}

func TestPushMountsAcrossRepositories(t *testing.T) {
	isolateDockerConfig(t)
	ctx := context.Background()
	img := ociImage(t, 2, 32<<10)
	blobs := blobCount(t, img)
	cases := []struct {
		name string
		run  func(r *registrytest.Registry) error
	}{
		{"two repositories in one push", func(r *registrytest.Registry) error {
			_, err := push.Push(ctx, img, []string{r.Host + "/a/app:1", r.Host + "/b/app:1"}, push.Options{})
			return err
		}},
		{"MountFrom a repository pushed before", func(r *registrytest.Registry) error {
			if _, err := push.Push(ctx, img, []string{r.Host + "/a/app:1"}, push.Options{}); err != nil {
				return err
			}
			_, err := push.Push(ctx, img, []string{r.Host + "/b/app:1"}, push.Options{MountFrom: r.Host + "/a/app"})
			return err
		}},
		{"a pulled image pushed to another repository", func(r *registrytest.Registry) error {
			if _, err := push.Push(ctx, img, []string{r.Host + "/a/app:1"}, push.Options{}); err != nil {
				return err
			}
			pulled, err := push.Pull(ctx, r.Host+"/a/app:1", v1.Platform{}, push.Options{})
			if err != nil {
				return err
			}
			_, err = push.Push(ctx, pulled, []string{r.Host + "/b/app:1"}, push.Options{})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := registrytest.Start(t, registrytest.Options{})
			if err := tc.run(r); err != nil {
				t.Fatalf("push: %v", err)
			}
			if r.BlobUploads() != blobs || r.BlobMounts() != blobs {
				t.Errorf("uploads %d mounts %d, want %d of each", r.BlobUploads(), r.BlobMounts(), blobs)
			}
			if d := skopeoDigest(t, "--tls-verify=false", "docker://"+r.Host+"/b/app:1"); d != mustDigest(t, img).String() {
				t.Errorf("b/app:1 is %s", d)
			}
		})
	}
}

func TestPushProgressPlain(t *testing.T) {
	isolateDockerConfig(t)
	r := registrytest.Start(t, registrytest.Options{Users: map[string]string{"ci": "hunter2-secret"}})
	img := ociImage(t, 3, 16<<10)
	var out bytes.Buffer
	opts := push.Options{Progress: &out, Keychain: staticKeychain{"ci", "hunter2-secret"}}
	if _, err := push.Push(context.Background(), img, []string{r.Host + "/p/app:1"}, opts); err != nil {
		t.Fatalf("Push: %v", err)
	}
	first := out.String()
	if _, err := push.Push(context.Background(), img, []string{r.Host + "/p/app:2"}, opts); err != nil {
		t.Fatalf("second Push: %v", err)
	}
	second := strings.TrimPrefix(out.String(), first)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text, outcome string
	}{{first, "pushed"}, {second, "exists"}} {
		lines := strings.Split(strings.TrimSpace(c.text), "\n")
		if len(lines) != len(m.Layers)+1 {
			t.Errorf("%d progress lines, want one per blob (%d):\n%s", len(lines), len(m.Layers)+1, c.text)
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			re := regexp.MustCompile(`(?m)^` + d.Digest.Hex[:12] + `: ` + c.outcome + ` [0-9.]+ (B|KiB|MiB)`)
			if !re.MatchString(c.text) {
				t.Errorf("no %q line for %s:\n%s", c.outcome, d.Digest, c.text)
			}
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("progress shows the password:\n%s", out.String())
	}
}

func TestPushSkipTLSVerify(t *testing.T) {
	isolateDockerConfig(t)
	r := registrytest.Start(t, registrytest.Options{TLS: true})
	var warn warnings
	img := ociImage(t, 1, 1024)
	if _, err := push.Push(context.Background(), img, []string{r.Host + "/skip/app:1"}, push.Options{SkipTLSVerify: true, Warn: warn.add}); err != nil {
		t.Fatalf("Push with SkipTLSVerify: %v", err)
	}
	if !strings.Contains(warn.String(), "verification is disabled") {
		t.Errorf("no warning about disabled verification: %q", warn.String())
	}
	if d := skopeoDigest(t, "--cert-dir", r.CertDir, "docker://"+r.Host+"/skip/app:1"); d != mustDigest(t, img).String() {
		t.Errorf("registry has %s", d)
	}
}
