package dockerfile

import (
	"maps"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// varList is an ordered NAME=value table in which setting a name again replaces its value
// in place, like BuildKit's llb.EnvList. It implements shell.EnvGetter.
type varList struct {
	keys []string
	vals map[string]string
}

func newVarList() *varList { return &varList{vals: map[string]string{}} }

func (l *varList) Get(k string) (string, bool) {
	v, ok := l.vals[k]
	return v, ok
}

func (l *varList) Keys() []string { return l.keys }

func (l *varList) set(k, v string) {
	if _, ok := l.vals[k]; !ok {
		l.keys = append(l.keys, k)
	}
	l.vals[k] = v
}

func (l *varList) clone() *varList {
	return &varList{keys: slices.Clone(l.keys), vals: maps.Clone(l.vals)}
}

// env renders the table as "K=V" entries in declaration order.
func (l *varList) env() []string {
	out := make([]string, len(l.keys))
	for i, k := range l.keys {
		out[i] = k + "=" + l.vals[k]
	}
	return out
}

func (l *varList) toMap() map[string]string {
	return maps.Clone(l.vals)
}

// Names of BuildKit's automatic platform ARGs (global scope: visible to FROM, and to a
// stage only after `ARG NAME`).
var platformArgNames = []string{
	"BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
	"TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT",
	"TARGETSTAGE",
}

// proxyArgNames are Docker's predefined ARGs: usable by RUN without an ARG instruction and
// kept out of history and cache keys unless declared.
var proxyArgNames = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
	"NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

// nonEnvArgs are ARGs BuildKit records but never puts into the environment.
var nonEnvArgs = map[string]bool{"BUILDKIT_SBOM_SCAN_CONTEXT": true, "BUILDKIT_SBOM_SCAN_STAGE": true}

// predefinedArg reports whether a --build-arg is consumed even without an ARG instruction.
func predefinedArg(name string) bool {
	return slices.Contains(platformArgNames, name) || slices.Contains(proxyArgNames, name) ||
		name == "SOURCE_DATE_EPOCH" || strings.HasPrefix(name, "BUILDKIT_")
}

// defaultArgs are the automatic ARGs of the global scope (BuildKit dockerfile2llb
// defaultArgs); a --build-arg of the same name overrides each.
func defaultArgs(build, target v1.Platform, targetStage string, buildArgs map[string]string) *varList {
	if targetStage == "" {
		targetStage = "default"
	}
	vals := []string{
		FormatPlatform(build), build.OS, build.OSVersion, build.Architecture, build.Variant,
		FormatPlatform(target), target.OS, target.OSVersion, target.Architecture, target.Variant,
		targetStage,
	}
	l := newVarList()
	for i, k := range platformArgNames {
		v := vals[i]
		if ov, ok := buildArgs[k]; ok {
			v = ov
		}
		l.set(k, v)
	}
	return l
}

// addMetaArgs applies the ARGs before the first FROM on top of globals, in order: a
// --build-arg wins over the default, a default is expanded with what came before it, and
// an ARG without either stays undefined (BuildKit buildMetaArgs).
func addMetaArgs(globals *varList, lex *shell.Lex, metaArgs []instructions.ArgCommand, buildArgs map[string]string) error {
	for _, cmd := range metaArgs {
		for _, kv := range cmd.Args {
			if v, ok := buildArgs[kv.Key]; ok {
				globals.set(kv.Key, v)
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := lex.ProcessWord(*kv.Value, globals)
			if err != nil {
				return parser.WithLocation(err, cmd.Location())
			}
			globals.set(kv.Key, v)
		}
	}
	return nil
}
