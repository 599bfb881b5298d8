// Package dockerfile turns a Dockerfile and a .dockerignore into typed stages, and holds
// the rules that give them meaning: which stages a target needs, what FROM expands to,
// and how ARG and ENV values reach each instruction. It parses with BuildKit's own
// packages (frontend/dockerfile/parser, instructions, shell) and copies the semantics of
// BuildKit's dockerfile2llb, so a Dockerfile means here what it means to `docker build`.
//
// The package does no I/O beyond reading the files it is given, runs nothing, and
// imports no cgo.
//
// # Flow
//
//	d, err := dockerfile.Parse(r, dockerfile.ParseOptions{Name: "Dockerfile"})
//	plan, err := d.Plan(dockerfile.PlanOptions{Target: "app", BuildArgs: args})
//	for _, s := range plan.Stages { // dependency order, plan.Target last
//		vars := s.NewVars(baseImageEnv, varsOf[s.BaseStage]) // nil for an image base
//		for _, cmd := range s.Commands {
//			if err := vars.Apply(cmd); err != nil { ... } // expands cmd in place
//			... execute cmd; RUN gets vars.Env() (+ plan.ProxyEnv) ...
//		}
//	}
//
// # Rules the executor must follow
//
// Walk a stage's Commands in order and call Vars.Apply on each, exactly once, before
// executing it, including commands with no "$": expansion also strips quotes
// (`WORKDIR "/a b"`) and is what fully parses RUN --mount options
// (instructions.GetMounts is complete only after it).
//
//   - One instruction sees the values from before it: `ENV a=1 b=$a` gives b the old a.
//     (ARG differs, as in BuildKit: `ARG a=1 b=$a` gives b=1.)
//   - ENV and ARG share one table and the later declaration wins. Docker's docs phrase
//     this as "ENV beats ARG", which is what happens for the usual ARG-then-ENV order;
//     for ENV-then-ARG, BuildKit lets the ARG value through to RUN and expansion, while
//     the image config keeps the ENV value. Only ENV goes into the image config.
//   - An ARG takes its value from --build-arg, else its default (expanded), else the
//     global value of that name (PlannedStage.MetaArgs: meta ARGs after --build-args,
//     and the automatic BUILDPLATFORM, TARGETPLATFORM, TARGETOS, TARGETARCH, ...); with
//     none of these it stays unset.
//   - ARGs before the first FROM are visible only to FROM lines; a stage must redeclare
//     them (`ARG NAME`). A stage built FROM another stage inherits that stage's ARGs: pass
//     its finished Vars to NewVars.
//   - --build-args that no ARG of the planned stages declares are ignored; Plan lists them
//     in Plan.Warnings. Proxy variables (HTTP_PROXY, ...) reach RUN without an ARG
//     (Plan.ProxyEnv) but stay out of history and cache keys.
//   - Expansion happens only where Docker expands (see Expander.Expand): never in RUN,
//     CMD or ENTRYPOINT bodies, and never in COPY --from, which BuildKit rejects when it
//     holds a variable (use a stage `FROM ${IMAGE} AS src` instead).
//   - RUN history and cache keys should include Vars.Args(), as BuildKit does.
//   - ONBUILD triggers of the base image (or of the base stage, whose final config holds
//     them) run first in the child; parse each with ParseOnBuild and treat it like any
//     other command. Plan already accounts for the stages those of a base stage read.
//   - When the base image has no PATH, BuildKit adds DefaultPathEnv to the image Env.
//
// # Errors
//
// Problems in the Dockerfile are *Error values printing "NAME:LINE: message"; the
// executor can report its own failures the same way with Dockerfile.ErrorAt.
package dockerfile

// DefaultPathEnv is the PATH BuildKit puts in a Linux image config that has none.
const DefaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
