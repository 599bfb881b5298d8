// Package build is the executor: it walks the stages of a planned Dockerfile, runs every
// RUN in a container on an overlay of the stage's layers, applies COPY and ADD with
// Docker's file semantics, records config-only instructions, and assembles the result
// into an OCI image in the local store.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/pkg/dockerfile"
	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/snapshot"
	"github.com/dockyard/dockyard/pkg/store"
)

// Options describe one build.
type Options struct {
	Store       *store.Store
	Snapshotter snapshot.Snapshotter // nil: snapshot.New's choice, under the store's scratch space

	ContextDir     string
	Dockerfile     []byte // its content
	DockerfileName string // as the user named it, for errors: "Dockerfile", "other/Dockerfile"
	Ignore         []string

	Tags      []string
	Target    string
	BuildArgs map[string]string
	Labels    map[string]string
	Platform  string // target platform, e.g. linux/amd64; "" is the build machine's

	Pull  store.PullPolicy // when FROM and COPY --from images come from a registry ("" is missing)
	Fetch store.Fetcher    // pulls an image (pkg/push.Pull with the user's registry settings)

	Network run.NetworkMode // for RUN; "" is host, so package installs work
	Limits  run.Limits      // cgroup limits of every RUN (--memory, --pids-limit); zero: none
	// Secrets are the values RUN --mount=type=secret shows, by id (builder build --secret).
	Secrets map[string][]byte
	// The build cache: every RUN, COPY, ADD and WORKDIR result is recorded under a key of
	// everything it depends on, and a later step with the same key reuses it.
	NoCache       bool          // run every step (results are still recorded)
	NoCacheFilter []string      // stages whose steps always run
	CacheTTL      time.Duration // entries older than this are misses (0: no limit)
	CacheFrom     []CacheSource // shared caches consulted on a local miss
	CacheTo       []CacheSink   // shared caches that receive this build's steps

	Compression     layers.Compression
	SourceDateEpoch *time.Time // reproducible: clamps every timestamp to it

	Progress io.Writer // plain progress lines; nil prints nothing
}

// Result is a built image.
type Result struct {
	Image   v1.Image
	Digest  v1.Hash // manifest digest
	ImageID v1.Hash // config digest, docker's image ID
	Tags    []string
}

// Build runs a build to the end. On any failure or cancellation it leaves no mount,
// container or temporary file behind, and the store as it was, but for layers of steps
// that completed, which later builds can reuse.
func Build(ctx context.Context, opts Options) (*Result, error) {
	b, err := newBuilder(ctx, &opts)
	if err != nil {
		return nil, err
	}
	defer b.close()
	release, err := opts.Store.Use()
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	for _, ps := range b.plan.Stages {
		if err := b.buildStage(ctx, ps); err != nil {
			return nil, err
		}
	}
	final := b.stages[b.plan.Target]
	img, err := final.image()
	if err != nil {
		return nil, err
	}
	if err := b.writeCache(ctx); err != nil {
		return nil, err
	}
	v := b.progress.begin("exporting to image")
	digest, err := opts.Store.WriteImage(img, opts.Tags...)
	if err != nil {
		v.fail(err)
		return nil, err
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	v.log("writing image %s done", id)
	for _, t := range opts.Tags {
		n, _ := store.Normalize(t)
		v.log("naming to %s done", n)
	}
	v.done()
	b.progress.printf("built %s in %.1fs\n", digest, time.Since(start).Seconds())
	return &Result{Image: img, Digest: digest, ImageID: id, Tags: opts.Tags}, nil
}

// builder holds what one build shares between its stages.
type builder struct {
	opts     *Options
	store    *store.Store
	snap     snapshot.Snapshotter
	df       *dockerfile.Dockerfile
	plan     *dockerfile.Plan
	progress *progress
	ignore   *dockerfile.Matcher
	scratch  string // this build's private dir for generated files and container state
	stages   map[*dockerfile.PlannedStage]*stage
	steps    int // instructions in all planned stages, for "step N/M"
	step     int
	epoch    *time.Time
	files    *runFiles
	cacheState
}

func newBuilder(ctx context.Context, opts *Options) (*builder, error) {
	if opts.Store == nil {
		return nil, errors.New("build: no store")
	}
	name := opts.DockerfileName
	if name == "" {
		name = "Dockerfile"
	}
	df, err := dockerfile.Parse(bytesReader(opts.Dockerfile), dockerfile.ParseOptions{Name: name})
	if err != nil {
		return nil, err
	}
	target, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	plan, err := df.Plan(dockerfile.PlanOptions{Target: opts.Target, BuildArgs: opts.BuildArgs, TargetPlatform: target})
	if err != nil {
		return nil, err
	}
	ignore, err := dockerfile.NewMatcher(opts.Ignore)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	se, err := opts.Store.Scratch()
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(se.Dir, "build-")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	b := &builder{
		opts: opts, store: opts.Store, snap: opts.Snapshotter, df: df, plan: plan,
		progress: newProgress(opts.Progress), ignore: ignore, scratch: scratch,
		stages: map[*dockerfile.PlannedStage]*stage{}, epoch: opts.SourceDateEpoch,
	}
	if b.snap == nil {
		if b.snap, err = snapshot.New(filepath.Join(scratch, "roots"), opts.Store.LayerFormat()); err != nil {
			os.RemoveAll(scratch)
			return nil, err
		}
	} else if f, ok := b.snap.(interface{ Format() layers.DirFormat }); ok && f.Format() != opts.Store.LayerFormat() {
		os.RemoveAll(scratch)
		return nil, fmt.Errorf("build: the snapshotter stacks %s layer dirs, the store keeps %s ones", f.Format(), opts.Store.LayerFormat())
	}
	for _, ps := range plan.Stages {
		b.steps += 1 + len(ps.Commands)
	}
	for _, w := range plan.Warnings {
		b.progress.printf("WARNING: %s\n", w)
	}
	return b, nil
}

func (b *builder) close() {
	if b.hasher != nil {
		if err := b.hasher.save(); err != nil {
			b.progress.printf("WARNING: cannot save the build context index: %v\n", err)
		}
	}
	os.RemoveAll(b.scratch)
}

// now is the time recorded in history and config: the epoch when reproducible.
func (b *builder) now() time.Time {
	if b.epoch != nil {
		return b.epoch.UTC()
	}
	return time.Now().UTC()
}

func (b *builder) layerOptions() layers.WriteOptions {
	return layers.WriteOptions{Compression: b.opts.Compression, SourceDateEpoch: b.epoch}
}

// Recover cleans what killed builds left in the store: their containers (every process
// killed, cgroups removed), mounts and scratch files. Builder and runner call it on start.
func Recover(s *store.Store) error {
	return s.Recover(func(dir string) error {
		builds, _ := filepath.Glob(filepath.Join(dir, "build-*", "containers"))
		var errs []error
		for _, stateRoot := range builds {
			errs = append(errs, run.DestroyAll(stateRoot))
		}
		return errors.Join(errs...)
	})
}
