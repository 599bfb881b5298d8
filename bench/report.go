package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// report is everything results.md holds.
type report struct {
	date     string
	runs     int
	command  string
	machine  [][2]string // label, value
	tools    [][2]string // tool, version
	rows     []row
	derived  []string // one finding per line, computed from the rows
	goBench  string   // raw `go test -bench` output, when run
	notes    []string
	failures []string // full errors, for the end of the console output and the file
}

// printTable writes the results as aligned text, for the terminal.
func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tPEER\tOURS\tPEER TIME\tPEER/OURS\tTARGET\tMET\tOURS RSS\tPEER RSS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.peer, r.ours, r.them,
			fmtRatio(r.ratio()), r.target.text, r.target.met(r.ratio()), fmtRSS(r.ours.rss), fmtRSS(r.them.rss))
	}
	tw.Flush()
}

// markdown writes results.md.
func (rp *report) markdown(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# Benchmarks")
	p("")
	p("Written by `%s` on %s. Each case ran %d time(s), the tools taking turns to go first;", rp.command, rp.date, rp.runs)
	p("times are the median (min–max) of wall time. **peer/ours** is the peer's median over ours:")
	p("above 1 means ours is faster. RSS is the peak resident set of the largest process of the")
	p("command's process tree (getrusage of the waited-for child; podman's conmon is not counted).")
	p("")
	p("## Machine")
	p("")
	for _, kv := range rp.machine {
		p("- %s: %s", kv[0], kv[1])
	}
	p("")
	p("## Tools")
	p("")
	p("| tool | version |")
	p("|---|---|")
	for _, kv := range rp.tools {
		p("| %s | %s |", kv[0], mdEscape(kv[1]))
	}
	p("")
	p("## Results")
	p("")
	p("| case | peer | ours | peer time | peer/ours | target | met | ours RSS | peer RSS | note |")
	p("|---|---|---:|---:|---:|---|---|---:|---:|---|")
	for _, r := range rp.rows {
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", r.name, r.peer, r.ours, r.them,
			fmtRatio(r.ratio()), r.target.text, r.target.met(r.ratio()), fmtRSS(r.ours.rss), fmtRSS(r.them.rss), mdEscape(r.note))
	}
	if len(rp.derived) > 0 {
		p("")
		p("## Derived")
		p("")
		for _, d := range rp.derived {
			p("- %s", d)
		}
	}
	if rp.goBench != "" {
		p("")
		p("## Go benchmarks")
		p("")
		p("```")
		fmt.Fprint(w, strings.TrimRight(rp.goBench, "\n")+"\n")
		p("```")
	}
	if len(rp.notes) > 0 {
		p("")
		p("## Notes")
		p("")
		for _, n := range rp.notes {
			p("- %s", n)
		}
	}
	if len(rp.failures) > 0 {
		p("")
		p("## Failures")
		p("")
		for _, f := range rp.failures {
			p("```")
			p("%s", strings.TrimRight(f, "\n"))
			p("```")
		}
	}
}

// mdEscape keeps a value inside its table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func joinNonEmpty(parts []string, sep string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}
