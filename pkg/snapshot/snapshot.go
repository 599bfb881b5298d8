// Package snapshot prepares a writable root filesystem from a stack of layer directories and
// captures what a step changed in it.
//
// A layer directory is in overlayfs "upper" format: a deleted path is a 0/0 character device,
// a directory hiding its lower contents carries trusted.overlay.opaque=y. The overlay
// snapshotter mounts the lowers with a fresh upper dir; when the step is done the upper dir is
// the diff, already in layer format, so nothing walks the whole root and nothing is extracted
// twice. The copy snapshotter gives the same result where overlayfs cannot be mounted, and
// also stacks layer dirs in the layers.DirOCI format, which a store whose filesystem
// cannot hold overlay whiteouts keeps (see pkg/layers); overlay refuses those.
package snapshot

import (
	"context"
	"errors"
)

// Snapshotter makes roots for build steps and containers.
type Snapshotter interface {
	// Prepare returns a writable root whose initial content is lowers merged, lowers[0] on
	// top. Stubs are mount targets the caller will mount over (/proc, /etc/hosts, ...): those
	// missing from the lowers are made to exist without ever showing up in the diff.
	Prepare(ctx context.Context, lowers []string, stubs []Stub) (*Mount, error)
	// Commit ends the root's life and returns the directory holding only what changed, in
	// layer format. The caller owns that directory from then on.
	Commit(ctx context.Context, m *Mount) (diffDir string, err error)
	// Release throws the root and its changes away. It is safe after Commit and twice.
	Release(ctx context.Context, m *Mount) error
}

// Mount is a prepared root.
type Mount struct {
	// Root is the directory to run in or copy into.
	Root string

	dir      string // private dir holding upper, work, merged and the stub layer
	upper    string
	mounted  bool
	released bool
	copy     *copyRoot // the copy snapshotter's bookkeeping
}

// Stub names a mount target inside the root.
type Stub struct {
	Path string // absolute inside the root, e.g. "/etc/hosts"
	Dir  bool   // a directory target (else a file)
}

// DefaultStubs are the targets every container mounts over, whatever the image holds.
var DefaultStubs = []Stub{
	{Path: "/proc", Dir: true},
	{Path: "/sys", Dir: true},
	{Path: "/dev", Dir: true},
	{Path: "/etc/hosts"},
	{Path: "/etc/resolv.conf"},
	{Path: "/etc/hostname"},
}

// ErrUnsupported means the snapshotter cannot work on this machine.
var ErrUnsupported = errors.New("snapshotter not supported here")
