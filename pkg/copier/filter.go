package copier

import (
	"fmt"
	"strings"
)

// filtered applies the Filter (the .dockerignore of the build context) to rel, a path
// relative to the source root. skip says that nothing below a hidden directory can be
// shown again, so the walk need not enter it.
func (c *copier) filtered(rel string, isDir bool) (hidden, skip bool, err error) {
	if c.opts.Filter == nil || rel == "." {
		return false, false, nil
	}
	hidden, err = c.opts.Filter.Excluded(rel, isDir)
	if err != nil || !hidden {
		return false, false, err
	}
	return true, c.opts.Filter.CanSkipDir(rel), nil
}

// hide decides whether rel is copied: not if the Filter hides it, nor if it matches an
// --exclude pattern, nor, with --parents, if the source's pattern does not select it.
// Exclude and include patterns see the path relative to the source being copied, as
// BuildKit's fsutil copy matches them; the source itself is never hidden by them.
func (c *copier) hide(rel string, isDir bool) (hidden, skip bool, err error) {
	hidden, skip, err = c.filtered(rel, isDir)
	if err != nil {
		return false, false, err
	}
	inSource := c.sourceRel(rel)
	if inSource == "" {
		return hidden, skip, nil
	}
	if c.exclude != nil {
		excluded, err := c.exclude.MatchesOrParentMatches(inSource)
		if err != nil {
			return false, false, fmt.Errorf("--exclude: %w", err)
		}
		if excluded {
			hidden = true
			skip = skip || !c.exclude.Exclusions()
		}
	}
	if c.include != nil {
		included, err := c.include.MatchesOrParentMatches(inSource)
		if err != nil {
			return false, false, fmt.Errorf("--parents: %w", err)
		}
		// A directory the pattern does not name may still hold what it names: walk it.
		hidden = hidden || !included
	}
	return hidden, hidden && skip, nil
}

// sourceRel is rel relative to the source being copied; "" for the source itself.
func (c *copier) sourceRel(rel string) string {
	switch {
	case rel == c.top:
		return ""
	case c.top == ".":
		return rel
	}
	return strings.TrimPrefix(rel, c.top+"/")
}
