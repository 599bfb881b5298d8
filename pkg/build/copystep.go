package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/dockyard/dockyard/pkg/copier"
	"github.com/dockyard/dockyard/pkg/store"
)

// copyParams is what COPY and ADD share.
type copyParams struct {
	name     string // "COPY" or "ADD"
	sd       instructions.SourcesAndDest
	from     string
	chown    string
	chmod    string
	link     bool
	unpack   bool
	cmd      instructions.Command
	unsolved []string // flags given that are not implemented yet

	exclude    []string // --exclude
	parents    bool     // COPY --parents
	checksum   string   // ADD --checksum
	unpackURL  bool     // ADD --unpack=true: extract downloaded archives too
	keepGitDir bool     // ADD --keep-git-dir
	extraKey   []string // what the flags and downloads add to the cache key
}

func (s *stage) copy(ctx context.Context, c *instructions.CopyCommand) error {
	p := copyParams{name: "COPY", sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, link: c.Link, cmd: c}
	p.parents, p.exclude = c.Parents, c.ExcludePatterns
	return s.copyInstruction(ctx, p)
}

func (s *stage) add(ctx context.Context, c *instructions.AddCommand) error {
	p := copyParams{name: "ADD", sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, link: c.Link, unpack: true, cmd: c}
	if c.Unpack != nil {
		p.unpack = *c.Unpack
	}
	p.exclude, p.checksum = c.ExcludePatterns, c.Checksum
	p.unpackURL = c.Unpack != nil && *c.Unpack
	p.keepGitDir = c.KeepGitDir != nil && *c.KeepGitDir
	return s.copyInstruction(ctx, p)
}

func (s *stage) copyInstruction(ctx context.Context, p copyParams) error {
	label := s.label(cmdText(p.cmd))
	v := s.b.progress.begin("%s", label)
	cached, err := s.copyStep(ctx, p)
	if err != nil {
		err = s.errorAt(p.cmd, fmt.Errorf("%s: %w", p.name, err))
	}
	return v.end(cached, err)
}

func (s *stage) copyStep(ctx context.Context, p copyParams) (cached bool, err error) {
	if len(p.unsolved) > 0 {
		return false, fmt.Errorf("%s is not supported yet", strings.Join(p.unsolved, ", "))
	}
	chmod, err := parseChmodFlag(p.chmod)
	if err != nil {
		return false, err
	}
	src, release, err := s.copySource(ctx, p)
	if err != nil {
		return false, err
	}
	defer release()
	dest := p.sd.DestPath
	if !path.IsAbs(dest) {
		dest = path.Join(workdirPath(s.cfg.Config.WorkingDir, "."), dest)
	}
	if d := p.sd.DestPath; d == "." || d == "" || strings.HasSuffix(d, "/") {
		dest = strings.TrimSuffix(dest, "/") + "/"
	}
	remote, err := s.fetchRemote(ctx, p, dest)
	if err != nil {
		return false, err
	}
	defer remote.release()
	createdBy := copyHistory(p) // with the URLs, which the copy below does not see
	p.sd.SourcePaths = remote.local
	p.extraKey = copyFlagsKey(p, remote)
	lowers := s.dirs
	if p.link {
		// --link: the copy is made against an empty root, so its layer does not depend
		// on the layers below it (BuildKit's MergeOp semantics).
		lowers = nil
	}
	key, err := s.copyKey(p, dest, src)
	if err != nil {
		return false, err
	}
	return s.fsStepOn(ctx, lowers, key, createdBy, nil, func(root string) error {
		owner, err := resolveOwner(root, p.chown)
		if err != nil {
			return fmt.Errorf("--chown=%s: %w", p.chown, err)
		}
		opts := copier.Options{Chown: owner, Chmod: chmod, Time: s.b.epoch, Unpack: p.unpack, Exclude: p.exclude, Parents: p.parents}
		req := copier.Request{SrcRoot: src.root, Srcs: p.sd.SourcePaths, DstRoot: root, Dest: dest}
		if src.context {
			opts.Context = true
			opts.Filter = ignoreFilter{s.b.ignore}
		}
		if err := remote.copyInto(ctx, root, dest, opts); err != nil {
			return err
		}
		if len(req.Srcs) == 0 && len(p.sd.SourceContents) == 0 {
			return nil
		}
		if len(p.sd.SourceContents) > 0 {
			if err := s.copyHeredocs(ctx, p, root, dest, opts); err != nil {
				return err
			}
			if len(req.Srcs) == 0 {
				return nil
			}
		}
		err = copier.Copy(ctx, req, opts)
		if errors.Is(err, copier.ErrNotFound) && src.context {
			return fmt.Errorf("%w in the build context (or excluded by .dockerignore)", err)
		}
		return err
	})
}

// copyHeredocs writes COPY <<EOF sources as 0644 files and copies them like any other.
func (s *stage) copyHeredocs(ctx context.Context, p copyParams, root, dest string, opts copier.Options) error {
	dir, err := os.MkdirTemp(s.b.scratch, "heredoc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var names []string
	for _, c := range p.sd.SourceContents {
		name := path.Clean("/" + c.Path)
		if err := os.MkdirAll(filepath.Join(dir, path.Dir(name)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c.Data), 0o644); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
			return err
		}
		names = append(names, name)
	}
	if len(names)+len(p.sd.SourcePaths) > 1 && !strings.HasSuffix(dest, "/") {
		return errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	opts.Context, opts.Filter = false, nil
	return copier.Copy(ctx, copier.Request{SrcRoot: dir, Srcs: names, DstRoot: root, Dest: dest}, opts)
}

// copyHistory is BuildKit's history text for COPY and ADD.
func copyHistory(p copyParams) string {
	var b strings.Builder
	b.WriteString(p.name)
	if p.parents {
		b.WriteString(" --parents")
	}
	if p.chown != "" {
		b.WriteString(" --chown=" + p.chown)
	}
	if p.chmod != "" {
		b.WriteString(" --chmod=" + p.chmod)
	}
	for _, src := range p.sd.SourcePaths {
		b.WriteString(" " + src)
	}
	for _, c := range p.sd.SourceContents {
		b.WriteString(" <<" + c.Path)
	}
	b.WriteString(" " + p.sd.DestPath)
	return b.String()
}

// copySourceRoot is where a COPY reads from.
type copySourceRoot struct {
	root    string
	context bool
	// identity names the source's content for the cache: a stage's or image's layers.
	identity []string
}

// copyKey is the cache key of a COPY or ADD: the instruction and the content it reads
// (context files hashed through the index, a stage or image by its layers).
func (s *stage) copyKey(p copyParams, dest string, src copySourceRoot) (string, error) {
	k := s.stepKey(p.name)
	k.add(dest, p.chown, p.chmod, p.from, fmt.Sprint(p.link, p.unpack))
	k.addList(p.sd.SourcePaths)
	k.addList(p.extraKey)
	for _, c := range p.sd.SourceContents {
		k.add(c.Path, c.Data)
	}
	if !src.context {
		k.addList(src.identity)
		return k.sum(), nil
	}
	h, err := s.b.contextHasher().hashSources(p.sd.SourcePaths, copier.Options{Context: true, Filter: ignoreFilter{s.b.ignore}})
	if errors.Is(err, copier.ErrNotFound) {
		return "", nil // the copy itself reports it, with the right words
	}
	if err != nil {
		return "", err
	}
	k.add(h)
	return k.sum(), nil
}

// copySource resolves --from: the build context, a previous stage's root, or an image's.
// A stage or image root is a read-only view (an overlay whose changes are thrown away).
func (s *stage) copySource(ctx context.Context, p copyParams) (copySourceRoot, func(), error) {
	if p.from == "" {
		return copySourceRoot{root: s.b.opts.ContextDir, context: true}, func() {}, nil
	}
	var dirs, identity []string
	if ps := s.b.plan.CopyFrom(p.from); ps != nil {
		dirs = s.b.stages[ps].dirs
		identity = append([]string{"stage"}, diffIDStrings(s.b.stages[ps].cfg.RootFS.DiffIDs)...)
	} else {
		img, err := s.b.image(ctx, p.from)
		if errors.Is(err, store.ErrNotFound) {
			return copySourceRoot{}, nil, fmt.Errorf("--from=%s: no such stage, and no such image in the local store", p.from)
		}
		if err != nil {
			return copySourceRoot{}, nil, fmt.Errorf("--from=%s: %w", p.from, err)
		}
		if dirs, err = s.b.store.LayerDirs(ctx, img); err != nil {
			return copySourceRoot{}, nil, fmt.Errorf("--from=%s: %w", p.from, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return copySourceRoot{}, nil, fmt.Errorf("--from=%s: %w", p.from, err)
		}
		identity = append([]string{"image"}, diffIDStrings(cfg.RootFS.DiffIDs)...)
	}
	m, err := s.b.snap.Prepare(ctx, dirs, nil)
	if err != nil {
		return copySourceRoot{}, nil, err
	}
	release := func() { s.b.snap.Release(context.WithoutCancel(ctx), m) }
	return copySourceRoot{root: m.Root, identity: identity}, release, nil
}

// ignoreFilter adapts the .dockerignore matcher to the copier.
type ignoreFilter struct {
	m interface {
		Excluded(string) (bool, error)
		CanSkipDir(string) bool
	}
}

func (f ignoreFilter) Excluded(rel string, _ bool) (bool, error) { return f.m.Excluded(rel) }
func (f ignoreFilter) CanSkipDir(rel string) bool                { return f.m.CanSkipDir(rel) }

// workdir sets the working directory and, as BuildKit, creates it owned by the USER.
func (s *stage) workdir(ctx context.Context, c *instructions.WorkdirCommand) error {
	label := s.label(c.String())
	v := s.b.progress.begin("%s", label)
	wd := workdirPath(s.cfg.Config.WorkingDir, c.Path)
	s.cfg.Config.WorkingDir = wd
	if wd == "/" {
		s.history("WORKDIR /")
		v.done()
		return nil
	}
	key := s.stepKey("WORKDIR")
	key.add(wd, s.cfg.Config.User)
	cached, err := s.fsStep(ctx, key.sum(), "WORKDIR "+wd, nil, func(root string) error {
		owner, err := resolveOwner(root, s.cfg.Config.User)
		if err != nil {
			return fmt.Errorf("USER %s: %w", s.cfg.Config.User, err)
		}
		t := s.baseTime
		if s.b.epoch != nil {
			t = *s.b.epoch
		}
		return copier.MkdirAll(root, wd, owner, t)
	})
	if err != nil {
		err = s.errorAt(c, err)
	}
	return v.end(cached, err)
}
