package dockerfile

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Vars is the variable table the instructions of one stage see, kept the way BuildKit
// keeps it: the base image's Env, then every ENV and ARG in order, a later one replacing
// an earlier one of the same name. Walk a stage's commands in order and pass each to
// Apply before executing it. Vars is not safe for concurrent use.
type Vars struct {
	file      string
	exp       *Expander
	env       *varList
	args      []instructions.KeyValuePairOptional // declared ARGs, resolved, in order
	buildArgs map[string]string
	metaArgs  map[string]string
}

// NewVars starts the variable table of s. imageEnv is the Env of the image the stage
// starts from: the base image's config, or for FROM <stage> the final config of that
// stage. from is the finished table of s.BaseStage (nil for an image or scratch base):
// a stage inherits the ARGs of the stage it is built FROM, as in BuildKit.
func (s *PlannedStage) NewVars(imageEnv []string, from *Vars) *Vars {
	v := &Vars{
		file:      s.plan.file,
		exp:       NewExpander(s.plan.escape),
		env:       newVarList(),
		buildArgs: s.plan.buildArgs,
		metaArgs:  s.MetaArgs,
	}
	if from != nil {
		v.env = from.env.clone()
		v.args = append(v.args, from.args...)
	}
	for _, kv := range imageEnv {
		k, val, _ := strings.Cut(kv, "=")
		v.env.set(k, val)
	}
	return v
}

// Apply expands cmd in place (see Expander.Expand) with the values from before it, then
// records what it declares: ENV sets its pairs, all expanded before any is set (so
// `ENV a=1 b=$a` sees the old a); ARG resolves each name in turn from --build-arg, else
// its default (expanded), else the global value of the same name (Plan's MetaArgs), and
// sets it unless no value was found. Errors name the Dockerfile and line.
func (v *Vars) Apply(cmd instructions.Command) error {
	var err error
	switch c := cmd.(type) {
	case *instructions.ArgCommand:
		err = v.applyArg(c)
	case *instructions.EnvCommand:
		if err = v.exp.expand(c, v.env); err == nil {
			for _, kv := range c.Env {
				v.env.set(kv.Key, kv.Value)
			}
		}
	default:
		err = v.exp.expand(cmd, v.env)
	}
	if err != nil {
		return locate(v.file, commandLine(cmd.Location()), err)
	}
	return nil
}

// applyArg is BuildKit's dispatchArg. Unlike ENV, each name is set before the next is
// resolved, so `ARG a=1 b=$a` gives b=1.
func (v *Vars) applyArg(c *instructions.ArgCommand) error {
	for i, arg := range c.Args {
		bv, hasBuildArg := v.buildArgs[arg.Key]
		switch {
		case hasBuildArg:
			arg.Value = &bv
		case arg.Value != nil:
			val, err := v.exp.word(*arg.Value, v.env)
			if err != nil {
				return err
			}
			arg.Value = &val
		default:
			if g, ok := v.metaArgs[arg.Key]; ok {
				arg.Value = &g
			}
		}
		if arg.Value != nil && !nonEnvArgs[arg.Key] {
			v.env.set(arg.Key, *arg.Value)
		}
		c.Args[i] = arg
		v.args = append(v.args, arg)
	}
	return nil
}

// Env is the current table as "K=V" entries: what RUN's process gets (plus Plan.ProxyEnv
// entries not declared by an ARG) and what instructions expand against.
func (v *Vars) Env() []string { return v.env.env() }

// Args lists the ARGs declared so far (including those inherited from a base stage), once
// each, as "K=V" with the value RUN sees now. BuildKit prefixes RUN history entries and
// cache keys with these ("|2 A=1 B=2 /bin/sh -c ..."), so changing a build-arg misses the
// cache only for RUNs after its ARG. An ARG without a value is listed as "K=".
func (v *Vars) Args() []string {
	var out []string
	seen := map[string]int{}
	for _, a := range v.args {
		val, ok := v.env.Get(a.Key)
		if !ok {
			val = a.ValueString()
		}
		if i, dup := seen[a.Key]; dup {
			out[i] = a.Key + "=" + val
			continue
		}
		seen[a.Key] = len(out)
		out = append(out, a.Key+"="+val)
	}
	return out
}
