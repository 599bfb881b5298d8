package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dockyard/dockyard/pkg/layers"
)

// formatFile names, at the store's root, the format of every layer dir under layers/. It is
// written once, when the store is first opened, so that every process (builder, runner,
// any version) reads the same answer and a store never changes format.
const formatFile = "layer-format"

// LayerFormat is how the store's layer dirs record deletions: layers.DirOverlay, or
// layers.DirOCI where the store's filesystem cannot hold overlay whiteouts (a store on
// overlayfs, in a CI container). Snapshotters must be opened for this format.
func (s *Store) LayerFormat() layers.DirFormat { return s.format }

// loadFormat reads the store's layer dir format, probing the filesystem the first time.
// A store made before the format was recorded gets the probe's answer too: its layer dirs
// hold no whiteouts if the probe fails (none could be made there), so either format reads
// them the same.
func (s *Store) loadFormat() error {
	p := filepath.Join(s.root, formatFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		var f layers.DirFormat
		if f, err = layers.ProbeDirFormat(s.tmpDir()); err != nil {
			return err
		}
		if err = writeFileOnce(p, []byte(f.String()+"\n")); err != nil {
			return fmt.Errorf("record layer format: %w", err)
		}
		b, err = os.ReadFile(p) // another process may have been first: its answer holds
	}
	if err != nil {
		return fmt.Errorf("read layer format: %w", err)
	}
	if s.format, err = layers.ParseDirFormat(strings.TrimSpace(string(b))); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// writeFileOnce creates path with data unless it exists, never exposing a partial file:
// the content is written aside and hard-linked into place, which fails if path exists.
func writeFileOnce(path string, data []byte) error {
	tmp, err := writeAside(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
