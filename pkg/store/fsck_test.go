package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestFsck breaks a consistent store in each way a crash, a full disk or a bad disk can,
// and expects Fsck to name what broke.
func TestFsck(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, s *Store, img v1.Image)
		want   string // in a problem; "" expects none
	}{
		{"consistent", func(*testing.T, *Store, v1.Image) {}, ""},
		{"corrupt layer blob", func(t *testing.T, s *Store, img v1.Image) {
			l, _ := img.Layers()
			d, _ := l[0].Digest()
			flipByte(t, s.BlobPath(d))
		}, "is corrupt"},
		{"missing layer blob", func(t *testing.T, s *Store, img v1.Image) {
			l, _ := img.Layers()
			d, _ := l[1].Digest()
			must(t, os.Remove(s.BlobPath(d)))
		}, "layer sha256:"},
		{"missing config", func(t *testing.T, s *Store, img v1.Image) {
			d, _ := img.ConfigName()
			must(t, os.Remove(s.BlobPath(d)))
		}, "config sha256:"},
		{"truncated manifest", func(t *testing.T, s *Store, img v1.Image) {
			d, _ := img.Digest()
			must(t, os.Truncate(s.BlobPath(d), 10))
		}, "manifest sha256:"},
		{"half-written index", func(t *testing.T, s *Store, _ v1.Image) {
			must(t, os.WriteFile(filepath.Join(s.ociDir(), ".index.json-123"), []byte("{"), 0o600))
		}, "temp file of an interrupted write"},
		{"dead session", func(t *testing.T, s *Store, _ v1.Image) {
			dead := filepath.Join(s.tmpDir(), "sess-dead")
			must(t, os.MkdirAll(dead, 0o700))
			must(t, os.WriteFile(dead+".lock", nil, 0o600))
		}, "scratch dir of a dead process"},
		{"stray layer dir", func(t *testing.T, s *Store, _ v1.Image) {
			must(t, os.Mkdir(filepath.Join(s.layersDir(), "tmp-123"), 0o700))
		}, "stray entry in the layer dirs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			img := testImage(t, s)
			if _, err := s.WriteImage(img, "app:1"); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, s, img)
			r, err := s.Fsck(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r.Images != 1 || r.Blobs < 3 {
				t.Errorf("checked %d images and %d blobs, want 1 and at least 3", r.Images, r.Blobs)
			}
			got := strings.Join(r.Problems, "\n")
			if tc.want == "" {
				if !r.OK() || r.LayerDirs != 2 {
					t.Errorf("a consistent store: problems %q, %d layer dirs (want 2)", got, r.LayerDirs)
				}
				return
			}
			if r.OK() || !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want one saying %q", got, tc.want)
			}
		})
	}
}

// TestFsckLiveSessionIsFine: another process's scratch space, locked, is no leftover.
func TestFsckLiveSessionIsFine(t *testing.T) {
	s := open(t)
	if _, err := s.Scratch(); err != nil {
		t.Fatal(err)
	}
	r, err := s.Fsck(context.Background())
	if err != nil || !r.OK() {
		t.Fatalf("Fsck = %+v, %v", r, err)
	}
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	must(t, os.WriteFile(path, b, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestScratchSurvivesConcurrentRecover: processes starting while others recover the
// store never lose their new session to a Recover that took it for a dead one's.
func TestScratchSurvivesConcurrentRecover(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	errs := make(chan error, 40)
	for range 20 {
		go func() {
			s, err := Open(root)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			se, err := s.Scratch()
			if err == nil {
				_, err = os.Stat(se.Dir)
			}
			errs <- err
		}()
		go func() {
			s, err := Open(root)
			if err == nil {
				err = s.Recover(nil)
			}
			errs <- err
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
