package copier

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockyard/dockyard/pkg/layers"
)

// unpack extracts src into dir when it is a tar archive, compressed or not (ADD's rule for
// local sources); it reports false, doing nothing, for any other file. The archive is
// confined to dir as docker's chrooted Untar confines it, and --chown applies to what it
// holds.
func (c *copier) unpack(ctx context.Context, src, dir string) (bool, error) {
	if !isArchive(src) {
		return false, nil
	}
	if _, err := c.mkdirAllResolved(dir); err != nil {
		return true, err
	}
	f, err := os.Open(src)
	if err != nil {
		return true, err
	}
	defer f.Close()
	r, _, err := layers.Decompress(f)
	if err != nil {
		return true, fmt.Errorf("unpack %s: %w", filepath.Base(src), err)
	}
	defer r.Close()
	opts := layers.ExtractOptions{Whiteouts: layers.WhiteoutsKeep}
	if o := c.opts.Chown; o != nil {
		opts.Owner = &[2]int{o.UID, o.GID}
	}
	if err := layers.Extract(ctx, r, dir, opts); err != nil {
		return true, fmt.Errorf("unpack %s: %w", filepath.Base(src), err)
	}
	return true, nil
}

// isArchive is BuildKit's isArchivePath: a regular file whose (decompressed) start is a
// tar header.
func isArchive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	r, _, err := layers.Decompress(f)
	if err != nil {
		return false
	}
	defer r.Close()
	_, err = tar.NewReader(r).Next()
	return err == nil
}
