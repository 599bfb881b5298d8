package dockerfile

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/suggest"
)

// PlanOptions selects what a build produces.
type PlanOptions struct {
	Target         string            // --target: a stage name; "" means the last stage
	BuildArgs      map[string]string // --build-arg values, already resolved by the caller
	BuildPlatform  v1.Platform       // zero means DefaultPlatform()
	TargetPlatform v1.Platform       // zero means BuildPlatform
}

// Plan is what one build of a target needs.
type Plan struct {
	// Stages are the stages the target needs, in file order, which is a dependency
	// order: BuildKit lets a stage use only stages defined above it. The target is last.
	Stages         []*PlannedStage
	Target         *PlannedStage
	BuildPlatform  v1.Platform
	TargetPlatform v1.Platform
	// ProxyEnv holds the proxy --build-args (HTTP_PROXY, no_proxy, ...) as "K=V". RUN gets
	// them in its environment even without an ARG, but they stay out of history and cache
	// keys unless a stage declares them (then they are in Vars.Args too).
	ProxyEnv []string
	// Warnings are problems that do not stop the build, e.g. --build-args no ARG
	// consumes. Each starts with "NAME:" or "NAME:LINE:".
	Warnings []string

	file      string
	escape    rune
	buildArgs map[string]string
	byIndex   map[int]*PlannedStage
	byName    map[string]int
}

// PlannedStage is a stage as one plan builds it.
type PlannedStage struct {
	*Stage
	// Commands are this plan's own copies of the stage's instructions (they shadow
	// Stage.Commands): the executor expands them in place, through Vars.Apply.
	Commands []instructions.Command
	// Base is the expanded FROM argument: an image reference as written (not normalized,
	// not validated: ggcr's pkg/name would pull net, hence cgo, into this package),
	// "scratch", or "" when BaseStage is set. Report a bad reference with
	// Dockerfile.ErrorAt(s.Line, err).
	Base      string
	BaseStage *PlannedStage
	// Deps are the other stages whose result this stage reads: COPY --from, RUN --mount
	// from=, and those of ONBUILD triggers inherited from BaseStage. BaseStage is not
	// repeated here.
	Deps []*PlannedStage
	// TargetPlatform is what the stage builds for: its expanded FROM --platform, else the
	// plan's target platform; a stage built FROM another stage takes that stage's platform,
	// as in BuildKit.
	TargetPlatform v1.Platform
	// MetaArgs are the global ARG values after --build-args (plus the automatic platform
	// ARGs), which `ARG NAME` without a default picks up inside the stage. The map is shared
	// by all stages of the plan: do not modify it.
	MetaArgs map[string]string

	plan *Plan
}

// base is a stage's FROM after expansion.
type base struct {
	name     string // expanded FROM argument
	stage    int    // index of the stage it names, or -1
	platform v1.Platform
}

// Plan resolves what a build of opts.Target needs: the FROM lines expanded with the meta
// ARGs, the stages the target depends on (and no others), their order, and each stage's
// commands ready to be expanded. It follows BuildKit's dockerfile2llb, including the order
// in which it reports problems.
func (d *Dockerfile) Plan(opts PlanOptions) (*Plan, error) {
	if len(d.Stages) == 0 {
		return nil, &Error{File: d.Name, Err: errors.New("no FROM instruction: the Dockerfile contains no stages to build")}
	}
	p := &Plan{
		BuildPlatform:  normalizePlatform(opts.BuildPlatform),
		TargetPlatform: normalizePlatform(opts.TargetPlatform),
		file:           d.Name,
		escape:         d.escapeToken(),
		buildArgs:      maps.Clone(opts.BuildArgs),
	}
	if p.BuildPlatform.OS == "" && p.BuildPlatform.Architecture == "" {
		p.BuildPlatform = DefaultPlatform()
	}
	if p.TargetPlatform.OS == "" && p.TargetPlatform.Architecture == "" {
		p.TargetPlatform = p.BuildPlatform
	}
	opts.BuildArgs = p.buildArgs
	lex := shell.NewLex(p.escape)
	globals, err := d.globalArgs(p, opts, lex)
	if err != nil {
		return nil, err
	}
	bases, err := d.resolveBases(lex, globals, p.TargetPlatform)
	if err != nil {
		return nil, err
	}
	target, err := d.findTarget(opts.Target)
	if err != nil {
		return nil, err
	}
	g, err := d.buildGraph(lex, bases)
	if err != nil {
		return nil, err
	}
	order, err := d.reachable(g, bases, target)
	if err != nil {
		return nil, err
	}
	if err := p.addStages(d, g, bases, order, globals.toMap()); err != nil {
		return nil, err
	}
	p.warn(d)
	return p, nil
}

// globalArgs are the values FROM lines see: the automatic platform ARGs, then the meta ARGs.
func (d *Dockerfile) globalArgs(p *Plan, opts PlanOptions, lex *shell.Lex) (*varList, error) {
	targetStage := opts.Target
	if targetStage == "" {
		targetStage = d.Stages[len(d.Stages)-1].Name
	}
	globals := defaultArgs(p.BuildPlatform, p.TargetPlatform, targetStage, opts.BuildArgs)
	if err := addMetaArgs(globals, lex, d.MetaArgs, opts.BuildArgs); err != nil {
		return nil, locate(d.Name, 0, err)
	}
	return globals, nil
}

// resolveBases expands every FROM, even of stages the target does not need (BuildKit
// rejects a blank base anywhere), and links FROM <name> to the latest stage of that name
// defined above it: a name defined below is an image reference.
func (d *Dockerfile) resolveBases(lex *shell.Lex, globals *varList, target v1.Platform) ([]base, error) {
	bases := make([]base, len(d.Stages))
	byName := map[string]int{}
	for i, s := range d.Stages {
		b := base{stage: -1, platform: target}
		name, _, err := lex.ProcessWord(s.BaseName, globals)
		if err != nil {
			return nil, locate(d.Name, s.Line, err)
		}
		if name == "" {
			return nil, &Error{File: d.Name, Line: s.Line, Err: fmt.Errorf("base name (%s) should not be blank", s.BaseName)}
		}
		b.name = name
		if j, ok := byName[name]; ok {
			b.stage = j
		}
		if s.Platform != "" {
			pl, err := d.platform(lex, globals, s)
			if err != nil {
				return nil, err
			}
			b.platform = pl
		}
		if b.stage >= 0 {
			b.platform = bases[b.stage].platform
		}
		if s.Name != "" {
			byName[s.Name] = i
		}
		bases[i] = b
	}
	return bases, nil
}

func (d *Dockerfile) platform(lex *shell.Lex, globals *varList, s *Stage) (v1.Platform, error) {
	v, _, err := lex.ProcessWord(s.Platform, globals)
	if err != nil {
		return v1.Platform{}, locate(d.Name, s.Line, fmt.Errorf("failed to process arguments for platform %s: %w", s.Platform, err))
	}
	if v == "" {
		return v1.Platform{}, &Error{File: d.Name, Line: s.Line, Err: fmt.Errorf("empty platform value from expression %s", s.Platform)}
	}
	pl, err := ParsePlatform(v)
	if err != nil {
		return v1.Platform{}, &Error{File: d.Name, Line: s.Line, Err: fmt.Errorf("failed to parse platform %s: %w", v, err)}
	}
	return pl, nil
}

// findTarget is the stage a build produces: the named one (names are case-insensitive),
// else the last.
func (d *Dockerfile) findTarget(target string) (int, error) {
	if target == "" {
		return len(d.Stages) - 1, nil
	}
	if i, ok := d.stageIndexByName()[strings.ToLower(target)]; ok {
		return i, nil
	}
	var names []string
	for _, s := range d.Stages {
		if s.Name != "" {
			names = append(names, s.Name)
		}
	}
	msg := fmt.Sprintf("target stage %q not found", target)
	if m, ok := suggest.Search(target, names, false); ok {
		msg += fmt.Sprintf(" (did you mean %s?)", m)
	}
	if len(names) == 0 {
		return 0, &Error{File: d.Name, Err: errors.New(msg + "; no stage has a name (FROM image AS name)")}
	}
	return 0, &Error{File: d.Name, Err: errors.New(msg + "; stages: " + strings.Join(names, ", "))}
}

// stageIndexByName maps each name to the last stage that has it, as BuildKit's lookup of
// COPY --from and --target does.
func (d *Dockerfile) stageIndexByName() map[string]int {
	m := map[string]int{}
	for i, s := range d.Stages {
		if s.Name != "" {
			m[s.Name] = i
		}
	}
	return m
}

// addStages turns the reachable stage indexes (in file order) into PlannedStages.
func (p *Plan) addStages(d *Dockerfile, g *graph, bases []base, order []int, globals map[string]string) error {
	planned := make(map[int]*PlannedStage, len(order))
	p.byIndex, p.byName = planned, d.stageIndexByName()
	for _, i := range order {
		s := d.Stages[i]
		cmds, err := s.freshCommands(d.Name)
		if err != nil {
			return err
		}
		ps := &PlannedStage{Stage: s, Commands: cmds, TargetPlatform: bases[i].platform, MetaArgs: globals, plan: p}
		if b := bases[i].stage; b >= 0 {
			ps.BaseStage = planned[b]
		} else {
			ps.Base = bases[i].name
		}
		for _, dep := range g.deps[i] {
			if dp := planned[dep.stage]; dp != nil && dp != ps.BaseStage && !containsStage(ps.Deps, dp) {
				ps.Deps = append(ps.Deps, dp)
			}
		}
		planned[i] = ps
		p.Stages = append(p.Stages, ps)
	}
	p.Target = p.Stages[len(p.Stages)-1]
	return nil
}

// CopyFrom resolves a COPY --from value (also in an ONBUILD trigger): the planned stage
// it names by index or by name, or nil when it is an image reference.
func (p *Plan) CopyFrom(from string) *PlannedStage {
	if n, err := strconv.Atoi(from); err == nil {
		return p.byIndex[n]
	}
	return p.MountFrom(from)
}

// MountFrom resolves a RUN --mount from= value: the planned stage it names (BuildKit
// accepts no index here), or nil for an image reference or an empty value (the build
// context).
func (p *Plan) MountFrom(from string) *PlannedStage {
	if from == "" {
		return nil
	}
	if i, ok := p.byName[strings.ToLower(from)]; ok {
		return p.byIndex[i]
	}
	return nil
}

func containsStage(list []*PlannedStage, s *PlannedStage) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// warn records --build-args no ARG of the planned stages consumes, duplicate stage
// names, and the proxy variables RUN receives.
func (p *Plan) warn(d *Dockerfile) {
	declared := map[string]bool{}
	for _, a := range d.MetaArgs {
		for _, kv := range a.Args {
			declared[kv.Key] = true
		}
	}
	for _, s := range p.Stages {
		for _, c := range s.Commands {
			if a, ok := c.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					declared[kv.Key] = true
				}
			}
		}
	}
	var unused []string
	for k := range p.buildArgs {
		if !declared[k] && !predefinedArg(k) {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	for _, k := range unused {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: build-arg %q is not declared by any ARG of the stages built; ignored", d.Name, k))
	}
	seen := map[string]int{}
	for _, s := range d.Stages {
		if s.Name == "" {
			continue
		}
		if first, dup := seen[s.Name]; dup {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s:%d: duplicate stage name %q (also on line %d); references pick the latest definition", d.Name, s.Line, s.Name, first))
			continue
		}
		seen[s.Name] = s.Line
	}
	for _, k := range proxyArgNames {
		if v, ok := p.buildArgs[k]; ok {
			p.ProxyEnv = append(p.ProxyEnv, k+"="+v)
		}
	}
}
