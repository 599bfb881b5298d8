package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobWriter receives a blob's bytes into a temp file; Commit moves it into the layout once
// its digest is known to be right.
type BlobWriter struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

// NewBlobWriter starts a blob. Always end it with Commit or Abort.
func (s *Store) NewBlobWriter() (*BlobWriter, error) {
	se, err := s.Scratch()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(se.Dir, "blob-")
	if err != nil {
		return nil, fmt.Errorf("new blob: %w", err)
	}
	return &BlobWriter{s: s, f: f, h: sha256.New()}, nil
}

func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Digest is the sha256 of everything written so far.
func (w *BlobWriter) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", w.h.Sum(nil))}
}

// Size is the number of bytes written so far.
func (w *BlobWriter) Size() int64 { return w.n }

// Commit verifies the bytes against want (when set) and makes the blob visible. A blob the
// store already holds is kept as it is.
func (w *BlobWriter) Commit(want v1.Hash) (v1.Hash, error) {
	if w.done {
		return v1.Hash{}, errors.New("commit blob: already ended")
	}
	w.done = true
	got := w.Digest()
	defer os.Remove(w.f.Name())
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return v1.Hash{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	if err := w.f.Close(); err != nil {
		return v1.Hash{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	if want.Hex != "" && want != got {
		return v1.Hash{}, fmt.Errorf("blob digest mismatch: expected %s, got %s", want, got)
	}
	if err := os.Rename(w.f.Name(), w.s.BlobPath(got)); err != nil {
		return v1.Hash{}, fmt.Errorf("commit blob %s: %w", got, err)
	}
	return got, nil
}

// Abort throws the bytes away.
func (w *BlobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// WriteBlob copies r into the store, checking it against want when set.
func (s *Store) WriteBlob(r io.Reader, want v1.Hash) (v1.Hash, int64, error) {
	if want.Hex != "" && s.HasBlob(want) {
		return want, s.blobSize(want), nil
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		return v1.Hash{}, 0, err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return v1.Hash{}, 0, fmt.Errorf("write blob %s: %w", want, err)
	}
	h, err := w.Commit(want)
	return h, w.Size(), err
}

// BlobPath is where the blob with digest h lives (whether or not it exists).
func (s *Store) BlobPath(h v1.Hash) string { return filepath.Join(s.blobDir(), h.Hex) }

// HasBlob reports whether the store holds the blob.
func (s *Store) HasBlob(h v1.Hash) bool {
	if h.Algorithm != "sha256" {
		return false
	}
	_, err := os.Stat(s.BlobPath(h))
	return err == nil
}

func (s *Store) blobSize(h v1.Hash) int64 {
	fi, err := os.Stat(s.BlobPath(h))
	if err != nil {
		return -1
	}
	return fi.Size()
}

// OpenBlob opens a stored blob.
func (s *Store) OpenBlob(h v1.Hash) (*os.File, error) {
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm", h)
	}
	f, err := os.Open(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	return f, err
}
