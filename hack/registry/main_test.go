package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestRunRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:5000", ":5000", "192.0.2.1:5000"} {
		if err := run(addr, t.TempDir(), false); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("run(%q): %v, want a loopback refusal", addr, err)
		}
	}
}

func do(t *testing.T, method, url string, hdr map[string]string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// An image pushed to one run is served by the next run on the same directory.
func TestRestartKeepsImages(t *testing.T) {
	dir := t.TempDir()
	r, _, err := start("127.0.0.1:0", dir, false)
	if err != nil {
		t.Fatal(err)
	}
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	h, _, _ := v1.SHA256(bytes.NewReader(config))
	resp := do(t, http.MethodPost, r.URL+"/v2/demo/app/blobs/uploads/", nil, nil)
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %d %v", resp.StatusCode, err)
	}
	q := loc.Query()
	q.Set("digest", h.String())
	loc.RawQuery = q.Encode()
	if resp := do(t, http.MethodPut, loc.String(), map[string]string{"Content-Type": "application/octet-stream"}, config); resp.StatusCode != http.StatusCreated {
		t.Fatalf("finish upload: %d", resp.StatusCode)
	}
	const mt = "application/vnd.oci.image.manifest.v1+json"
	manifest := []byte(`{"schemaVersion":2,"mediaType":"` + mt + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json",` +
		`"size":` + strconv.Itoa(len(config)) + `,"digest":"` + h.String() + `"},"layers":[]}`)
	if resp := do(t, http.MethodPut, r.URL+"/v2/demo/app/manifests/latest", map[string]string{"Content-Type": mt}, manifest); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest: %d", resp.StatusCode)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r, _, err = start("127.0.0.1:0", dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// distribution hides an OCI manifest from clients that do not accept OCI.
	resp = do(t, http.MethodGet, r.URL+"/v2/demo/app/manifests/latest", map[string]string{"Accept": mt}, nil)
	if got, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !bytes.Equal(got, manifest) {
		t.Errorf("after restart: %d %s, want the manifest pushed before", resp.StatusCode, got)
	}
}
