package dockerfile

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func mustParse(t testing.TB, src string) *Dockerfile {
	t.Helper()
	d, err := Parse(strings.NewReader(src), ParseOptions{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

// stageNames renders planned stages as "name" or "#index" for unnamed ones.
func stageNames(stages []*PlannedStage) []string {
	out := make([]string, len(stages))
	for i, s := range stages {
		out[i] = s.DisplayName()
	}
	return out
}

const multiStage = `FROM alpine AS base
RUN echo base
FROM base AS build
RUN make
FROM build AS test
RUN make test
FROM golang AS unrelated
FROM scratch AS assets
COPY x /x
FROM busybox AS final
COPY --from=build /out /out
COPY --from=4 /x /x
COPY --from=nginx:latest /etc/nginx /etc/nginx
`

func TestPlanTargets(t *testing.T) {
	d := mustParse(t, multiStage)
	tests := []struct {
		target string
		want   []string
	}{
		{"", []string{"base", "build", "assets", "final"}},
		{"final", []string{"base", "build", "assets", "final"}},
		{"test", []string{"base", "build", "test"}},
		{"TEST", []string{"base", "build", "test"}},
		{"unrelated", []string{"unrelated"}},
		{"base", []string{"base"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			p, err := d.Plan(PlanOptions{Target: tt.target})
			if err != nil {
				t.Fatal(err)
			}
			if got := stageNames(p.Stages); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stages = %v, want %v", got, tt.want)
			}
			if p.Target != p.Stages[len(p.Stages)-1] {
				t.Errorf("target is not the last planned stage")
			}
		})
	}
}

func TestPlanLinks(t *testing.T) {
	p, err := mustParse(t, multiStage).Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*PlannedStage{}
	for _, s := range p.Stages {
		byName[s.Name] = s
	}
	if b := byName["base"]; b.Base != "alpine" || b.BaseStage != nil {
		t.Errorf("base: Base=%q BaseStage=%v", b.Base, b.BaseStage)
	}
	if b := byName["build"]; b.Base != "" || b.BaseStage != byName["base"] {
		t.Errorf("build: Base=%q, want BaseStage base", b.Base)
	}
	if got := stageNames(byName["final"].Deps); !reflect.DeepEqual(got, []string{"build", "assets"}) {
		t.Errorf("final deps = %v, want [build assets] (nginx:latest is an image)", got)
	}
	if byName["assets"].Base != "scratch" {
		t.Errorf("assets Base = %q, want scratch", byName["assets"].Base)
	}
}

func TestPlanFromExpansion(t *testing.T) {
	src := `ARG IMG=alpine
ARG TAG=3.20
ARG FULL=${IMG}:${TAG}
FROM $FULL AS a
FROM busybox${SUFFIX} AS b
FROM ${IMG}:$TARGETARCH AS c
FROM --platform=$BUILDPLATFORM golang AS d
FROM Base AS e
FROM later AS f
FROM alpine AS later
`
	d := mustParse(t, src)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	tests := []struct {
		target   string
		args     map[string]string
		base     string
		platform string
	}{
		{"a", nil, "alpine:3.20", "linux/arm/v7"},
		{"a", map[string]string{"TAG": "edge"}, "alpine:edge", "linux/arm/v7"},
		{"a", map[string]string{"FULL": "debian"}, "debian", "linux/arm/v7"},
		{"b", nil, "busybox", "linux/arm/v7"},                                  // an undefined ARG expands to ""
		{"b", map[string]string{"SUFFIX": ":musl"}, "busybox", "linux/arm/v7"}, // not declared: ignored
		{"c", nil, "alpine:arm", "linux/arm/v7"},
		{"c", map[string]string{"TARGETARCH": "riscv64"}, "alpine:riscv64", "linux/arm/v7"},
		{"d", nil, "golang", "linux/amd64"},
		{"e", nil, "Base", "linux/arm/v7"},  // stage names match exactly, as in BuildKit
		{"f", nil, "later", "linux/arm/v7"}, // a stage defined below is an image
	}
	for _, tt := range tests {
		p, err := d.Plan(PlanOptions{Target: tt.target, BuildArgs: tt.args, BuildPlatform: amd64, TargetPlatform: arm})
		if err != nil {
			t.Fatalf("%s %v: %v", tt.target, tt.args, err)
		}
		if p.Target.Base != tt.base || FormatPlatform(p.Target.TargetPlatform) != tt.platform {
			t.Errorf("%s %v: base %q platform %s, want %q %s", tt.target, tt.args,
				p.Target.Base, FormatPlatform(p.Target.TargetPlatform), tt.base, tt.platform)
		}
	}
}

func TestPlanMetaArgs(t *testing.T) {
	d := mustParse(t, "ARG A=1\nARG B=$A-x\nARG C\nFROM scratch\n")
	p, err := d.Plan(PlanOptions{
		BuildArgs:      map[string]string{"A": "2"},
		BuildPlatform:  v1.Platform{OS: "linux", Architecture: "amd64"},
		TargetPlatform: v1.Platform{OS: "linux", Architecture: "arm64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Target.MetaArgs
	want := map[string]string{
		"A": "2", "B": "2-x", "BUILDPLATFORM": "linux/amd64", "BUILDARCH": "amd64",
		"TARGETPLATFORM": "linux/arm64", "TARGETOS": "linux", "TARGETARCH": "arm64",
		"TARGETVARIANT": "", "TARGETSTAGE": "default",
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("MetaArgs[%s] = %q (set %v), want %q", k, got, ok, v)
		}
	}
	if _, ok := m["C"]; ok {
		t.Errorf("ARG C without value or build-arg is defined: %q", m["C"])
	}
}

func TestPlanTargetStageArg(t *testing.T) {
	d := mustParse(t, "FROM alpine:$TARGETSTAGE AS first\nFROM alpine:$TARGETSTAGE AS second\n")
	for target, want := range map[string]string{"": "alpine:second", "first": "alpine:first"} {
		p, err := d.Plan(PlanOptions{Target: target})
		if err != nil {
			t.Fatal(err)
		}
		if p.Target.Base != want {
			t.Errorf("target %q: base %q, want %q", target, p.Target.Base, want)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name, src, target string
		args              map[string]string
		want              string
	}{
		{"unknown target", "FROM a AS one\nFROM b AS two\n", "x", nil, `Dockerfile: target stage "x" not found; stages: one, two`},
		{"target suggestion", "FROM a AS build\n", "biuld", nil, `Dockerfile: target stage "biuld" not found (did you mean build?); stages: build`},
		{"target without names", "FROM a\n", "x", nil, `Dockerfile: target stage "x" not found; no stage has a name`},
		{"self copy", "FROM a AS one\nRUN x\nCOPY --from=one /a /b\n", "", nil, "Dockerfile:3: circular dependency detected on stage: one"},
		{"self mount", "FROM a AS one\nRUN --mount=from=one,target=/x true\n", "", nil, "Dockerfile:2: circular dependency detected on stage: one"},
		{"cycle", "FROM a AS one\nCOPY --from=two /a /b\nFROM b AS two\nCOPY --from=one /a /b\n", "", nil, "circular dependency detected on stage: one"},
		{"cycle through FROM", "FROM a AS one\nCOPY --from=two /a /b\nFROM one AS two\n", "", nil, "circular dependency detected on stage: one"},
		{"unreachable cycle", "FROM a AS one\nCOPY --from=one /a /b\nFROM b\n", "", nil, "Dockerfile:2: circular dependency detected on stage: one"},
		{"forward copy", "FROM a AS one\nCOPY --from=two /a /b\nFROM b AS two\n", "one", nil, `Dockerfile:2: cannot copy from stage "two", it needs to be defined before current stage "one"`},
		{"forward mount", "FROM a AS one\nRUN --mount=from=two,target=/x true\nFROM b AS two\nFROM c AS three\nCOPY --from=one / /\n", "", nil, `Dockerfile:2: cannot mount from stage "two", it needs to be defined before current stage "one"`},
		{"copy from variable", "FROM a\nARG S=x\nCOPY --from=$S /a /b\n", "", nil, "Dockerfile:3: variable expansion is not supported for --from"},
		{"copy from bad index", "FROM a\nCOPY --from=3 /a /b\n", "", nil, "Dockerfile:2: invalid stage index 3"},
		{"blank base", "ARG IMG\nFROM $IMG\n", "", nil, "Dockerfile:2: base name ($IMG) should not be blank"},
		{"blank base unreachable", "FROM $NOPE AS x\nFROM a\n", "", nil, "Dockerfile:1: base name ($NOPE) should not be blank"},
		{"required meta arg", "ARG FOO=${FOO:?\"custom error\"}\nFROM a\n", "", nil, "Dockerfile:1: failed to process"},
		{"bad platform", "FROM --platform=linux/a/b/c x\n", "", nil, "Dockerfile:1: failed to parse platform linux/a/b/c"},
		{"empty platform", "FROM --platform=$NOPE x\n", "", nil, "Dockerfile:1: empty platform value from expression $NOPE"},
		{"onbuild trigger forward", "FROM a AS p\nONBUILD COPY --from=late /a /b\nFROM p AS c\nFROM x AS late\nFROM c\n", "", nil,
			`Dockerfile:2: cannot copy from stage "late", it needs to be defined before current stage "c"`},
		{"onbuild trigger bad", "FROM a AS p\nONBUILD COPY --from=$X /a /b\nFROM p\n", "", nil, "Dockerfile:3: ONBUILD COPY --from=$X /a /b: variable expansion is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustParse(t, tt.src).Plan(PlanOptions{Target: tt.target, BuildArgs: tt.args})
			if err == nil {
				t.Fatalf("Plan succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPlanRequiredArgSatisfied(t *testing.T) {
	d := mustParse(t, "ARG FOO=${FOO:?\"custom error\"}\nFROM a\n")
	_, err := d.Plan(PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "FOO: custom error") {
		t.Fatalf("error = %v, want FOO: custom error", err)
	}
	if _, err := d.Plan(PlanOptions{BuildArgs: map[string]string{"FOO": "bar"}}); err != nil {
		t.Fatalf("with FOO set: %v", err)
	}
}

func TestPlanForwardReferenceNotNeeded(t *testing.T) {
	d := mustParse(t, "FROM a AS one\nCOPY --from=two /a /b\nFROM b AS two\n")
	p, err := d.Plan(PlanOptions{Target: "two"})
	if err != nil {
		t.Fatalf("a forward reference in a stage the target does not need must not fail: %v", err)
	}
	if got := stageNames(p.Stages); !reflect.DeepEqual(got, []string{"two"}) {
		t.Errorf("stages = %v", got)
	}
}

func TestPlanOnBuildTriggerDeps(t *testing.T) {
	src := `FROM alpine AS assets
FROM alpine AS parent
ONBUILD COPY --from=assets /a /a
ONBUILD RUN --mount=from=tools,target=/t true
FROM busybox AS tools
FROM alpine AS unused
FROM parent
`
	p, err := mustParse(t, src).Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := stageNames(p.Stages); !reflect.DeepEqual(got, []string{"assets", "parent", "tools", "stage-4"}) {
		t.Errorf("stages = %v, want the stages the triggers read (tools comes after parent, but they run in stage-4)", got)
	}
}

func TestPlanOnBuildTriggerLaterStage(t *testing.T) {
	src := "FROM alpine AS parent\nONBUILD COPY --from=tools /t /t\nFROM busybox AS tools\nFROM parent\n"
	p, err := mustParse(t, src).Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := stageNames(p.Target.Deps); !reflect.DeepEqual(got, []string{"tools"}) {
		t.Errorf("target deps = %v, want [tools]", got)
	}
}

func TestPlanWarnings(t *testing.T) {
	src := "ARG META\nFROM a AS x\nARG INSTAGE\nFROM b AS x\nFROM c AS other\nARG UNREACHED\nFROM x\n"
	p, err := mustParse(t, src).Plan(PlanOptions{BuildArgs: map[string]string{
		"META": "1", "INSTAGE": "1", "UNREACHED": "1", "NOPE": "1", "HTTPS_PROXY": "http://p", "BUILDKIT_INLINE_CACHE": "1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`Dockerfile: build-arg "INSTAGE" is not declared by any ARG of the stages built; ignored`,
		`Dockerfile: build-arg "NOPE" is not declared by any ARG of the stages built; ignored`,
		`Dockerfile: build-arg "UNREACHED" is not declared by any ARG of the stages built; ignored`,
		`Dockerfile:4: duplicate stage name "x" (also on line 2); references pick the latest definition`,
	}
	if !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(p.Warnings, "\n"), strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(p.ProxyEnv, []string{"HTTPS_PROXY=http://p"}) {
		t.Errorf("ProxyEnv = %v", p.ProxyEnv)
	}
	if p.Target.BaseStage == nil || p.Target.BaseStage.Index != 2-1 {
		t.Errorf("FROM x picked stage %v, want the latest x (index 1)", p.Target.BaseStage)
	}
}

func TestPlanFreshCommands(t *testing.T) {
	d := mustParse(t, "FROM a\nWORKDIR $D\n")
	p1, err := d.Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := d.Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Target.Commands[0] == p2.Target.Commands[0] || p1.Target.Commands[0] == d.Stages[0].Commands[0] {
		t.Fatal("plans share command values; expanding one would change the other")
	}
	v := p1.Target.NewVars([]string{"D=/x"}, nil)
	if err := v.Apply(p1.Target.Commands[0]); err != nil {
		t.Fatal(err)
	}
	if got := summarize(d); !strings.Contains(got, `WORKDIR "$D"`) {
		t.Errorf("Dockerfile changed by expanding a plan:\n%s", got)
	}
}

func TestParsePlatform(t *testing.T) {
	host := DefaultPlatform()
	tests := map[string]string{
		"linux/amd64":    "linux/amd64",
		"Linux/x86_64":   "linux/amd64",
		"linux/aarch64":  "linux/arm64",
		"linux/arm64/v8": "linux/arm64",
		"linux/arm":      "linux/arm/v7",
		"linux/armhf":    "linux/arm/v7",
		"linux/arm/6":    "linux/arm/v6",
		"windows/amd64":  "windows/amd64",
		"riscv64":        host.OS + "/riscv64",
		"linux":          FormatPlatform(v1.Platform{OS: "linux", Architecture: host.Architecture, Variant: host.Variant}),
	}
	for in, want := range tests {
		p, err := ParsePlatform(in)
		if err != nil || FormatPlatform(p) != want {
			t.Errorf("ParsePlatform(%q) = %s, %v; want %s", in, FormatPlatform(p), err, want)
		}
	}
	for _, bad := range []string{"", "linux/", "a/b/c/d", "/amd64"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) succeeded", bad)
		}
	}
}

func TestPlanCopyFromMountFrom(t *testing.T) {
	p, err := mustParse(t, multiStage).Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from      string
		mount     bool
		wantStage string // "" for an image
	}{
		{"build", false, "build"},
		{"BUILD", false, "build"},
		{"4", false, "assets"},
		{"4", true, ""}, // mounts take names only
		{"nginx:latest", false, ""},
		{"test", false, ""}, // a stage, but not planned for this target
		{"99", false, ""},
		{"", true, ""},
		{"base", true, "base"},
	}
	for _, tt := range tests {
		got := p.CopyFrom(tt.from)
		if tt.mount {
			got = p.MountFrom(tt.from)
		}
		name := ""
		if got != nil {
			name = got.DisplayName()
		}
		if name != tt.wantStage {
			t.Errorf("from=%q mount=%v: stage %q, want %q", tt.from, tt.mount, name, tt.wantStage)
		}
	}
}
