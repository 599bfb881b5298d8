package snapshot

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockyard/dockyard/pkg/layers"
)

// Snapshotter kinds, as --snapshotter and $DOCKYARD_SNAPSHOTTER name them.
const (
	KindAuto    = "auto"
	KindOverlay = "overlay"
	KindCopy    = "copy"
)

// New returns the overlay snapshotter if an overlay can be mounted in work and the layer
// dirs are in its format, else the copy snapshotter (a kernel without overlayfs, work on a
// filesystem overlayfs refuses as an upper dir, such as overlayfs itself inside a CI
// container, whose store keeps its layer dirs in the layers.DirOCI format).
func New(work string, format layers.DirFormat) (Snapshotter, error) {
	return Open(KindAuto, work, format)
}

// Open returns the snapshotter of this kind ("" is KindAuto: New's choice) for layer dirs
// of this format, keeping its roots under work. Asking for overlay where it cannot be
// mounted, or for layer dirs it cannot stack, is an error that says so.
func Open(kind, work string, format layers.DirFormat) (Snapshotter, error) {
	switch kind {
	case "", KindAuto:
		if format != layers.DirOverlay {
			return NewCopy(work, format)
		}
		ov, err := NewOverlay(work)
		if err != nil {
			return nil, err
		}
		if ov.probe() == nil {
			return ov, nil
		}
		return NewCopy(work, format)
	case KindOverlay:
		if format != layers.DirOverlay {
			return nil, fmt.Errorf("overlay snapshotter: the store keeps its layer dirs in the %s format (its filesystem cannot hold overlay whiteouts), which overlayfs cannot stack; use the copy snapshotter", format)
		}
		ov, err := NewOverlay(work)
		if err != nil {
			return nil, err
		}
		if err := ov.probe(); err != nil {
			return nil, fmt.Errorf("overlay snapshotter unusable in %s (the copy snapshotter works everywhere): %w", work, err)
		}
		return ov, nil
	case KindCopy:
		return NewCopy(work, format)
	}
	return nil, fmt.Errorf("snapshotter %q: want %s, %s or %s", kind, KindOverlay, KindCopy, KindAuto)
}

func (o *Overlay) String() string { return KindOverlay }

// Format is the layer dir format the snapshotter reads and writes: always overlay's own.
func (o *Overlay) Format() layers.DirFormat { return layers.DirOverlay }

// probe mounts and unmounts a one-layer overlay with its upper dir in work.
func (o *Overlay) probe() error {
	dir, err := os.MkdirTemp(o.work, "probe-")
	if err != nil {
		return fmt.Errorf("probe overlay: %w", err)
	}
	defer os.RemoveAll(dir)
	p := func(n string) string { return filepath.Join(dir, n) }
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			return fmt.Errorf("probe overlay: %w", err)
		}
	}
	if err := mountOverlay(p("merged"), []string{p("lower")}, p("upper"), p("work")); err != nil {
		return err
	}
	return unmount(p("merged"))
}
