package dockerfile

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/parse")

// goldenImageEnv is the Env of every base image in the expanded golden summaries.
var goldenImageEnv = []string{"PATH=/usr/bin:/bin", "HOSTNAME=box"}

// TestParseGolden parses testdata/parse/<case>/Dockerfile and compares its summary with
// <case>/summary.golden; then plans the default target (with the --build-args listed in
// <case>/build-args, if any), applies Vars to every planned command and compares that
// with <case>/expanded.golden.
func TestParseGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "parse", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(bytes.NewReader(src), ParseOptions{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			parsed := summarize(d)
			checkGolden(t, filepath.Join(dir, "summary.golden"), parsed)
			checkGolden(t, filepath.Join(dir, "expanded.golden"), summarizePlan(t, d, readBuildArgs(t, dir)))
			if again := summarize(d); again != parsed {
				t.Errorf("planning and expanding modified the parsed Dockerfile:\n%s", again)
			}
		})
	}
}

func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (-update rewrites it)\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func readBuildArgs(t *testing.T, dir string) map[string]string {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(dir, "build-args"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(dt)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		args[k] = v
	}
	return args
}

// summarizePlan plans the default target for linux/amd64 and renders every planned stage
// after Vars.Apply, with the resulting variables and RUN argv.
func summarizePlan(t *testing.T, d *Dockerfile, buildArgs map[string]string) string {
	t.Helper()
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	p, err := d.Plan(PlanOptions{BuildArgs: buildArgs, BuildPlatform: amd64})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	var b strings.Builder
	vars := map[*PlannedStage]*Vars{}
	for _, s := range p.Stages {
		var deps []int
		for _, dp := range s.Deps {
			deps = append(deps, dp.Index)
		}
		baseStage := -1
		if s.BaseStage != nil {
			baseStage = s.BaseStage.Index
		}
		fmt.Fprintf(&b, "stage %d base=%q base-stage=%d platform=%s deps=%v\n", s.Index, s.Base, baseStage, FormatPlatform(s.TargetPlatform), deps)
		v := s.NewVars(goldenImageEnv, vars[s.BaseStage])
		for _, c := range s.Commands {
			if err := v.Apply(c); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			fmt.Fprintf(&b, "  %d %s\n", commandLine(c.Location()), describe(c))
			if r, ok := c.(*instructions.RunCommand); ok {
				args, script, err := RunArgs(r, nil, "linux")
				if err != nil {
					t.Fatalf("RunArgs: %v", err)
				}
				fmt.Fprintf(&b, "     argv=%q", args)
				if script != nil {
					fmt.Fprintf(&b, " script=%q:%q", script.Path, script.Data)
				}
				b.WriteString("\n")
			}
		}
		fmt.Fprintf(&b, "  env=%q\n  args=%q\n", v.Env(), v.Args())
		vars[s] = v
	}
	if len(p.ProxyEnv) > 0 {
		fmt.Fprintf(&b, "proxy-env=%q\n", p.ProxyEnv)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown instruction", "FROM a\nRUN x\n\n\n\n\nFOOBAR baz\n", "Dockerfile:7: unknown instruction: FOOBAR"},
		{"unknown with suggestion", "FROM a\nRUNN x\n", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"},
		{"copy one argument", "FROM a\n\nCOPY onlyone\n", "Dockerfile:3: COPY requires at least two arguments"},
		{"empty", "", "Dockerfile: the Dockerfile cannot be empty"},
		{"only comments", "# hello\n\n# world\n", "Dockerfile:3: file with no instructions"},
		{"no FROM", "ARG A=1\nARG B\n", "Dockerfile: no FROM instruction"},
		{"run before FROM", "ARG A\nrun echo\nFROM a\n", "Dockerfile:2: RUN before the first FROM: only ARG may come before FROM"},
		{"from three words", "FROM a b c\n", "Dockerfile:1: FROM requires either one or three arguments"},
		{"bad stage name", "FROM a AS 1x\n", `Dockerfile:1: invalid name for build stage: "1x"`},
		{"unknown flag", "FROM a\nCOPY --nope a b\n", "Dockerfile:2: unknown flag: --nope"},
		{"bad network", "FROM a\nRUN --network=wifi true\n", `Dockerfile:2: invalid network mode "wifi"`},
		{"unterminated heredoc", "FROM a\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc"},
		{"shell not json", "FROM a\nSHELL bash -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
		{"onbuild onbuild", "FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"healthcheck bad", "FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "Dockerfile:2: --retries cannot be negative (-1)"},
		{"duplicate directive", "# escape=`\n# escape=\\\nFROM a\n", "Dockerfile:2: only one escape parser directive can be used"},
		{"bad escape", "# syntax=x\n# escape=a\nFROM a\n", "Dockerfile:2: invalid escape token 'a' does not match ` or \\"},
		{"long line", "FROM a\nRUN " + strings.Repeat("x", maxLineLen) + "\n", "Dockerfile:2: line is 65539 bytes long; the maximum is 65535"},
		{"mount from variable", "FROM a\nRUN --mount=from=$X,target=/x true\n", "Dockerfile:2: 'from' doesn't support variable expansion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.src), ParseOptions{})
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not an *Error", err)
			}
		})
	}
}

func TestParseNameInErrors(t *testing.T) {
	_, err := Parse(strings.NewReader("FROM a\nBOGUS\n"), ParseOptions{Name: "other/Dockerfile"})
	if err == nil || !strings.HasPrefix(err.Error(), "other/Dockerfile:2: ") {
		t.Fatalf("error = %v, want it to start with other/Dockerfile:2:", err)
	}
}

// TestMaxLineLenMatchesBuildKit pins maxLineLen to what BuildKit's scanner accepts: a line
// of exactly maxLineLen bytes must parse, so checkLines rejects nothing BuildKit takes.
func TestMaxLineLenMatchesBuildKit(t *testing.T) {
	run := "RUN echo " + strings.Repeat("y", maxLineLen-len("RUN echo "))
	for _, src := range []string{"FROM a\n" + run + "\n", "FROM a\n" + run} {
		d, err := Parse(strings.NewReader(src), ParseOptions{})
		if err != nil {
			t.Fatalf("line of %d bytes: %v", len(run), err)
		}
		r := d.Stages[0].Commands[0].(*instructions.RunCommand)
		if len(r.CmdLine[0]) != len(run)-len("RUN ") {
			t.Errorf("RUN body has %d bytes, want %d", len(r.CmdLine[0]), len(run)-len("RUN "))
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	src := "FROM a\n" + strings.Repeat("# filler comment line\n", MaxFileSize/20)
	_, err := Parse(strings.NewReader(src), ParseOptions{})
	if err == nil || !strings.Contains(err.Error(), "exceeds maximum allowed size") {
		t.Fatalf("error = %v, want size limit", err)
	}
}

func TestParseOnBuild(t *testing.T) {
	cmd, err := ParseOnBuild("COPY --from=build /a /b")
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cmd.(*instructions.CopyCommand)
	if !ok || c.From != "build" || c.DestPath != "/b" {
		t.Fatalf("trigger = %#v", cmd)
	}
	for _, bad := range []string{"FROM x", "RUN a\nRUN b", "BOGUS x"} {
		if _, err := ParseOnBuild(bad); err == nil {
			t.Errorf("ParseOnBuild(%q) succeeded, want error", bad)
		}
	}
}

func TestErrorAt(t *testing.T) {
	d := &Dockerfile{Name: "Dockerfile.dev"}
	err := d.ErrorAt(4, errors.New("COPY failed: no such file"))
	if err.Error() != "Dockerfile.dev:4: COPY failed: no such file" {
		t.Errorf("ErrorAt = %q", err)
	}
	if again := d.ErrorAt(9, err); again.Error() != err.Error() {
		t.Errorf("ErrorAt twice = %q, want location kept", again)
	}
}

func TestParseLineEndingsAndBOM(t *testing.T) {
	lf := "# syntax=x/y\nFROM a AS b\nRUN echo \\\n  hi\nENV A=1\n"
	want := summarize(mustParse(t, lf))
	for name, src := range map[string]string{
		"crlf": strings.ReplaceAll(lf, "\n", "\r\n"),
		"bom":  "\ufeff" + lf,
	} {
		if got := summarize(mustParse(t, src)); got != want {
			t.Errorf("%s: summary\n%s\nwant\n%s", name, got, want)
		}
	}
}
