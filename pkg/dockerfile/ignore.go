package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// ReadIgnore loads the ignore patterns for a build: `<dockerfilePath>.dockerignore` wins
// over `<contextDir>/.dockerignore` (BuildKit's rule); an empty dockerfilePath skips the
// first. A missing file means no patterns. Lines are cleaned as BuildKit does: `#`
// comments and blank lines dropped, a leading "/" removed, paths cleaned.
func ReadIgnore(contextDir, dockerfilePath string) ([]string, error) {
	var candidates []string
	if dockerfilePath != "" {
		candidates = append(candidates, dockerfilePath+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(contextDir, ".dockerignore"))
	for _, name := range candidates {
		dt, err := readSmallFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(dt))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		return patterns, nil
	}
	return nil, nil
}

// readSmallFile reads name, refusing files over MaxFileSize as BuildKit does.
func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open ignore file: %w", err)
	}
	defer f.Close()
	dt, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(dt) > MaxFileSize {
		return nil, fmt.Errorf("read %s: exceeds maximum allowed size of %d bytes", name, MaxFileSize)
	}
	return dt, nil
}

// Matcher decides which context paths .dockerignore patterns exclude, with the semantics
// of BuildKit's context transfer (moby/patternmatcher as used by tonistiigi/fsutil):
// Go filepath.Match globs plus `**`, `!` exceptions, the last matching pattern wins, and a
// path is excluded when it or one of its parent directories matches.
//
// Patterns apply only to the build context, never to COPY --from sources. The Dockerfile
// and .dockerignore are read directly (Parse, ReadIgnore), so excluding them hides them
// from COPY only, as in BuildKit. A Matcher is safe for concurrent use.
type Matcher struct {
	mu sync.Mutex // patternmatcher compiles patterns lazily and is not concurrency-safe
	pm *patternmatcher.PatternMatcher
	// exceptions are the `!` patterns without a trailing "/**" or "/*". A literal one is
	// the only thing that can re-include a path under an excluded directory.
	exceptions []string
	// globExceptions is set when some exception has wildcards before its end: then no
	// excluded directory can be skipped, since it might match anything.
	globExceptions bool
}

// NewMatcher compiles patterns (as ReadIgnore returns them; a leading "/" or "./" is
// accepted too). An invalid pattern is an error here, never later in Excluded.
func NewMatcher(patterns []string) (*Matcher, error) {
	clean := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if p = normalizePattern(p); p != "" {
			clean = append(clean, p)
		}
	}
	for _, p := range clean {
		if err := validatePattern(p); err != nil {
			return nil, err
		}
	}
	pm, err := patternmatcher.New(clean)
	if err != nil {
		return nil, fmt.Errorf("compile ignore patterns: %w", err)
	}
	m := &Matcher{pm: pm}
	for _, p := range pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		s := strings.TrimSuffix(strings.TrimSuffix(p.String(), "/**"), "/*")
		if strings.ContainsAny(s, `*[]?^\`) {
			m.globExceptions = true
		}
		m.exceptions = append(m.exceptions, s)
	}
	return m, nil
}

// normalizePattern applies ignorefile.ReadAll's cleaning to one pattern.
func normalizePattern(p string) string {
	p = strings.TrimSpace(p)
	invert := strings.HasPrefix(p, "!")
	if invert {
		p = strings.TrimSpace(p[1:])
	}
	if p != "" {
		p = filepath.ToSlash(filepath.Clean(p))
		if len(p) > 1 && p[0] == '/' {
			p = p[1:]
		}
	}
	if invert {
		return "!" + p
	}
	return p
}

// validatePattern compiles p alone: patternmatcher only finds some bad patterns (an
// unterminated "[") when it first matches with them.
func validatePattern(p string) error {
	p = strings.TrimPrefix(p, "!")
	if p == "" {
		return errors.New(`compile ignore patterns: illegal exclusion pattern: "!"`)
	}
	pm, err := patternmatcher.New([]string{p})
	if err != nil {
		return fmt.Errorf("compile ignore pattern %q: %w", p, err)
	}
	if _, err := pm.MatchesOrParentMatches("x"); err != nil {
		return fmt.Errorf("compile ignore pattern %q: %w", p, err)
	}
	return nil
}

// cleanRel turns a context-relative path ("./a/b", "/a/b/", "a//b") into "a/b".
func cleanRel(rel string) string {
	return strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(rel)), "/")
}

// Excluded reports whether the context-relative, slash-separated path rel is excluded:
// the last pattern matching rel or one of its parents decides, so a file in an excluded
// directory is excluded unless an exception re-includes it. For a directory this is about
// the directory itself; a walker must still descend into it unless CanSkipDir, and keep
// it if anything under it is kept, as BuildKit does.
func (m *Matcher) Excluded(rel string) (bool, error) {
	rel = cleanRel(rel)
	if rel == "" || m == nil {
		return false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok, err := m.pm.MatchesOrParentMatches(rel)
	if err != nil {
		return false, fmt.Errorf("match %s against ignore patterns: %w", rel, err)
	}
	return ok, nil
}

// CanSkipDir reports whether a walker may skip the directory rel entirely: it is
// excluded and no exception pattern can re-include anything under it.
func (m *Matcher) CanSkipDir(rel string) bool {
	excluded, err := m.Excluded(rel)
	if err != nil || !excluded {
		return false
	}
	if m.globExceptions {
		return false
	}
	prefix := cleanRel(rel) + "/"
	for _, e := range m.exceptions {
		if strings.HasPrefix(e+"/", prefix) {
			return false
		}
	}
	return true
}
