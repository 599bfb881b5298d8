// Command bench measures Dockyard's builder and runner side by side with buildah, podman,
// runc and skopeo on the same work in the same run, and writes bench/results.md.
// `make bench` (bench/run) is the way in; bench/run lists the cases and knobs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

type config struct {
	runs      int
	cases     *regexp.Regexp
	out       string
	goBench   bool
	benchtime string
	keep      bool
	quick     bool
}

func parseFlags() (*config, error) {
	c := &config{}
	runs, _ := strconv.Atoi(envOr("BENCH_RUNS", "5"))
	flag.IntVar(&c.runs, "runs", runs, "runs per case (env BENCH_RUNS)")
	cases := flag.String("cases", envOr("BENCH_CASES", "."), "regexp of the cases to run (env BENCH_CASES)")
	flag.StringVar(&c.out, "out", envOr("BENCH_OUT", "bench/results.md"), "markdown results file (env BENCH_OUT)")
	flag.BoolVar(&c.goBench, "go", os.Getenv("BENCH_GO") != "0", "run the Go benchmarks too (env BENCH_GO=0 skips)")
	flag.BoolVar(&c.quick, "quick", os.Getenv("BENCH_QUICK") == "1", "one run per case, one iteration per Go benchmark (env BENCH_QUICK=1)")
	flag.BoolVar(&c.keep, "keep", false, "keep the scratch stores under .cache/bench/run for a look")
	flag.Parse()
	if c.quick {
		c.runs = 1
	}
	c.benchtime = "5x"
	if c.quick {
		c.benchtime = "1x"
	}
	if c.runs < 1 {
		return nil, fmt.Errorf("runs = %d: need at least 1", c.runs)
	}
	re, err := regexp.Compile(*cases)
	if err != nil {
		return nil, fmt.Errorf("-cases: %w", err)
	}
	c.cases = re
	return c, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("run as root: the builder, runc, podman and buildah mount overlays and make namespaces")
	}
	if _, err := confine(); err != nil {
		return err
	}
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "go.mod")); err != nil {
		return fmt.Errorf("run from the repository root (bench/run does): %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cache := envOr("BENCH_DIR", filepath.Join(repo, ".cache", "bench"))
	e, err := newEnv(repo, envOr("DOCKYARD_BIN", filepath.Join(repo, "bin")), cache)
	if err != nil {
		return err
	}
	if !cfg.keep {
		defer e.remove(e.scratch)
	}
	if err := e.bindStatePaths(); err != nil {
		return err
	}
	rp := &report{date: time.Now().UTC().Format("2006-01-02 15:04 MST"), runs: cfg.runs, command: "make bench"}
	if cfg.quick {
		rp.command = "make bench BENCH_QUICK=1"
	}
	rp.machine, rp.tools = e.describe(ctx)
	err = e.measureAll(ctx, cfg, rp, os.Stderr)
	fmt.Println()
	printTable(os.Stdout, rp.rows)
	for _, d := range rp.derived {
		fmt.Println("-", d)
	}
	if werr := writeReport(cfg.out, rp); werr != nil {
		return errors.Join(err, werr)
	}
	fmt.Fprintf(os.Stderr, "\nwrote %s (command log: %s)\n", cfg.out, e.sh.logPath())
	if len(rp.failures) > 0 && err == nil {
		err = fmt.Errorf("%d failure(s), see %s", len(rp.failures), cfg.out)
	}
	return err
}

func writeReport(path string, rp *report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	rp.markdown(f)
	if err := f.Close(); err != nil {
		return fmt.Errorf("write results %s: %w", path, err)
	}
	return nil
}

// measureAll runs the selected cases in order: builds, pushes, containers, Go benchmarks.
func (e *env) measureAll(ctx context.Context, cfg *config, rp *report, progress io.Writer) error {
	want := func(name string) bool { return cfg.cases.MatchString(name) }
	needDebian := want("big-base-small-run")
	fmt.Fprintln(progress, "preparing base images (busybox-static; Debian minbase via mmdebstrap, cached)")
	if err := e.prepareBases(ctx, needDebian); err != nil {
		return err
	}
	outs := map[string]*outcome{}
	measure := func(b *bench) {
		fmt.Fprintf(progress, "%s\n", b.name)
		o := b.measure(ctx, cfg.runs, progress)
		outs[b.name] = o
		rp.rows = append(rp.rows, o.rows()...)
		for who, err := range o.errs {
			if err != nil && !isSkip(o, who) {
				rp.failures = append(rp.failures, fmt.Sprintf("%s, %s: %v", b.name, who, err))
			}
		}
	}
	var big *buildCase
	for i := range buildCases {
		c := &buildCases[i]
		if c.name == "big-context" {
			big = c
		}
		if want(c.name) {
			measure(e.buildBench(c))
		}
	}
	if want("make-demo") {
		measure(e.demoBench())
	}
	uploads, rebuilt, changed := map[string][]int{}, map[string][]int{}, map[string][]string{}
	if want("push-200MB") || want("push-after-clean-rebuild") {
		reg, err := e.startRegistry(ctx)
		if err != nil {
			return err
		}
		defer reg.stop()
		if want("push-200MB") {
			measure(e.pushBench(reg, big, uploads))
		}
		if want("push-after-clean-rebuild") {
			measure(e.rebuiltPushBench(reg, big, rebuilt, changed))
		}
	}
	if want("run-true-no-network") || want("run-true-private-network") || want("http-first-byte") {
		fx, err := e.runFixture(ctx)
		if err != nil {
			rp.failures = append(rp.failures, fmt.Sprintf("container fixture: %v", err))
		} else {
			for _, b := range e.runTrueBenches(fx) {
				if want(b.name) {
					measure(b)
				}
			}
			if want("http-first-byte") {
				measure(e.httpBench(fx))
			}
		}
	}
	rp.derived = append(deriveBuild(outs), derivePush(uploads, rebuilt, changed)...)
	rp.notes = e.notes()
	if cfg.goBench && ctx.Err() == nil {
		e.goSection(ctx, cfg, rp, big, progress)
	}
	return ctx.Err()
}

// goSection runs the Go benchmarks and the raw disk copy they are compared with.
func (e *env) goSection(ctx context.Context, cfg *config, rp *report, big *buildCase, progress io.Writer) {
	fmt.Fprintf(progress, "go benchmarks (-benchtime %s)\n", cfg.benchtime)
	out, err := e.runGoBenches(ctx, cfg.benchtime)
	rp.goBench = out
	if err != nil {
		rp.failures = append(rp.failures, err.Error())
	}
	var disk float64
	if err := big.prepare(e.contextDir(big)); err == nil {
		if disk, err = e.diskCopy(ctx, e.contextDir(big)); err != nil {
			rp.failures = append(rp.failures, err.Error())
		}
	}
	rp.derived = append(rp.derived, goDerived(parseGoBench(out), disk)...)
}

func isSkip(o *outcome, who string) bool {
	for _, c := range append([]contender{o.bench.ours}, o.bench.peers...) {
		if c.name == who {
			return c.skip != ""
		}
	}
	return false
}
