package main

import (
	"fmt"
	"slices"
	"strings"
)

// phaseSummary is one contender's summary for one phase of a measured bench.
func (o *outcome) phaseSummary(who, phase string) summary {
	if o == nil {
		return summary{}
	}
	i := slices.Index(o.bench.phases, phase)
	if i < 0 {
		return summary{}
	}
	return summarize(o.samples[who][i])
}

// deriveBuild states what the issues ask of the build numbers beyond peer ratios.
func deriveBuild(outs map[string]*outcome) []string {
	var lines []string
	for _, c := range buildCases {
		o := outs[c.name]
		if o == nil {
			continue
		}
		var parts []string
		for _, who := range []string{"ours", "buildah"} {
			cold, warm := o.phaseSummary(who, "cold"), o.phaseSummary(who, "warm")
			if cold.n > 0 && warm.n > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", who, 100*float64(warm.median)/float64(cold.median)))
			}
		}
		if len(parts) > 0 {
			lines = append(lines, fmt.Sprintf("%s: no-change rebuild / cold build: %s (issue 6 target for ours: < 10%%)",
				c.name, strings.Join(parts, ", ")))
		}
	}
	small, big := outs["small-base-small-run"], outs["big-base-small-run"]
	if small != nil && big != nil {
		for _, who := range []string{"ours", "buildah"} {
			var parts []string
			for _, ph := range buildPhases {
				s, b := small.phaseSummary(who, ph), big.phaseSummary(who, ph)
				if s.n > 0 && b.n > 0 {
					parts = append(parts, fmt.Sprintf("%s %s vs %s (%.2f×)", ph, fmtDur(s.median), fmtDur(b.median),
						float64(b.median)/float64(s.median)))
				}
			}
			if len(parts) > 0 {
				lines = append(lines, fmt.Sprintf("`COPY stamp; RUN touch /x` on busybox vs on Debian minbase, %s: %s (should be ≈ 1×)",
					who, strings.Join(parts, ", ")))
			}
		}
	}
	if o := outs["big-context"]; o != nil {
		if s := o.phaseSummary("ours", "cold"); s.n > 0 {
			lines = append(lines, fmt.Sprintf("peak RSS of `builder build` on big-context: %s (target < 150 MB: %s)",
				fmtRSS(s.rss), yesNo(s.rss < 150<<20)))
		}
	}
	return lines
}

// derivePush reports the blobs the registry saw committed per push.
func derivePush(uploads, rebuilt map[string][]int, changed map[string][]string) []string {
	var lines []string
	for _, who := range []string{"ours", "skopeo", "buildah"} {
		u := uploads[who]
		if len(u) < 2 {
			continue
		}
		var first, repeat []int
		for i, n := range u {
			if i%2 == 0 {
				first = append(first, n)
			} else {
				repeat = append(repeat, n)
			}
		}
		line := fmt.Sprintf("blobs uploaded by %s: first push %v, re-push %v", who, first, repeat)
		if r := rebuilt[who]; len(r) > 0 {
			line += fmt.Sprintf(", push after a clean rebuild %v (layers changed by the rebuild: %v; "+
				"the config, with its timestamps, always is new)", r, changed[who])
		}
		lines = append(lines, line)
	}
	return lines
}
