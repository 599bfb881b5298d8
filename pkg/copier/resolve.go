package copier

// Source is what one source pattern of a COPY selects: a path inside the source root
// (top-level symlinks followed inside it) and that path relative to the root, as the
// filter sees it.
type Source struct {
	Abs, Rel string
	Name     string // the base name as written: a file's name inside a destination directory
}

// ResolveSources expands a source pattern the way Copy does (wildcards, the filter,
// symlinks resolved inside the root), for callers that must know what a COPY would read
// without copying it: the build cache hashes exactly these.
func ResolveSources(root, src string, opts Options) ([]Source, error) {
	c := &copier{opts: opts}
	found, err := c.resolveSources(root, src)
	if err != nil {
		return nil, err
	}
	out := make([]Source, len(found))
	for i, s := range found {
		out[i] = Source{Abs: s.abs, Rel: s.rel, Name: s.name}
	}
	return out, nil
}
