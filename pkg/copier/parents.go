package copier

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
)

// copyParents is COPY --parents, BuildKit's way (dockerfile2llb dispatchCopy): each
// source becomes a copy of the directory before its "/./" pivot (the source root when
// there is none) into Dest, keeping only the paths the rest of the source names. The
// parents of a selected path are recreated with their own metadata.
func (c *copier) copyParents(ctx context.Context, req Request) error {
	dest := strings.TrimSuffix(req.Dest, "/") + "/"
	for _, src := range req.Srcs {
		parent, pattern, err := c.splitPivot(src)
		if err != nil {
			return err
		}
		if containsWildcards(parent) {
			return fmt.Errorf("%s: wildcards before the /./ pivot are not supported", src)
		}
		top, err := securejoin.SecureJoin(req.SrcRoot, parent)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if !containsWildcards(pattern) {
			// A path without wildcards must exist (BuildKit's RequiredPaths), and be visible.
			found, err := c.resolveSources(req.SrcRoot, path.Join(parent, pattern))
			if err != nil {
				return err
			}
			if len(found) == 0 {
				return fmt.Errorf("%s: %w", src, ErrNotFound)
			}
		}
		fi, err := os.Stat(top)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", src, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		} else if !fi.IsDir() {
			return fmt.Errorf("%s: %s is not a directory", src, parent)
		}
		var pm *patternmatcher.PatternMatcher
		if pattern != "." { // "." keeps everything below the pivot
			if pm, err = patternmatcher.New([]string{pattern}); err != nil {
				return fmt.Errorf("%s: %w", src, err)
			}
		}
		rel, err := filepath.Rel(req.SrcRoot, top)
		if err != nil {
			return err
		}
		c.include = pm
		err = c.copySource(ctx, source{abs: top, rel: filepath.ToSlash(rel), name: path.Base(parent)}, dest)
		c.include = nil
		if err != nil {
			return err
		}
	}
	return nil
}

// splitPivot splits a --parents source at its first "/./": the directory copied from and
// the pattern kept below it, both cleaned and relative to the source root.
func (c *copier) splitPivot(src string) (parent, pattern string, err error) {
	src = filepath.ToSlash(src)
	parent, pattern, ok := strings.Cut(src, "/./")
	if !ok {
		parent, pattern = ".", src
	}
	clean := func(p string) (string, error) {
		p = path.Clean(p)
		if c.opts.Context && (p == ".." || strings.HasPrefix(p, "../")) {
			return "", fmt.Errorf("%s: forbidden path outside the build context", src)
		}
		return strings.TrimPrefix(path.Clean("/"+p), "/"), nil
	}
	if parent, err = clean(parent); err != nil {
		return "", "", err
	}
	if pattern, err = clean(pattern); err != nil {
		return "", "", err
	}
	if parent == "" {
		parent = "."
	}
	if pattern == "" {
		pattern = "."
	}
	return parent, pattern, nil
}
