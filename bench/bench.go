package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// A trial is one run of one tool through every phase of a case (cold, warm, touched; or
// first push, re-push): one sample per phase, in the order of bench.phases.
type trial func(ctx context.Context, run int) ([]sample, error)

// contender is one tool's way of doing a case.
type contender struct {
	name  string // "ours", "buildah", "podman", "runc", "skopeo"
	trial trial
	skip  string // why it cannot run here; it is then shown as n/a with this reason
}

// target is what the issue asks of peer/ours for a phase: at least min.
type target struct {
	min  float64
	text string
}

func (t target) met(r float64) string {
	switch {
	case t.min == 0:
		return ""
	case r == 0:
		return "?"
	case r >= t.min:
		return "yes"
	default:
		return "NO"
	}
}

// bench is a case: ours against one or more peers on the same work.
type bench struct {
	name    string
	phases  []string
	ours    contender
	peers   []contender
	targets map[string]map[string]target // peer → phase → target
	repeat  int                          // trials per run (a short trial is noisy); 0 is 1
	setup   func(ctx context.Context) error
	cleanup func()
}

// outcome is what a bench measured: per contender, per phase, the samples of every run.
type outcome struct {
	bench   *bench
	samples map[string][][]sample // contender → phase index → runs
	errs    map[string]error      // contender → the error that stopped it
}

// measure runs every contender runs times, rotating who goes first so that none always
// runs on the warmer (or the noisier) machine. A contender that fails is dropped for the
// rest of the bench; the others go on.
func (b *bench) measure(ctx context.Context, runs int, progress io.Writer) *outcome {
	o := &outcome{bench: b, samples: map[string][][]sample{}, errs: map[string]error{}}
	all := append([]contender{b.ours}, b.peers...)
	for _, c := range all {
		o.samples[c.name] = make([][]sample, len(b.phases))
		if c.skip != "" {
			o.errs[c.name] = errors.New(c.skip)
		}
	}
	if b.setup != nil {
		if err := b.setup(ctx); err != nil {
			o.errs[b.ours.name] = fmt.Errorf("setup: %w", err)
			return o
		}
	}
	if b.cleanup != nil {
		defer b.cleanup()
	}
	total := runs * max(b.repeat, 1)
	for run := range total {
		for k := range all {
			c := all[(run+k)%len(all)]
			if o.errs[c.name] != nil || ctx.Err() != nil {
				continue
			}
			fmt.Fprintf(progress, "  %-26s run %d/%d %-8s", b.name, run+1, total, c.name)
			ss, err := c.trial(ctx, run)
			if err == nil && len(ss) != len(b.phases) {
				err = fmt.Errorf("trial gave %d samples for %d phases", len(ss), len(b.phases))
			}
			if err != nil {
				fmt.Fprintln(progress, " FAILED")
				o.errs[c.name] = err
				continue
			}
			for i, s := range ss {
				o.samples[c.name][i] = append(o.samples[c.name][i], s)
				fmt.Fprintf(progress, " %s=%s", b.phases[i], fmtDur(s.wall))
			}
			fmt.Fprintln(progress)
		}
	}
	return o
}

// row is one line of the results table.
type row struct {
	name       string // case/phase
	peer       string
	ours, them summary
	target     target
	note       string // why a side is missing
}

func (r row) ratio() float64 { return ratio(r.ours, r.them) }

// rows turns an outcome into table rows: one per phase and peer.
func (o *outcome) rows() []row {
	b := o.bench
	var rows []row
	peers := b.peers
	if len(peers) == 0 {
		peers = []contender{{name: "-"}}
	}
	for i, phase := range b.phases {
		name := b.name
		if phase != "" {
			name += "/" + phase
		}
		ours := summarize(o.samples[b.ours.name][i])
		for _, p := range peers {
			r := row{name: name, peer: p.name, ours: ours, target: b.targets[p.name][phase]}
			if p.trial != nil || p.skip != "" {
				r.them = summarize(o.samples[p.name][i])
			}
			r.note = o.note(b.ours.name, p.name)
			rows = append(rows, r)
		}
	}
	return rows
}

func (o *outcome) note(names ...string) string {
	var msgs []string
	for _, n := range names {
		if err := o.errs[n]; err != nil {
			msgs = append(msgs, n+": "+firstLine(err.Error()))
		}
	}
	return joinNonEmpty(msgs, "; ")
}
