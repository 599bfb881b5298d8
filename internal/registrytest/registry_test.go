package registrytest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func get(t *testing.T, c *http.Client, method, url string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestAuthAndTLS(t *testing.T) {
	r := Start(t, Options{TLS: true, Users: map[string]string{"ci": "pw"}})
	pem, err := os.ReadFile(r.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CAFile holds no certificate")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, host := range []string{r.Host, strings.Replace(r.Host, "127.0.0.1", "localhost", 1)} {
		resp := get(t, c, http.MethodGet, "https://"+host+"/v2/", nil, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("anonymous GET /v2/ on %s: %d %q, want 401 with a Basic challenge", host, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	for pw, want := range map[string]int{"pw": http.StatusOK, "nope": http.StatusUnauthorized} {
		req, _ := http.NewRequest(http.MethodGet, r.URL+"/v2/", nil)
		req.SetBasicAuth("ci", pw)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /v2/ with password %q: %d, want %d", pw, resp.StatusCode, want)
		}
	}
	if _, err := http.Get(r.URL + "/v2/"); err == nil {
		t.Error("a client without the CA trusted the server certificate")
	}
}

func TestNewRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:5000", "example.com:5000"} {
		if _, err := New(Options{Dir: t.TempDir(), Addr: addr}); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("New(%q): %v, want a loopback error", addr, err)
		}
	}
}

// upload pushes blob to repo the way clients do — POST for a session, PUT with the digest
// — and returns the PUT's response.
func upload(t *testing.T, r *Registry, repo string, blob []byte, digest string) *http.Response {
	t.Helper()
	resp := get(t, http.DefaultClient, http.MethodPost, r.URL+"/v2/"+repo+"/blobs/uploads/", nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload to %s: %d, want 202", repo, resp.StatusCode)
	}
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("upload Location %q: %v", resp.Header.Get("Location"), err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	return get(t, http.DefaultClient, http.MethodPut, loc.String(), blob, map[string]string{"Content-Type": "application/octet-stream"})
}

// Blobs belong to repositories: another repository sees one only after a mount, and a
// manifest may only reference blobs of its own repository.
func TestBlobScopeMountAndManifestChecks(t *testing.T) {
	r := Start(t, Options{})
	c := http.DefaultClient
	blob := []byte("hello blob")
	h, _, _ := v1.SHA256(bytes.NewReader(blob))
	other, _, _ := v1.SHA256(strings.NewReader("other bytes"))
	checkCode(t, upload(t, r, "a/app", blob, other.String()), http.StatusBadRequest, "DIGEST_INVALID")
	if r.BlobUploads() != 0 || r.HasBlob("a/app", other.String()) {
		t.Fatalf("an upload under the wrong digest counted (%d) or stored (%v)", r.BlobUploads(), r.HasBlob("a/app", other.String()))
	}
	if resp := upload(t, r, "a/app", blob, h.String()); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d, want 201", resp.StatusCode)
	}
	if r.BlobUploads() != 1 || !r.HasBlob("a/app", h.String()) || r.HasBlob("b/app", h.String()) {
		t.Fatalf("after upload to a/app: uploads %d, a has %v, b has %v", r.BlobUploads(), r.HasBlob("a/app", h.String()), r.HasBlob("b/app", h.String()))
	}
	if resp := get(t, c, http.MethodHead, r.URL+"/v2/b/app/blobs/"+h.String(), nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD in b/app before mount: %d, want 404", resp.StatusCode)
	}
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":10,"digest":"` + h.String() + `"},"layers":[]}`)
	ct := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
	checkCode(t, get(t, c, http.MethodPut, r.URL+"/v2/b/app/manifests/1", manifest, ct), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")

	if resp := get(t, c, http.MethodPost, r.URL+"/v2/b/app/blobs/uploads/?mount="+h.String()+"&from=a/app", nil, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("mount: %d, want 201", resp.StatusCode)
	}
	if resp := get(t, c, http.MethodPost, r.URL+"/v2/c/app/blobs/uploads/?mount="+h.String()+"&from=nowhere", nil, nil); resp.StatusCode != http.StatusAccepted {
		t.Errorf("mount from a repository without the blob: %d, want 202 (an upload session)", resp.StatusCode)
	}
	if r.BlobMounts() != 1 || r.BlobUploads() != 1 || !r.HasBlob("b/app", h.String()) {
		t.Errorf("mounts %d uploads %d, b has %v; want 1, 1, true", r.BlobMounts(), r.BlobUploads(), r.HasBlob("b/app", h.String()))
	}
	resp := get(t, c, http.MethodGet, r.URL+"/v2/b/app/blobs/"+h.String(), nil, nil)
	if got, _ := io.ReadAll(resp.Body); !bytes.Equal(got, blob) {
		t.Errorf("GET mounted blob: %q", got)
	}

	if resp := get(t, c, http.MethodPut, r.URL+"/v2/b/app/manifests/1", manifest, ct); resp.StatusCode != http.StatusCreated {
		t.Errorf("valid manifest: %d, want 201", resp.StatusCode)
	}
	docker := map[string]string{"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
	checkCode(t, get(t, c, http.MethodPut, r.URL+"/v2/b/app/manifests/2", manifest, docker), http.StatusBadRequest, "MANIFEST_INVALID")
	checkCode(t, get(t, c, http.MethodPut, r.URL+"/v2/b/app/manifests/3", []byte("{not json"), ct), http.StatusBadRequest, "MANIFEST_INVALID")
	if r.ManifestPuts() != 1 {
		t.Errorf("ManifestPuts = %d, want 1", r.ManifestPuts())
	}
	// distribution routes only valid repository names; others get a bare 404.
	if resp := get(t, c, http.MethodGet, r.URL+"/v2/Bad..Name/manifests/1", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET with an invalid repository name: %d, want 404", resp.StatusCode)
	}
}

func checkCode(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(body), code) {
		t.Errorf("%s %s: %d %s, want %d %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status, code)
	}
}

func TestFaultProxy(t *testing.T) {
	r := Start(t, Options{})
	p := NewFaultProxy(t, r.Host,
		Fault{Method: http.MethodGet, Path: `^/v2/$`, Skip: 1, Count: 2},
		Fault{Method: http.MethodHead, Drop: true, Count: 1})
	var got []int
	for i := 0; i < 4; i++ {
		resp, err := http.Get(p.URL + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	if want := []int{200, 500, 500, 200}; !equalInts(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	// A fresh connection: net/http silently resends idempotent requests dropped on a reused one.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := fresh.Head(p.URL + "/v2/"); err == nil {
		t.Error("dropped HEAD returned a response")
	}
	if resp, err := http.Head(p.URL + "/v2/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("second HEAD: %v %v, want 200", resp, err)
	}
	if p.Injected() != 3 {
		t.Errorf("Injected = %d, want 3", p.Injected())
	}
	p.Clear()
	p2 := NewFaultProxy(t, r.Host, Fault{Count: 0, Status: http.StatusServiceUnavailable})
	for i := 0; i < 3; i++ {
		if resp, err := http.Get(p2.URL + "/v2/"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("request %d through an always-on fault: %v %v", i, resp, err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
