package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pathological inputs, shared by the fuzz seeds and TestLargeInputs.
func manyStages(n int) string {
	var b strings.Builder
	b.WriteString("ARG BASE=alpine\nFROM $BASE AS s0\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "FROM s%d AS s%d\nARG A%d=$A%d\nCOPY --from=s%d /x /x\nRUN --mount=from=s%d,target=/m true\n", i-1, i, i, i-1, i/2, i/3)
	}
	return b.String()
}

func deepContinuation(lines int, width int) string {
	var b strings.Builder
	b.WriteString("FROM a\nRUN echo \\\n")
	chunk := strings.Repeat("x", width)
	for i := 0; i < lines; i++ {
		b.WriteString(chunk)
		b.WriteString(" \\\n")
		if i%100 == 0 {
			b.WriteString("# comment in the middle\n")
		}
	}
	b.WriteString("end\n")
	return b.String()
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "parse", "*", "Dockerfile"))
	for _, name := range files {
		if dt, err := os.ReadFile(name); err == nil {
			f.Add(dt)
		}
	}
	for _, s := range []string{
		"", "\x00", "FROM", "FROM a AS", "ARG", "ONBUILD", "RUN <<", "RUN <<EOF", "COPY <<EOF\n", "FROM a\nRUN <<A <<B\nA\n",
		"# escape=`\nFROM a\nRUN a `\n", "# escape=\\\n# escape=`\n", "FROM a\nHEALTHCHECK", "FROM a\nHEALTHCHECK CMD",
		"FROM a\nCOPY --from=0 a b\nCOPY --from=-1 a b\n", "FROM ${a:-${b:-${c:-${d}}}}\n", "FROM a\nENV =\n",
		"FROM a\nRUN --mount=type=cache,from=$x\n", "FROM a AS b\nONBUILD COPY --from=b a b\nFROM b\n",
		"FROM a\nEXPOSE ${P:?}\n", "\ufeff# syntax=x\nFROM a\n", "FROM a\n\\\n\\\n\\\n", manyStages(50),
		deepContinuation(200, 10),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, dt []byte) {
		d, err := Parse(bytes.NewReader(dt), ParseOptions{Name: "fuzz"})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("Parse error %q (%T) does not name the file", err, err)
			}
			return
		}
		p, err := d.Plan(PlanOptions{BuildArgs: map[string]string{"a": "x"}})
		if err != nil {
			return
		}
		vars := map[*PlannedStage]*Vars{}
		for _, s := range p.Stages {
			v := s.NewVars(nil, vars[s.BaseStage])
			for _, c := range s.Commands {
				if v.Apply(c) != nil {
					break
				}
			}
			vars[s] = v
		}
	})
}

// TestLargeInputs checks that huge but valid inputs parse and plan (and that an
// over-long line fails cleanly) without pathological cost; speed itself is measured by
// the benchmarks below, not asserted.
func TestLargeInputs(t *testing.T) {
	t.Run("5000 stages", func(t *testing.T) {
		d := mustParse(t, manyStages(5000))
		p, err := d.Plan(PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Stages) != 5000 || p.Target.Name != "s4999" {
			t.Errorf("planned %d stages, target %q", len(p.Stages), p.Target.Name)
		}
	})
	t.Run("10 MB logical line", func(t *testing.T) {
		src := deepContinuation(10<<20/1000, 1000)
		d := mustParse(t, src)
		run := d.Stages[0].Commands[0]
		if n := len(describe(run)); n < 10<<20 {
			t.Errorf("RUN holds %d bytes, want over 10 MB", n)
		}
	})
	t.Run("10 MB physical line", func(t *testing.T) {
		src := "FROM a\nRUN " + strings.Repeat("y", 10<<20) + "\n"
		_, err := Parse(strings.NewReader(src), ParseOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: line is 10485764 bytes long") {
			t.Errorf("error = %v, want the line-length limit at line 2", err)
		}
	})
}

func BenchmarkParse5000Stages(b *testing.B) {
	src := manyStages(5000)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(strings.NewReader(src), ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan5000Stages(b *testing.B) {
	d := mustParse(b, manyStages(5000))
	for b.Loop() {
		if _, err := d.Plan(PlanOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse10MBLine(b *testing.B) {
	src := deepContinuation(10<<20/1000, 1000)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(strings.NewReader(src), ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
