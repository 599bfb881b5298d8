package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/internal/mountns"
	"github.com/dockyard/dockyard/pkg/build"
	"github.com/dockyard/dockyard/pkg/cache"
	"github.com/dockyard/dockyard/pkg/dockerfile"
	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/push"
	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/store"
)

type buildFlags struct {
	tags, buildArgs, labels, outputs []string
	file, target, platform, network  string
	iidfile, progress, compression   string
	pull, digestFile                 string
	reproducible, quiet, push        bool
	snapshotter, memory              string
	pidsLimit                        int64
	noCache                          bool
	noCacheFilter                    []string
	cacheTTL                         time.Duration
	cacheFrom, cacheTo               []string
	cacheRepo                        string
	secrets                          []string
	registry                         registryFlags
}

func newBuildCmd(g *globals) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT|-",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mountns.Enter(); err != nil {
				return err
			}
			return runBuild(cmd, g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name and optionally a tag (name:tag); repeatable")
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile; - reads stdin)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE (KEY alone takes it from the environment)")
	fl.StringVar(&f.target, "target", "", "the stage to build")
	fl.StringArrayVar(&f.labels, "label", nil, "image label KEY=VALUE; repeatable")
	fl.StringVar(&f.platform, "platform", "", "target platform (os/arch)")
	fl.StringVar(&f.network, "network", "host", "network of RUN steps: host or none")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "also export: type=oci|docker|local|tar,dest=PATH[,tar=false]")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, plain or quiet")
	fl.StringVar(&f.compression, "compression", "gzip", "layer compression: gzip, zstd or none")
	fl.BoolVar(&f.reproducible, "reproducible", false, "fix every timestamp to $SOURCE_DATE_EPOCH (0 if unset): same inputs, same digest")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	f.addInputFlags(fl)
	f.addRobustFlags(fl)
	fl.BoolVar(&f.noCache, "no-cache", false, "run every step; results are still recorded in the cache")
	fl.StringArrayVar(&f.noCacheFilter, "no-cache-filter", nil, "stage whose steps always run; repeatable")
	fl.DurationVar(&f.cacheTTL, "cache-ttl", 0, "ignore cached steps older than this (e.g. 336h); 0 keeps them all")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "shared cache to read: type=registry,ref=REPO or type=local,src=DIR; repeatable")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "shared cache to write: type=registry,ref=REPO or type=local,dest=DIR; repeatable")
	fl.StringVar(&f.cacheRepo, "cache-repo", "", "registry repository used as --cache-from and --cache-to (Kaniko's flag)")
	fl.BoolVar(&f.push, "push", false, "push the image to every -t reference")
	fl.StringVar(&f.digestFile, "digest-file", "", "with --push: write the pushed manifest digest to this file")
	fl.StringVar(&f.pull, "pull", "missing", "when to pull base images: always, missing or never")
	fl.Lookup("pull").NoOptDefVal = "always" // a bare --pull means always, as in docker build
	f.registry.add(fl)
	f.registry.addFormat(fl)
	return cmd
}

func runBuild(cmd *cobra.Command, g *globals, f *buildFlags, contextDir string) error {
	contextDir, cleanup, err := f.stdinContext(cmd.Context(), contextDir, cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer cleanup()
	opts, err := f.options(contextDir, cmd.InOrStdin())
	if err != nil {
		return err
	}
	if opts.Secrets, err = f.secretValues(); err != nil {
		return err
	}
	outputs := make([]build.Output, 0, len(f.outputs))
	for _, o := range f.outputs {
		out, err := build.ParseOutput(o)
		if err != nil {
			return err
		}
		outputs = append(outputs, out)
	}
	s, err := g.openStore()
	if err != nil {
		return err
	}
	defer s.Close()
	opts.Store = s
	if opts.Snapshotter, err = f.openSnapshotter(s); err != nil {
		return err
	}
	if f.quiet || f.progress == "quiet" {
		opts.Progress = nil
	} else {
		opts.Progress = cmd.ErrOrStderr()
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	platform, err := buildPlatform(f.platform)
	if err != nil {
		return err
	}
	opts.Fetch = f.registry.fetcher(platform, progress)
	if opts.CacheFrom, opts.CacheTo, err = f.caches(progress); err != nil {
		return err
	}
	res, err := build.Build(cmd.Context(), opts)
	if err != nil {
		return err
	}
	if f.push {
		if len(f.tags) == 0 {
			return errors.New("--push needs at least one -t reference")
		}
		d, err := push.Push(cmd.Context(), res.Image, f.tags, f.registry.options(progress))
		if err != nil {
			return err
		}
		if err := writeDigest(f.digestFile, d); err != nil {
			return err
		}
		fmt.Fprintf(progress, "pushed %s to %s\n", d, strings.Join(f.tags, ", "))
	} else if f.digestFile != "" {
		return errors.New("--digest-file needs --push")
	}
	for _, out := range outputs {
		if err := build.WriteOutput(cmd.Context(), s, res.Image, out, f.tags, cmd.OutOrStdout()); err != nil {
			return err
		}
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ImageID.String()), 0o644); err != nil {
			return err
		}
	}
	if f.quiet {
		fmt.Fprintln(cmd.OutOrStdout(), res.ImageID)
	}
	return nil
}

func (f *buildFlags) options(contextDir string, stdin io.Reader) (build.Options, error) {
	var o build.Options
	fi, err := os.Stat(contextDir)
	if err != nil {
		return o, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return o, fmt.Errorf("build context %s is not a directory", contextDir)
	}
	o.ContextDir, err = filepath.Abs(contextDir)
	if err != nil {
		return o, err
	}
	dfPath, name, content, err := readDockerfile(o.ContextDir, f.file, stdin)
	if err != nil {
		return o, err
	}
	o.Dockerfile, o.DockerfileName = content, name
	if o.Ignore, err = dockerfile.ReadIgnore(o.ContextDir, dfPath); err != nil {
		return o, err
	}
	o.Tags, o.Target, o.Platform = f.tags, f.target, f.platform
	if o.BuildArgs, err = keyValues(f.buildArgs, true); err != nil {
		return o, fmt.Errorf("--build-arg: %w", err)
	}
	if o.Labels, err = keyValues(f.labels, false); err != nil {
		return o, fmt.Errorf("--label: %w", err)
	}
	switch f.network {
	case "host", "default", "":
		o.Network = run.NetworkHost
	case "none":
		o.Network = run.NetworkNone
	default:
		return o, fmt.Errorf("--network %s: want host or none", f.network)
	}
	switch c := layers.Compression(f.compression); c {
	case layers.Gzip, layers.Zstd, layers.Uncompressed:
		o.Compression = c
	default:
		return o, fmt.Errorf("--compression %s: want gzip, zstd or none", f.compression)
	}
	if o.SourceDateEpoch, err = sourceDateEpoch(f.reproducible); err != nil {
		return o, err
	}
	o.NoCache, o.NoCacheFilter, o.CacheTTL = f.noCache, f.noCacheFilter, f.cacheTTL
	if o.Limits, err = f.limits(); err != nil {
		return o, err
	}
	if o.Pull, err = store.ParsePullPolicy(f.pull); err != nil {
		return o, fmt.Errorf("--pull: %w", err)
	}
	return o, nil
}

// readDockerfile finds the Dockerfile as docker does: -f relative to the working
// directory, else CONTEXT/Dockerfile, else CONTEXT/dockerfile; "-" reads stdin.
func readDockerfile(contextDir, file string, stdin io.Reader) (path, name string, content []byte, err error) {
	switch file {
	case "-":
		content, err = io.ReadAll(io.LimitReader(stdin, dockerfile.MaxFileSize+1))
		return "", "Dockerfile", content, err
	case "":
		for _, n := range []string{"Dockerfile", "dockerfile"} {
			p := filepath.Join(contextDir, n)
			if content, err = os.ReadFile(p); err == nil {
				return p, n, content, nil
			}
		}
		return "", "", nil, fmt.Errorf("no Dockerfile in %s (name one with -f)", contextDir)
	}
	content, err = os.ReadFile(file)
	if err != nil {
		return "", "", nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	return file, file, content, nil
}

// keyValues parses KEY=VALUE flags; with fromEnv, a bare KEY takes $KEY (and is dropped
// when unset, as docker does).
func keyValues(in []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%q: empty key", kv)
		}
		if !ok {
			if !fromEnv {
				out[k] = ""
				continue
			}
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

// caches builds the shared build caches of --cache-from, --cache-to and --cache-repo.
func (f *buildFlags) caches(progress io.Writer) ([]build.CacheSource, []build.CacheSink, error) {
	from, to := f.cacheFrom, f.cacheTo
	if f.cacheRepo != "" {
		from, to = append(from, f.cacheRepo), append(to, f.cacheRepo)
	}
	var sources []build.CacheSource
	var sinks []build.CacheSink
	for i, list := range [][]string{from, to} {
		for _, s := range list {
			spec, err := cache.ParseSpec(s)
			if err != nil {
				return nil, nil, err
			}
			var c interface {
				build.CacheSource
				build.CacheSink
			}
			if spec.Type == "local" {
				c = cache.NewLocal(spec.Dir)
			} else {
				c = cache.NewRegistry(spec.Ref, f.registry.options(progress))
			}
			if i == 0 {
				sources = append(sources, c)
			} else {
				sinks = append(sinks, c)
			}
		}
	}
	return sources, sinks, nil
}

func buildPlatform(s string) (v1.Platform, error) {
	if s == "" {
		return dockerfile.DefaultPlatform(), nil
	}
	return dockerfile.ParsePlatform(s)
}

func sourceDateEpoch(reproducible bool) (*time.Time, error) {
	s, set := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !set && !reproducible {
		return nil, nil
	}
	var sec int64
	if set && s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, errors.New("SOURCE_DATE_EPOCH must be a number of seconds since 1970")
		}
		sec = n
	}
	t := time.Unix(sec, 0).UTC()
	return &t, nil
}
