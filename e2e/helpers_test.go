package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// layerEntries lists the tar entry names of one layer of a stored image (index -1: the top).
func layerEntries(t *testing.T, e *env, ref string, index int) map[string]bool {
	t.Helper()
	rc := storedLayer(t, e, ref, index)
	defer rc.Close()
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
	}
	return names
}

// storedLayer opens the uncompressed tar of one layer of a stored image (index -1: the
// top), read from the store's OCI layout.
func storedLayer(t *testing.T, e *env, ref string, index int) io.ReadCloser {
	t.Helper()
	p, err := layout.FromPath(filepath.Join(e.root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	normal := "docker.io/library/" + ref
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] != normal {
			continue
		}
		img, err := p.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if index < 0 {
			index += len(ls)
		}
		rc, err := ls[index].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	t.Fatalf("no image %s in %s", ref, e.root)
	return nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func storeBlobs(t *testing.T, e *env) []string {
	entries, _ := os.ReadDir(filepath.Join(e.root, "oci", "blobs", "sha256"))
	var out []string
	for _, x := range entries {
		out = append(out, x.Name())
	}
	return out
}

// assertNoLeftovers checks that no build of this env left a mount, a container cgroup, a
// container process or scratch files behind.
func assertNoLeftovers(t *testing.T, e *env) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), e.root) {
		t.Errorf("mounts left under the store:\n%s", grepLines(string(mi), e.root))
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/dockyard/build-*")
	unified, _ := filepath.Glob("/sys/fs/cgroup/unified/dockyard/build-*")
	if left := append(cgroups, unified...); len(left) > 0 {
		t.Errorf("build cgroups left: %v", left)
	}
	sessions, _ := filepath.Glob(filepath.Join(e.root, "tmp", "sess-*"))
	if len(sessions) > 0 {
		t.Errorf("scratch sessions left: %v", sessions)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test reads.
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

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesMatching lists the pids whose command line contains s.
func processesMatching(t *testing.T, s string) []string {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			out = append(out, filepath.Base(filepath.Dir(d)))
		}
	}
	return out
}
