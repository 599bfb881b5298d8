package main

import (
	"testing"
	"time"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestSummarize(t *testing.T) {
	tests := []struct {
		name             string
		walls            []float64
		median, min, max float64
	}{
		{"one", []float64{7}, 7, 7, 7},
		{"odd unsorted", []float64{30, 10, 20}, 20, 10, 30},
		{"even: mean of the middle two", []float64{40, 10, 30, 20}, 25, 10, 40},
		{"outlier does not move the median", []float64{10, 11, 12, 13, 900}, 12, 10, 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ss []sample
			for i, w := range tt.walls {
				ss = append(ss, sample{wall: ms(w), rss: int64(i+1) << 20})
			}
			s := summarize(ss)
			if s.n != len(tt.walls) || s.median != ms(tt.median) || s.min != ms(tt.min) || s.max != ms(tt.max) {
				t.Errorf("summarize = %+v, want n=%d median=%v min=%v max=%v", s, len(tt.walls), ms(tt.median), ms(tt.min), ms(tt.max))
			}
			if want := int64(len(tt.walls)) << 20; s.rss != want {
				t.Errorf("rss = %d, want the highest peak %d", s.rss, want)
			}
		})
	}
	if s := summarize(nil); s.n != 0 || s.String() != "n/a" {
		t.Errorf("summarize(nil) = %+v %q", s, s.String())
	}
}

func TestRatio(t *testing.T) {
	ours := summarize([]sample{{wall: ms(20)}})
	peer := summarize([]sample{{wall: ms(60)}})
	if r := ratio(ours, peer); r != 3 {
		t.Errorf("ratio = %v, want 3 (peer 3× slower)", r)
	}
	if r := ratio(ours, summary{}); r != 0 {
		t.Errorf("ratio with a missing peer = %v, want 0", r)
	}
	if got := fmtRatio(0); got != "n/a" {
		t.Errorf("fmtRatio(0) = %q", got)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{fmtDur(ms(2.25)), "2.2ms"},
		{fmtDur(ms(64.4)), "64ms"},
		{fmtDur(ms(9999)), "9999ms"},
		{fmtDur(ms(26300)), "26.3s"},
		{fmtRSS(0), "n/a"},
		{fmtRSS(84 << 20), "84 MB"},
		{summarize([]sample{{wall: ms(10)}, {wall: ms(30)}, {wall: ms(20)}}).String(), "20ms (10ms–30ms)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestTargetMet(t *testing.T) {
	tg := target{min: 1.5, text: "≥ 1.5×"}
	for r, want := range map[float64]string{1.6: "yes", 1.5: "yes", 1.2: "NO", 0: "?"} {
		if got := tg.met(r); got != want {
			t.Errorf("met(%v) = %q, want %q", r, got, want)
		}
	}
	if got := (target{}).met(2); got != "" {
		t.Errorf("no target: met = %q, want empty", got)
	}
}
