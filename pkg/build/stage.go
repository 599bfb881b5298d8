package build

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/dockyard/dockyard/pkg/dockerfile"
)

// historyComment marks history entries this builder wrote, as BuildKit marks its own.
const historyComment = "dockyard.dockerfile.v0"

// stage is one stage being built: its image so far (config, layers) and its variables.
type stage struct {
	b      *builder
	ps     *dockerfile.PlannedStage
	vars   *dockerfile.Vars
	cfg    *v1.ConfigFile
	layers []v1.Layer
	dirs   []string // the layers' extracted dirs, top first; nil until a step needs them
	cmdSet bool     // CMD given in this stage (ENTRYPOINT then keeps it)
	// lastTime is when the newest layer was made: config-only steps are recorded at it and
	// the image is created at it, as BuildKit does, so a fully cached rebuild reproduces
	// the image digest.
	lastTime time.Time
	// baseTime is when the stage's base was made: the mtime of directories WORKDIR
	// creates, so their layer depends only on the base and the path.
	baseTime time.Time
	index    int // position of the current instruction, for "[stage 2/5]"
	total    int
}

func (b *builder) buildStage(ctx context.Context, ps *dockerfile.PlannedStage) error {
	s := &stage{b: b, ps: ps, total: 1 + len(ps.Commands)}
	if err := s.from(ctx); err != nil {
		return err
	}
	// ONBUILD triggers of the base run first, as if written right after FROM.
	triggers := s.cfg.Config.OnBuild
	s.cfg.Config.OnBuild = nil
	var cmds []instructions.Command
	for _, expr := range triggers {
		cmd, err := dockerfile.ParseOnBuild(expr)
		if err != nil {
			return b.df.ErrorAt(ps.Line, fmt.Errorf("ONBUILD trigger %q of the base image: %w", expr, err))
		}
		cmds = append(cmds, cmd)
	}
	s.total += len(cmds)
	cmds = append(cmds, ps.Commands...)
	for _, cmd := range cmds {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.vars.Apply(cmd); err != nil {
			return err
		}
		if err := s.dispatch(ctx, cmd); err != nil {
			return err
		}
	}
	b.stages[ps] = s
	return nil
}

// label is the progress label of the instruction about to run: "[app 3/7] RUN make".
func (s *stage) label(text string) string {
	s.index++
	name := s.ps.Name
	if name == "" && len(s.b.plan.Stages) > 1 {
		name = s.ps.DisplayName()
	}
	if name != "" {
		name += " "
	}
	return fmt.Sprintf("[%s%d/%d] %s", name, s.index, s.total, text)
}

// errorAt reports a failure of the instruction cmd with its Dockerfile line.
func (s *stage) errorAt(cmd instructions.Command, err error) error {
	line := s.ps.Line
	if loc := cmd.Location(); len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return s.b.df.ErrorAt(line, err)
}

// history records a config-only instruction in the image history.
func (s *stage) history(createdBy string) {
	s.cfg.History = append(s.cfg.History, v1.History{
		Created: v1.Time{Time: s.stepTime()}, CreatedBy: createdBy, Comment: historyComment, EmptyLayer: true,
	})
}

// stepTime is the time of a config-only step: the newest layer's, or the epoch.
func (s *stage) stepTime() time.Time {
	if s.b.epoch != nil {
		return s.b.epoch.UTC()
	}
	if s.lastTime.IsZero() {
		return s.b.now()
	}
	return s.lastTime
}

// image is the stage's result as an image.
func (s *stage) image() (v1.Image, error) {
	cfg := s.cfg.DeepCopy()
	cfg.Created = v1.Time{Time: s.stepTime()}
	for k, v := range s.b.opts.Labels {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		cfg.Config.Labels[k] = v
	}
	return newImage(s.layers, cfg)
}

// env is what a RUN's process gets: the stage's variables and the proxy build args.
func (s *stage) env() []string {
	env := s.vars.Env()
	for _, kv := range s.b.plan.ProxyEnv {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") }) {
			env = append(env, kv)
		}
	}
	return env
}

// cmdText is an instruction as written in the Dockerfile.
func cmdText(cmd instructions.Command) string {
	if st, ok := cmd.(fmt.Stringer); ok {
		return st.String()
	}
	return strings.ToUpper(cmd.Name())
}
