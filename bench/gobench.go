package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goBenches are the hot-path Go benchmarks results.md carries, package → -bench regexp.
var goBenches = [][2]string{
	{"./pkg/layers", "^Benchmark(WriteLayer|Extract)"},
	{"./pkg/snapshot", "^BenchmarkStepSnapshot"},
}

// runGoBenches runs them with -benchtime Nx and returns their output lines.
func (e *env) runGoBenches(ctx context.Context, benchtime string) (string, error) {
	var out strings.Builder
	for _, gb := range goBenches {
		c := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", gb[1], "-benchtime", benchtime, gb[0])
		c.Dir = e.repo
		b, err := c.CombinedOutput()
		e.sh.record(cmd{args: c.Args}, 0, b, err)
		if err != nil {
			return out.String(), fmt.Errorf("go test -bench %s: %w\n%s", gb[0], err, tail(b, 1500))
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") {
				out.WriteString(line + "\n")
			}
		}
	}
	return out.String(), nil
}

// goResult is one benchmark line: ns/op and, when it set bytes, MB/s; order is its line.
type goResult struct {
	nsPerOp, mbPerS float64
	order           int
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) MB/s)?`)

func parseGoBench(out string) map[string]goResult {
	res := map[string]goResult{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		mb, _ := strconv.ParseFloat(m[3], 64)
		res[m[1]] = goResult{nsPerOp: ns, mbPerS: mb, order: len(res)}
	}
	return res
}

// goDerived compares the layer writers with the standard library and the disk.
func goDerived(res map[string]goResult, diskMBps float64) []string {
	var out []string
	std := res["BenchmarkWriteLayerStdlibGzip/level=-1"].mbPerS
	cmp := func(name, label string, want float64) {
		r := res[name].mbPerS
		if r == 0 || std == 0 {
			return
		}
		out = append(out, fmt.Sprintf("%s: %.0f MB/s = %.2f× stdlib gzip (default level, %.0f MB/s); target ≥ %.0f×: %s",
			label, r, r/std, std, want, yesNo(r/std >= want)))
	}
	cmp("BenchmarkWriteLayerGzip/level=0", "layer gzip (klauspost, default level)", 2)
	cmp("BenchmarkWriteLayerZstd/level=0", "layer zstd (default level)", 4)
	if none := res["BenchmarkWriteLayerNone"].mbPerS; none > 0 && diskMBps > 0 {
		out = append(out, fmt.Sprintf("layer tar, uncompressed: %.0f MB/s; raw copy of the big context on the same disk (cp -a): %.0f MB/s",
			none, diskMBps))
	}
	var names []string
	for name := range res {
		if strings.HasPrefix(name, "BenchmarkStepSnapshot/") {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return res[a].order - res[b].order })
	var flat []string
	for _, name := range names {
		flat = append(flat, fmt.Sprintf("%s %.1fms", strings.TrimPrefix(name, "BenchmarkStepSnapshot/"), res[name].nsPerOp/1e6))
	}
	if len(flat) > 0 {
		line := "step snapshot (Prepare + touch + Commit) vs lowers: " + strings.Join(flat, ", ")
		if d := res["BenchmarkStepSnapshotDirtyDisk"].nsPerOp; d > 0 {
			line += fmt.Sprintf("; with 64 MiB dirty on the disk: %.1fms (the unmount syncs the upper filesystem)", d/1e6)
		}
		out = append(out, line)
	}
	return out
}

// diskCopy measures raw copy throughput of dir on the disk the bench works on: cp -a of
// the whole tree (hot in the page cache, as the layer benchmarks' tree is), MB/s of file
// bytes. No sync: the layer writer does not wait for the disk either.
func (e *env) diskCopy(ctx context.Context, dir string) (float64, error) {
	var bytes int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			bytes += info.Size()
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	dst := filepath.Join(e.scratch, "disk-copy")
	defer e.remove(dst)
	start := time.Now()
	if err := e.sh.must(ctx, "cp", "-a", dir, dst); err != nil {
		return 0, err
	}
	return float64(bytes) / 1e6 / time.Since(start).Seconds(), nil // MB as go test counts them
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
