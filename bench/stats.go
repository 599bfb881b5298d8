package main

import (
	"fmt"
	"slices"
	"time"
)

// sample is one timed run of one command (or of one measured span).
type sample struct {
	wall time.Duration
	rss  int64 // peak RSS in bytes of the largest process of the command's tree; 0: unknown
}

// summary is what the table shows of a series of samples.
type summary struct {
	n                int
	median, min, max time.Duration
	rss              int64 // the highest peak seen over all runs
}

func summarize(ss []sample) summary {
	if len(ss) == 0 {
		return summary{}
	}
	walls := make([]time.Duration, len(ss))
	var rss int64
	for i, s := range ss {
		walls[i] = s.wall
		rss = max(rss, s.rss)
	}
	slices.Sort(walls)
	return summary{n: len(ss), median: median(walls), min: walls[0], max: walls[len(walls)-1], rss: rss}
}

// median of sorted durations; the mean of the middle two for an even count.
func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ratio is peer/ours on the medians: above 1 means ours is faster. 0 when either is missing.
func ratio(ours, peer summary) float64 {
	if ours.n == 0 || peer.n == 0 || ours.median <= 0 {
		return 0
	}
	return float64(peer.median) / float64(ours.median)
}

// String is "median (min–max)", or just the median for a single run.
func (s summary) String() string {
	if s.n == 0 {
		return "n/a"
	}
	if s.n == 1 {
		return fmtDur(s.median)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtDur(s.median), fmtDur(s.min), fmtDur(s.max))
}

// fmtDur prints milliseconds below 10 s (what matters for latencies), seconds above.
func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	default:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
}

func fmtRSS(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
}

func fmtRatio(r float64) string {
	if r == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", r)
}
