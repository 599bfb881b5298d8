package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/dockyard/dockyard/pkg/dockerfile"
	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/store"
)

// ImportOptions describe a `builder import`, docker import's twin.
type ImportOptions struct {
	Store    *store.Store
	Source   string    // a directory, a tarball (any compression), or "-" for Stdin
	Stdin    io.Reader // the tarball when Source is "-"
	Tags     []string
	Changes  []string // Dockerfile instructions applied to the config: CMD ["sh"], ENV A=b, ...
	Platform string
	Message  string // history comment
	Progress io.Writer
}

// Import makes a one-layer image from a root filesystem.
func Import(ctx context.Context, opts ImportOptions) (*Result, error) {
	platform, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	if platform.OS == "" {
		platform = dockerfile.DefaultPlatform()
	}
	p := newProgress(opts.Progress)
	v := p.begin("importing %s", opts.Source)
	layer, err := importLayer(ctx, opts)
	if err != nil {
		v.fail(err)
		return nil, err
	}
	v.log("layer %s", layer.Descriptor().Digest)
	v.done()
	now := time.Now().UTC()
	cfg := &v1.ConfigFile{
		Created: v1.Time{Time: now}, OS: platform.OS, Architecture: platform.Architecture, Variant: platform.Variant,
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layer.Descriptor().DiffID}},
		History: []v1.History{{Created: v1.Time{Time: now}, CreatedBy: "import " + opts.Source, Comment: opts.Message}},
	}
	if err := applyChanges(cfg, opts.Changes); err != nil {
		return nil, err
	}
	img, err := newImage([]v1.Layer{layer}, cfg)
	if err != nil {
		return nil, err
	}
	digest, err := opts.Store.WriteImage(img, opts.Tags...)
	if err != nil {
		return nil, err
	}
	id, _ := img.ConfigName()
	p.printf("imported %s\n", digest)
	return &Result{Image: img, Digest: digest, ImageID: id, Tags: opts.Tags}, nil
}

func importLayer(ctx context.Context, opts ImportOptions) (*store.Layer, error) {
	wopts := layers.WriteOptions{}
	if opts.Source != "-" {
		fi, err := os.Stat(opts.Source)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		if fi.IsDir() {
			// The directory stays the user's: its tar goes into the store, which extracts
			// its own copy now, as for a tarball, so that the image is ready to stack.
			bw, err := opts.Store.NewBlobWriter()
			if err != nil {
				return nil, err
			}
			desc, err := layers.WriteLayer(ctx, opts.Source, bw, wopts)
			if err != nil {
				bw.Abort()
				return nil, fmt.Errorf("import %s: %w", opts.Source, err)
			}
			if _, err := bw.Commit(desc.Digest); err != nil {
				return nil, err
			}
			l := opts.Store.Layer(desc)
			if err := opts.Store.EnsureLayerDir(ctx, l); err != nil {
				return nil, fmt.Errorf("import %s: %w", opts.Source, err)
			}
			return l, nil
		}
	}
	r := opts.Stdin
	if opts.Source != "-" {
		f, err := os.Open(opts.Source)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	tr, _, err := layers.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", opts.Source, err)
	}
	defer tr.Close()
	se, err := opts.Store.Scratch()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(se.Dir, "import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "root")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if err := layers.Extract(ctx, tr, dir, layers.ExtractOptions{Whiteouts: opts.Store.LayerFormat().Whiteouts()}); err != nil {
		return nil, fmt.Errorf("import %s: %w", opts.Source, err)
	}
	return opts.Store.WriteLayerDir(ctx, dir, wopts)
}

// applyChanges applies `--change` instructions, docker import's subset of the Dockerfile.
func applyChanges(cfg *v1.ConfigFile, changes []string) error {
	if len(changes) == 0 {
		return nil
	}
	src := "FROM scratch\n" + strings.Join(changes, "\n") + "\n"
	df, err := dockerfile.Parse(strings.NewReader(src), dockerfile.ParseOptions{Name: "--change"})
	if err != nil {
		return err
	}
	plan, err := df.Plan(dockerfile.PlanOptions{})
	if err != nil {
		return err
	}
	ps := plan.Target
	s := &stage{b: &builder{df: df}, ps: ps, cfg: cfg, vars: ps.NewVars(nil, nil)}
	for _, cmd := range ps.Commands {
		if err := s.vars.Apply(cmd); err != nil {
			return err
		}
		switch c := cmd.(type) {
		case *instructions.WorkdirCommand:
			cfg.Config.WorkingDir = workdirPath(cfg.Config.WorkingDir, c.Path)
		case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
			return fmt.Errorf("--change %s: only config instructions can be applied to an import", cmdText(cmd))
		default:
			if err := s.configOnly(cmd); err != nil {
				return fmt.Errorf("--change %s: %w", cmdText(cmd), err)
			}
		}
	}
	cfg.History = cfg.History[:1] // the changes describe the import, they are not steps
	return nil
}
