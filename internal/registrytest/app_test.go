package registrytest

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pushTagged stores blob as the config of a manifest tagged tag in repo and returns the
// manifest.
func pushTagged(t *testing.T, r *Registry, repo, tag string, blob []byte) []byte {
	t.Helper()
	h, _, _ := v1.SHA256(bytes.NewReader(blob))
	if resp := upload(t, r, repo, blob, h.String()); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":` + strconv.Itoa(len(blob)) + `,"digest":"` + h.String() + `"},"layers":[]}`)
	ct := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
	if resp := get(t, http.DefaultClient, http.MethodPut, r.URL+"/v2/"+repo+"/manifests/"+tag, manifest, ct); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest: %d", resp.StatusCode)
	}
	return manifest
}

// A registry started again on the same directory serves the blobs, manifests and tags
// the last one stored.
func TestRestartKeepsImages(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte(`{"architecture":"amd64","os":"linux"}`)
	manifest := pushTagged(t, first, "keep/app", "v1", blob)
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	again := Start(t, Options{Dir: dir})
	resp := get(t, http.DefaultClient, http.MethodGet, again.URL+"/v2/keep/app/manifests/v1", nil,
		map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
	if got, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !bytes.Equal(got, manifest) {
		t.Errorf("manifest after restart: %d %s", resp.StatusCode, got)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(blob))
	if !again.HasBlob("keep/app", h.String()) {
		t.Error("blob gone after restart")
	}
	resp = get(t, http.DefaultClient, http.MethodGet, again.URL+"/v2/keep/app/tags/list", nil, nil)
	if got, _ := io.ReadAll(resp.Body); !strings.Contains(string(got), `"v1"`) {
		t.Errorf("tags after restart: %s", got)
	}
	if again.BlobUploads() != 0 || again.ManifestPuts() != 0 {
		t.Errorf("a fresh registry counts %d uploads, %d manifests", again.BlobUploads(), again.ManifestPuts())
	}
}

// distribution logs to Options.Log when set, and never to logrus's global logger.
func TestLog(t *testing.T) {
	var global syncBuffer
	logrus.SetOutput(&global)
	t.Cleanup(func() { logrus.SetOutput(os.Stderr) })

	var logged syncBuffer
	for _, w := range []io.Writer{nil, &logged} {
		r, err := New(Options{Dir: t.TempDir(), Log: w})
		if err != nil {
			t.Fatal(err)
		}
		get(t, http.DefaultClient, http.MethodGet, r.URL+"/v2/", nil, nil)
		get(t, http.DefaultClient, http.MethodGet, r.URL+"/v2/log/app/manifests/missing", nil, nil)
		if err := r.Close(); err != nil { // waits for the handlers, and so for their log lines
			t.Fatal(err)
		}
	}
	if global.String() != "" {
		t.Errorf("the registry wrote to logrus's global logger:\n%s", global.String())
	}
	for _, want := range []string{"response completed", "/v2/log/app/manifests/missing", "manifest unknown"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("Options.Log lacks %q:\n%s", want, logged.String())
		}
	}
}

// Users become an htpasswd file of bcrypt hashes, never the passwords themselves.
func TestUsersHtpasswd(t *testing.T) {
	dir := t.TempDir()
	Start(t, Options{Dir: dir, Users: map[string]string{"ci": "pw-one", "dev": "pw-two"}})
	b, err := os.ReadFile(filepath.Join(dir, "htpasswd"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ci": "pw-one", "dev": "pw-two"}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("htpasswd has %d lines, want %d:\n%s", len(lines), len(want), b)
	}
	for _, line := range lines {
		user, hash, _ := strings.Cut(line, ":")
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(want[user])); err != nil {
			t.Errorf("htpasswd entry %q: %v", line, err)
		}
		if strings.Contains(hash, want[user]) {
			t.Errorf("htpasswd holds the password of %s", user)
		}
	}
	if _, err := New(Options{Dir: t.TempDir(), Users: map[string]string{"a:b": "x"}}); err == nil {
		t.Error("a user name with ':' was accepted")
	}
}
