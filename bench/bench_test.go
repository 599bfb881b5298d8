package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// fakeTrial records the order contenders ran in and returns fixed samples.
func fakeTrial(name string, order *[]string, wall time.Duration, failAt int) trial {
	return func(_ context.Context, run int) ([]sample, error) {
		*order = append(*order, name)
		if run == failAt {
			return nil, errors.New(name + " broke\nsecond line")
		}
		return []sample{{wall: wall}, {wall: 2 * wall}}, nil
	}
}

func TestMeasureRotatesAndDropsFailures(t *testing.T) {
	var order []string
	b := &bench{
		name:   "case",
		phases: []string{"cold", "warm"},
		ours:   contender{name: "ours", trial: fakeTrial("ours", &order, ms(10), -1)},
		peers: []contender{
			{name: "p1", trial: fakeTrial("p1", &order, ms(30), 1)},
			{name: "p2", skip: "p2 not installed"},
		},
		targets: map[string]map[string]target{"p1": {"cold": {min: 1.5, text: "≥ 1.5×"}}},
	}
	o := b.measure(context.Background(), 3, io.Discard)
	// Run 0: ours first; run 1: p1 first (fails); run 2: ours again (p1 dropped, p2 skipped).
	if got, want := strings.Join(order, ","), "ours,p1,p1,ours,ours"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	if n := len(o.samples["ours"][0]); n != 3 {
		t.Errorf("ours cold samples = %d, want 3", n)
	}
	if n := len(o.samples["p1"][1]); n != 1 {
		t.Errorf("p1 warm samples = %d, want 1 (before it failed)", n)
	}
	rows := o.rows()
	if len(rows) != 4 {
		t.Fatalf("rows = %d, want phases × peers = 4", len(rows))
	}
	r := rows[0]
	if r.name != "case/cold" || r.peer != "p1" || r.ratio() != 3 || r.target.met(r.ratio()) != "yes" {
		t.Errorf("first row = %+v (ratio %v)", r, r.ratio())
	}
	if !strings.Contains(r.note, "p1: p1 broke") || strings.Contains(r.note, "second line") {
		t.Errorf("note = %q, want the first line of p1's error", r.note)
	}
	if rows[1].peer != "p2" || rows[1].them.n != 0 || !strings.Contains(rows[1].note, "not installed") {
		t.Errorf("skipped peer row = %+v", rows[1])
	}
}

func TestMeasureRepeat(t *testing.T) {
	var order []string
	b := &bench{name: "lat", phases: []string{""}, repeat: 4,
		ours: contender{name: "ours", trial: func(context.Context, int) ([]sample, error) {
			order = append(order, "ours")
			return []sample{{wall: ms(1)}}, nil
		}}}
	o := b.measure(context.Background(), 2, io.Discard)
	if len(order) != 8 || len(o.samples["ours"][0]) != 8 {
		t.Errorf("ran %d trials, kept %d samples; want runs × repeat = 8", len(order), len(o.samples["ours"][0]))
	}
	if rows := o.rows(); len(rows) != 1 || rows[0].name != "lat" || rows[0].peer != "-" {
		t.Errorf("rows of a peerless bench = %+v", rows)
	}
}

func TestMeasureWrongSampleCount(t *testing.T) {
	b := &bench{name: "x", phases: []string{"a", "b"},
		ours: contender{name: "ours", trial: func(context.Context, int) ([]sample, error) {
			return []sample{{wall: 1}}, nil
		}}}
	o := b.measure(context.Background(), 1, io.Discard)
	if o.errs["ours"] == nil {
		t.Error("a trial giving fewer samples than phases was accepted")
	}
}
