package push_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/pkg/push"
)

const (
	uploadPath   = `/blobs/uploads/.+`
	manifestPath = `/manifests/`
	blobPath     = `/blobs/sha256:`
)

func TestPushRetriesTransientFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault registrytest.Fault
	}{
		{"500 on blob PATCH", registrytest.Fault{Method: http.MethodPatch, Path: uploadPath, Count: 2}},
		{"dropped blob PATCH", registrytest.Fault{Method: http.MethodPatch, Path: uploadPath, Count: 2, Drop: true}},
		{"upload cut mid-body", registrytest.Fault{Method: http.MethodPatch, Path: uploadPath, Count: 2, Drop: true, AfterBytes: 4096}},
		{"dropped blob PUT", registrytest.Fault{Method: http.MethodPut, Path: uploadPath, Count: 2, Drop: true}},
		{"503 on blob HEAD", registrytest.Fault{Method: http.MethodHead, Path: blobPath, Count: 3, Status: http.StatusServiceUnavailable}},
		{"429 on manifest PUT", registrytest.Fault{Method: http.MethodPut, Path: manifestPath, Count: 2, Status: http.StatusTooManyRequests}},
		{"502 on upload POST", registrytest.Fault{Method: http.MethodPost, Count: 2, Status: http.StatusBadGateway}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateDockerConfig(t)
			r := registrytest.Start(t, registrytest.Options{})
			p := registrytest.NewFaultProxy(t, r.Host, tc.fault)
			img := ociImage(t, 3, 64<<10)
			ref := p.Host + "/flaky/app:1"
			var warn warnings
			got, err := push.Push(context.Background(), img, []string{ref}, push.Options{RetryDelay: time.Millisecond, Warn: warn.add})
			if err != nil {
				t.Fatalf("Push through %d faults: %v", p.Injected(), err)
			}
			if want := tc.fault.Count; p.Injected() != want {
				t.Errorf("proxy injected %d faults, want %d", p.Injected(), want)
			}
			if !strings.Contains(warn.String(), "retrying") {
				t.Errorf("no retry warning: %q", warn.String())
			}
			if r.BlobUploads() != blobCount(t, img) {
				t.Errorf("registry committed %d blobs, want %d", r.BlobUploads(), blobCount(t, img))
			}
			if d := skopeoDigest(t, "--tls-verify=false", "docker://"+r.Host+"/flaky/app:1"); d != got.String() {
				t.Errorf("registry has %s, pushed %s", d, got)
			}
		})
	}
}

// A fault that outlasts the retries fails the push; once it clears, running the same push
// again completes it and uploads only what the first run did not.
func TestPushResumesAfterPersistentFault(t *testing.T) {
	isolateDockerConfig(t)
	r := registrytest.Start(t, registrytest.Options{})
	// The first blob upload passes, every later one is cut.
	p := registrytest.NewFaultProxy(t, r.Host, registrytest.Fault{Method: http.MethodPatch, Path: uploadPath, Skip: 1, Drop: true})
	img := ociImage(t, 4, 32<<10)
	ref := p.Host + "/broken/app:1"
	opts := push.Options{Jobs: 1, Retries: 2, RetryDelay: time.Millisecond}

	_, err := push.Push(context.Background(), img, []string{ref}, opts)
	if err == nil {
		t.Fatal("Push succeeded through a persistent fault")
	}
	if !strings.Contains(err.Error(), p.Host+"/broken/app") || !strings.Contains(err.Error(), "after 2 retries") {
		t.Errorf("error %q does not name the repository and the retries", err)
	}
	if !errors.Is(err, push.ErrUnreachable) {
		t.Errorf("error %v is not ErrUnreachable", err)
	}
	if p.Injected() < opts.Retries+1 {
		t.Errorf("proxy broke %d requests, want at least %d attempts", p.Injected(), opts.Retries+1)
	}
	if r.BlobUploads() != 1 || r.ManifestPuts() != 0 {
		t.Fatalf("after the failed push: %d blobs, %d manifests; want 1 and 0", r.BlobUploads(), r.ManifestPuts())
	}

	p.Clear()
	got, err := push.Push(context.Background(), img, []string{ref}, opts)
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if want := blobCount(t, img); r.BlobUploads() != want {
		t.Errorf("re-run brought the registry to %d blobs, want %d (only the missing %d uploaded)", r.BlobUploads(), want, want-1)
	}
	if d := skopeoDigest(t, "--tls-verify=false", "docker://"+r.Host+"/broken/app:1"); d != got.String() {
		t.Errorf("registry has %s, pushed %s", d, got)
	}
}
