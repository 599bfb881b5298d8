package dockerfile

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// applyAll plans src's target and applies every command of every planned stage, chaining
// Vars through FROM <stage>. It returns the Vars of each stage by name.
func applyAll(t *testing.T, src string, opts PlanOptions) (*Plan, map[string]*Vars) {
	t.Helper()
	p, err := mustParse(t, src).Plan(opts)
	if err != nil {
		t.Fatal(err)
	}
	byStage := map[*PlannedStage]*Vars{}
	byName := map[string]*Vars{}
	for _, s := range p.Stages {
		v := s.NewVars([]string{"PATH=/bin"}, byStage[s.BaseStage])
		for _, c := range s.Commands {
			if err := v.Apply(c); err != nil {
				t.Fatal(err)
			}
		}
		byStage[s], byName[s.DisplayName()] = v, v
	}
	return p, byName
}

func envOf(v *Vars) map[string]string {
	m := map[string]string{}
	for _, kv := range v.Env() {
		k, val, _ := strings.Cut(kv, "=")
		m[k] = val
	}
	return m
}

// lastLabel is the value of key in the last LABEL of the target.
func lastLabel(p *Plan, key string) string {
	val := "<unset>"
	for _, c := range p.Target.Commands {
		if l, ok := c.(*instructions.LabelCommand); ok {
			for _, kv := range l.Labels {
				if kv.Key == key {
					val = kv.Value
				}
			}
		}
	}
	return val
}

func TestVarsSeeValuesFromBefore(t *testing.T) {
	p, vars := applyAll(t, "FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\nARG x=1 y=$x\nLABEL def=$def ghi=$ghi y=$y\n", PlanOptions{})
	want := map[string]string{"PATH": "/bin", "abc": "bye", "def": "hello", "ghi": "bye", "x": "1", "y": "1"}
	if got := envOf(vars["stage-0"]); !reflect.DeepEqual(got, want) {
		t.Errorf("env = %v, want %v", got, want)
	}
	if lastLabel(p, "def") != "hello" || lastLabel(p, "y") != "1" {
		t.Errorf("LABEL expanded with def=%q y=%q", lastLabel(p, "def"), lastLabel(p, "y"))
	}
}

// TestVarsDefaultEnvWithArgs is BuildKit's testDefaultEnvWithArgs.
func TestVarsDefaultEnvWithArgs(t *testing.T) {
	src := "ARG image=idlebox\nFROM busy${image#idle} AS build\nARG my_arg\nENV my_arg \"my_arg=${my_arg:-def_val}\"\nENV my_trimmed_arg \"${my_arg%%e*}\"\n"
	tests := []struct {
		args          map[string]string
		value, trimmd string
	}{
		{nil, "my_arg=def_val", "my_arg=d"},
		{map[string]string{"my_arg": ""}, "my_arg=def_val", "my_arg=d"},
		{map[string]string{"my_arg": "override"}, "my_arg=override", "my_arg=ov"},
	}
	for _, tt := range tests {
		p, vars := applyAll(t, src, PlanOptions{BuildArgs: tt.args})
		if p.Target.Base != "busybox" {
			t.Errorf("base = %q, want busybox", p.Target.Base)
		}
		env := envOf(vars["build"])
		if env["my_arg"] != tt.value || env["my_trimmed_arg"] != tt.trimmd {
			t.Errorf("args %v: my_arg=%q my_trimmed_arg=%q, want %q %q", tt.args, env["my_arg"], env["my_trimmed_arg"], tt.value, tt.trimmd)
		}
	}
}

func TestVarsArgResolution(t *testing.T) {
	src := `ARG GLOBAL=g VERSION=1
FROM a
ARG GLOBAL
ARG VERSION=2
ARG TARGETARCH
ARG NODEFAULT
ARG WITHDEFAULT=d
ARG BUILDKIT_SBOM_SCAN_STAGE=true
`
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	tests := []struct {
		name string
		args map[string]string
		want map[string]string
	}{
		{"defaults", nil, map[string]string{"GLOBAL": "g", "VERSION": "2", "TARGETARCH": "amd64", "WITHDEFAULT": "d"}},
		{"build args win", map[string]string{"GLOBAL": "x", "VERSION": "3", "NODEFAULT": "n", "WITHDEFAULT": ""},
			map[string]string{"GLOBAL": "x", "VERSION": "3", "TARGETARCH": "amd64", "NODEFAULT": "n", "WITHDEFAULT": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, vars := applyAll(t, src, PlanOptions{BuildArgs: tt.args, BuildPlatform: amd64})
			got := envOf(vars["stage-0"])
			delete(got, "PATH")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("env = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVarsEnvArgPrecedence(t *testing.T) {
	tests := []struct {
		name, src string
		args      map[string]string
		want      string
	}{
		// Docker's documented example: ENV after ARG wins over the build-arg.
		{"arg then env", "FROM a\nARG V\nENV V=v1.0.0\n", map[string]string{"V": "v2.0.1"}, "v1.0.0"},
		{"env from arg", "FROM a\nARG V\nENV V=${V:-v1.0.0}\n", nil, "v1.0.0"},
		{"env from arg set", "FROM a\nARG V\nENV V=${V:-v1.0.0}\n", map[string]string{"V": "x"}, "x"},
		// BuildKit: the later declaration wins, so ARG after ENV reaches RUN.
		{"env then arg", "FROM a\nENV V=env\nARG V\n", map[string]string{"V": "arg"}, "arg"},
		{"env then arg without value", "FROM a\nENV V=env\nARG V\n", nil, "env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, vars := applyAll(t, tt.src, PlanOptions{BuildArgs: tt.args})
			if got := envOf(vars["stage-0"])["V"]; got != tt.want {
				t.Errorf("V = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVarsInheritedFromBaseStage(t *testing.T) {
	src := "FROM a AS base\nARG FROMBASE=b\nENV E=1\nFROM base AS child\nARG OWN=o\nFROM alpine AS other\nCOPY --from=child / /\n"
	_, vars := applyAll(t, src, PlanOptions{})
	child := envOf(vars["child"])
	if child["FROMBASE"] != "b" || child["E"] != "1" || child["OWN"] != "o" {
		t.Errorf("child env = %v, want FROMBASE, E and OWN", child)
	}
	if got := vars["child"].Args(); !reflect.DeepEqual(got, []string{"FROMBASE=b", "OWN=o"}) {
		t.Errorf("child Args = %v", got)
	}
	if other := envOf(vars["other"]); other["FROMBASE"] != "" || other["OWN"] != "" {
		t.Errorf("unrelated stage sees ARGs of another stage: %v", other)
	}
}

func TestVarsArgs(t *testing.T) {
	src := "FROM a\nARG A=1\nARG B\nENV A=env\nARG A=2 C=3\nARG HTTP_PROXY\n"
	_, vars := applyAll(t, src, PlanOptions{BuildArgs: map[string]string{"HTTP_PROXY": "http://p"}})
	want := []string{"A=2", "B=", "C=3", "HTTP_PROXY=http://p"}
	if got := vars["stage-0"].Args(); !reflect.DeepEqual(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
}

func TestVarsNewVarsFromImageEnv(t *testing.T) {
	p, err := mustParse(t, "FROM a\n").Plan(PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := p.Target.NewVars([]string{"A=1", "B=2", "A=3", "NOVALUE"}, nil)
	if got := v.Env(); !reflect.DeepEqual(got, []string{"A=3", "B=2", "NOVALUE="}) {
		t.Errorf("Env = %q", got)
	}
}

func TestVarsApplyErrors(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{"WORKDIR ${X:?must set X}", "Dockerfile:3: failed to process \"${X:?must set X}\": X: must set X"},
		{"RUN --mount=type=bogus true", `Dockerfile:3: unsupported mount type "bogus"`},
		{"RUN --mount=type=cache,size=1 true", "Dockerfile:3: unexpected key 'size' for mount type 'cache'"},
		{"ARG A=${B:?no B}", "Dockerfile:3: failed to process"},
		{"ENV A=${B", "Dockerfile:3: failed to process"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			p, err := mustParse(t, "FROM a\nRUN true\n"+tt.body+"\n").Plan(PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			v := p.Target.NewVars(nil, nil)
			if err := v.Apply(p.Target.Commands[0]); err != nil {
				t.Fatal(err)
			}
			err = v.Apply(p.Target.Commands[1])
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Apply error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}
