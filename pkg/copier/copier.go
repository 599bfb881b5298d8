// Package copier implements the file semantics of COPY and ADD: sources from one tree (the
// build context or another stage's root), copied into an image root with Docker's rules
// for wildcards, directories, destinations, ownership, modes and hardlinks.
//
// Destinations are resolved inside the image root: a symlink in the image is followed as
// if the root were "/", and nothing is ever written outside it. Sources are resolved
// inside their own root the same way, so a context symlink cannot reach out of the context.
// The rules follow BuildKit's (tonistiigi/fsutil copy, used by dockerfile2llb).
package copier

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// Owner is a numeric owner.
type Owner struct{ UID, GID int }

// Filter hides source paths, as .dockerignore hides them from the build context. Paths
// are relative to the source root, slash-separated.
type Filter interface {
	Excluded(rel string, isDir bool) (bool, error)
	// CanSkipDir reports that nothing below an excluded directory can be re-included.
	CanSkipDir(rel string) bool
}

// Options say how sources are copied.
type Options struct {
	// Chown owns every copied file and every directory the copy creates; nil keeps the
	// source's owner.
	Chown *Owner
	// Mode replaces the permission bits of everything copied and created (--chmod).
	Mode *os.FileMode
	// Chmod is a --chmod value from ParseChmod: an octal one acts as Mode; a symbolic
	// one ("u+x,go-w") changes each copied file's own mode, and directories the copy
	// creates get 0755. Mode wins when both are set.
	Chmod *Chmod
	// Exclude holds --exclude patterns (.dockerignore syntax), matched against paths
	// relative to the source they are found under; a source itself is never excluded,
	// as in BuildKit's copy.
	Exclude []string
	// Parents is COPY --parents: a source's path is kept under Dest, from the pivot "/./"
	// when the source has one ("a/./b/c" lands in Dest/b/c), else whole.
	Parents bool
	// Time replaces every mtime (reproducible builds); nil keeps the source's.
	Time *time.Time
	// Filter hides source paths; nil shows everything.
	Filter Filter
	// Unpack extracts local tar archives instead of copying them (ADD).
	Unpack bool
	// Context applies build-context rules: a source may not climb out with "..".
	Context bool
}

// Request is one COPY or ADD.
type Request struct {
	SrcRoot string
	Srcs    []string // as written, relative to SrcRoot; wildcards allowed
	DstRoot string
	// Dest is absolute inside DstRoot; a trailing "/" makes it a directory.
	Dest string
}

// ErrNotFound reports a source that does not exist (or is hidden by the filter).
var ErrNotFound = errors.New("not found")

// Copy performs one COPY or ADD.
func Copy(ctx context.Context, req Request, opts Options) error {
	if len(req.Srcs) > 1 && !strings.HasSuffix(req.Dest, "/") {
		return errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	c, err := newCopier(req.DstRoot, opts)
	if err != nil {
		return err
	}
	defer c.settleTimes()
	if opts.Parents {
		return c.copyParents(ctx, req)
	}
	matched := 0
	var missing []string
	for _, src := range req.Srcs {
		srcs, err := c.resolveSources(req.SrcRoot, src)
		if err != nil {
			return err
		}
		if len(srcs) == 0 {
			missing = append(missing, src)
			continue
		}
		matched += len(srcs)
		for _, s := range srcs {
			if err := c.copySource(ctx, s, req.Dest); err != nil {
				return err
			}
		}
	}
	// A wildcard that matches nothing is fine as long as another source matched (BuildKit's
	// AllowEmptyWildcard); a plain path that is missing never is.
	for _, src := range missing {
		if !containsWildcards(src) || matched == 0 {
			return fmt.Errorf("%s: %w", src, ErrNotFound)
		}
	}
	return nil
}

type copier struct {
	opts    Options
	dstRoot string
	inodes  map[uint64]string // source inode → first destination path, to keep hardlinks
	exclude *patternmatcher.PatternMatcher
	include *patternmatcher.PatternMatcher // --parents: what the current source selects
	top     string                         // rel of the source being copied
	pending []*pendingDir                  // hidden directories being walked, outermost first

	// Times are kept deterministic, so that copying the same sources twice gives the same
	// layer: directories the copy creates take the newest time it copied, and existing
	// directories it adds entries to keep their own.
	created []string    // directories made by mkdirAll
	kept    []keptTimes // existing directories on the way to a destination
	newest  unix.Timespec
}

type keptTimes struct {
	path string
	ts   [2]unix.Timespec
}

func newCopier(dstRoot string, opts Options) (*copier, error) {
	if opts.Mode == nil && opts.Chmod != nil && opts.Chmod.octal != nil {
		opts.Mode = opts.Chmod.octal
	}
	c := &copier{opts: opts, dstRoot: dstRoot, inodes: map[uint64]string{}}
	if len(opts.Exclude) > 0 {
		pm, err := patternmatcher.New(opts.Exclude)
		if err != nil {
			return nil, fmt.Errorf("--exclude: %w", err)
		}
		c.exclude = pm
	}
	return c, nil
}

// source is a resolved source: its path on disk (top-level symlinks followed inside the
// source root) and that path relative to the root, as the filter sees it.
type source struct {
	abs, rel string
	name     string // the base name as written, for destinations inside a directory
}

func (c *copier) resolveSources(root, src string) ([]source, error) {
	clean := path.Clean(filepath.ToSlash(src))
	if c.opts.Context && (clean == ".." || strings.HasPrefix(clean, "../")) {
		return nil, fmt.Errorf("%s: forbidden path outside the build context", src)
	}
	clean = strings.TrimPrefix(path.Clean("/"+clean), "/")
	var candidates []string
	if containsWildcards(clean) {
		var err error
		if candidates, err = c.matchWildcards(root, clean); err != nil {
			return nil, err
		}
	} else {
		candidates = []string{clean}
	}
	var out []source
	for _, cand := range candidates {
		abs, err := securejoin.SecureJoin(root, cand)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		fi, err := os.Lstat(abs)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unixENOTDIR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		if hidden, skip, err := c.filtered(rel, fi.IsDir()); err != nil {
			return nil, err
		} else if hidden && (!fi.IsDir() || skip) {
			continue
		}
		out = append(out, source{abs: abs, rel: rel, name: path.Base(cand)})
	}
	return out, nil
}

// matchWildcards expands a pattern one path segment at a time, like filepath.Match on the
// whole relative path (a "*" never crosses a "/"), without walking unrelated trees.
func (c *copier) matchWildcards(root, pattern string) ([]string, error) {
	segments := strings.Split(pattern, "/")
	paths := []string{""}
	for _, seg := range segments {
		var next []string
		for _, p := range paths {
			if !containsWildcards(seg) {
				next = append(next, path.Join(p, unescape(seg)))
				continue
			}
			dir, err := securejoin.SecureJoin(root, p)
			if err != nil {
				return nil, err
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue // not a directory, or missing: no match below it
			}
			for _, e := range entries {
				if ok, err := path.Match(seg, e.Name()); err != nil {
					return nil, fmt.Errorf("%s: %w", pattern, err)
				} else if ok {
					next = append(next, path.Join(p, e.Name()))
				}
			}
		}
		paths = next
	}
	return paths, nil
}

func containsWildcards(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

func unescape(seg string) string {
	if !strings.Contains(seg, `\`) {
		return seg
	}
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		if seg[i] == '\\' && i+1 < len(seg) {
			i++
		}
		b.WriteByte(seg[i])
	}
	return b.String()
}
