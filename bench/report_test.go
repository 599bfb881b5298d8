package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	rows := []row{{
		name: "tiny/cold", peer: "buildah",
		ours:   summarize([]sample{{wall: ms(100), rss: 20 << 20}}),
		them:   summarize([]sample{{wall: ms(400), rss: 30 << 20}}),
		target: target{min: 1.5, text: "≥ 1.5×"},
		note:   "a|b",
	}}
	rp := &report{date: "today", runs: 1, command: "make bench", machine: [][2]string{{"cpu", "x, 2 cores"}},
		tools: [][2]string{{"buildah", "1.28"}}, rows: rows, derived: []string{"finding"},
		goBench: "BenchmarkX 1 2 ns/op\n", notes: []string{"a note"}, failures: []string{"it broke\nhere"}}
	var b bytes.Buffer
	rp.markdown(&b)
	md := b.String()
	for _, want := range []string{
		"# Benchmarks",
		"- cpu: x, 2 cores",
		"| buildah | 1.28 |",
		"| tiny/cold | buildah | 100ms | 400ms | 4.00× | ≥ 1.5× | yes | 20 MB | 30 MB | a\\|b |",
		"## Derived\n\n- finding",
		"```\nBenchmarkX 1 2 ns/op\n```",
		"- a note",
		"```\nit broke\nhere\n```",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	var tb bytes.Buffer
	printTable(&tb, rows)
	if lines := strings.Split(strings.TrimSpace(tb.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "4.00×") {
		t.Errorf("text table = %q", tb.String())
	}
}

func TestJoinAndFirstLine(t *testing.T) {
	if got := joinNonEmpty([]string{"", "a", "", "b"}, "; "); got != "a; b" {
		t.Errorf("joinNonEmpty = %q", got)
	}
	if got := firstLine("one\ntwo"); got != "one" {
		t.Errorf("firstLine = %q", got)
	}
}
