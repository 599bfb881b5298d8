package dockerfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// dep is a stage reading another stage's result.
type dep struct {
	stage int                  // the stage read
	cmd   instructions.Command // the COPY or RUN that reads it
	mount bool                 // RUN --mount from= rather than COPY --from
	from  string               // the reference as written
}

type graph struct {
	deps [][]dep // per stage, in command order
}

// buildGraph finds, for every stage, the stages its COPY --from and RUN --mount from=
// name. Like BuildKit, COPY --from may be a stage name, a stage index or an image
// reference, and is never expanded; mount from= is a stage name or an image. A name may
// refer to a stage further down: that is a cycle or an error only if it matters (see
// checkCycles and reachable).
func (d *Dockerfile) buildGraph(lex *shell.Lex, bases []base) (*graph, error) {
	byName := d.stageIndexByName()
	g := &graph{deps: make([][]dep, len(d.Stages))}
	for i, s := range d.Stages {
		for _, c := range s.Commands {
			deps, err := d.commandDeps(c, lex, byName)
			if err != nil {
				return nil, locate(d.Name, commandLine(c.Location()), err)
			}
			g.deps[i] = append(g.deps[i], deps...)
		}
	}
	if err := d.checkCycles(g, bases); err != nil {
		return nil, err
	}
	return g, nil
}

// commandDeps returns the stages c reads; errors carry no location.
func (d *Dockerfile) commandDeps(c instructions.Command, lex *shell.Lex, byName map[string]int) ([]dep, error) {
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From == "" {
			return nil, nil
		}
		i, err := d.copyFrom(c.From, lex, byName)
		if err != nil {
			return nil, err
		}
		if i < 0 {
			return nil, nil
		}
		return []dep{{stage: i, cmd: c, from: c.From}}, nil
	case *instructions.RunCommand:
		var deps []dep
		for _, m := range instructions.GetMounts(c) {
			if i, ok := byName[strings.ToLower(m.From)]; ok && m.From != "" {
				deps = append(deps, dep{stage: i, cmd: c, mount: true, from: m.From})
			}
		}
		return deps, nil
	}
	return nil, nil
}

// copyFrom resolves COPY --from: a stage index, else a stage name, else -1 for an image.
func (d *Dockerfile) copyFrom(from string, lex *shell.Lex, byName map[string]int) (int, error) {
	if v, _, err := lex.ProcessWord(from, shell.EnvsFromSlice(nil)); err != nil || v != from {
		return 0, errors.New("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
	}
	if n, err := strconv.Atoi(from); err == nil {
		if n < 0 || n >= len(d.Stages) {
			return 0, fmt.Errorf("invalid stage index %d", n)
		}
		return n, nil
	}
	if i, ok := byName[strings.ToLower(from)]; ok {
		return i, nil
	}
	return -1, nil
}

// checkCycles rejects a stage that needs itself, directly or through others, whether or
// not the target needs it (as BuildKit's validateCircularDependency). FROM edges count
// too. The walk is iterative: a Dockerfile can hold far more stages than a goroutine
// stack should recurse through.
func (d *Dockerfile) checkCycles(g *graph, bases []base) error {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(d.Stages))
	type frame struct{ stage, next int }
	edges := func(i int) int { // number of out-edges; edge len(deps) is the FROM stage
		if bases[i].stage >= 0 {
			return len(g.deps[i]) + 1
		}
		return len(g.deps[i])
	}
	for root := range d.Stages {
		if state[root] != unseen {
			continue
		}
		state[root] = onPath
		path := []frame{{stage: root}}
		for len(path) > 0 {
			top := &path[len(path)-1]
			if top.next == edges(top.stage) {
				state[top.stage] = done
				path = path[:len(path)-1]
				continue
			}
			from, e := top.stage, top.next
			top.next++
			to, line := bases[from].stage, d.Stages[from].Line
			if e < len(g.deps[from]) {
				to, line = g.deps[from][e].stage, commandLine(g.deps[from][e].cmd.Location())
			}
			switch state[to] {
			case onPath:
				return &Error{File: d.Name, Line: line, Err: fmt.Errorf("circular dependency detected on stage: %s", d.Stages[to].DisplayName())}
			case unseen:
				state[to] = onPath
				path = append(path, frame{stage: to})
			}
		}
	}
	return nil
}

// reachable lists, in file order, the stages target needs. Visiting a stage built FROM
// another stage adds the dependencies of the ONBUILD triggers it inherits, which BuildKit
// runs at the start of the child. A needed stage may only read stages defined above it.
func (d *Dockerfile) reachable(g *graph, bases []base, target int) ([]int, error) {
	byName := d.stageIndexByName()
	lex := shell.NewLex(d.escapeToken())
	needed := make([]bool, len(d.Stages))
	needed[target] = true
	work := []int{target}
	triggers := map[int][]dep{} // per parent: many children may share one
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		if b := bases[i].stage; b >= 0 {
			trig, ok := triggers[b]
			if !ok {
				var err error
				if trig, err = d.triggerDeps(d.Stages[b], d.Stages[i], lex, byName); err != nil {
					return nil, err
				}
				triggers[b] = trig
			}
			g.deps[i] = append(g.deps[i], trig...)
			if !needed[b] {
				needed[b] = true
				work = append(work, b)
			}
		}
		for _, dp := range g.deps[i] {
			if !needed[dp.stage] {
				needed[dp.stage] = true
				work = append(work, dp.stage)
			}
		}
	}
	var order []int
	for i, ok := range needed {
		if !ok {
			continue
		}
		if err := d.checkDefinedAbove(i, g.deps[i]); err != nil {
			return nil, err
		}
		order = append(order, i)
	}
	return order, nil
}

// triggerDeps parses the ONBUILD instructions of parent, which run in child, and returns
// the stages they read. Errors point at the child's FROM, where BuildKit reports them.
func (d *Dockerfile) triggerDeps(parent, child *Stage, lex *shell.Lex, byName map[string]int) ([]dep, error) {
	var deps []dep
	for _, c := range parent.Commands {
		ob, ok := c.(*instructions.OnbuildCommand)
		if !ok {
			continue
		}
		trig, err := ParseOnBuild(ob.Expression)
		if err != nil {
			return nil, &Error{File: d.Name, Line: child.Line, Err: err}
		}
		tdeps, err := d.commandDeps(trig, lex, byName)
		if err != nil {
			return nil, &Error{File: d.Name, Line: child.Line, Err: fmt.Errorf("ONBUILD %s: %w", ob.Expression, err)}
		}
		for _, td := range tdeps {
			td.cmd = c // report at the ONBUILD line; the trigger has no location of its own
			deps = append(deps, td)
		}
	}
	return deps, nil
}

func (d *Dockerfile) checkDefinedAbove(i int, deps []dep) error {
	for _, dp := range deps {
		if dp.stage < i {
			continue
		}
		line := commandLine(dp.cmd.Location())
		cur := d.Stages[i].DisplayName()
		switch {
		case dp.stage == i:
			return &Error{File: d.Name, Line: line, Err: fmt.Errorf("circular dependency detected on stage: %s", cur)}
		case dp.mount:
			return &Error{File: d.Name, Line: line, Err: fmt.Errorf("cannot mount from stage %q, it needs to be defined before current stage %q", dp.from, cur)}
		default:
			return &Error{File: d.Name, Line: line, Err: fmt.Errorf("cannot copy from stage %q, it needs to be defined before current stage %q", dp.from, cur)}
		}
	}
	return nil
}
