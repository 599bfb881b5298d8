package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// shell runs the commands of a benchmark, each with the bench environment, and keeps their
// output in one log file (the table only says that something failed; the log says why).
type shell struct {
	env     []string // added to os.Environ() for every command
	log     io.Writer
	logFile string
	timeBin string // GNU time, for peak RSS; "" when missing
	tmp     string // where GNU time writes its reports
	seq     int
}

func (sh *shell) logPath() string { return sh.logFile }

// cmd describes one command line.
type cmd struct {
	args []string
	dir  string
	env  []string // on top of the shell's
}

func command(args ...string) cmd { return cmd{args: args} }

// run runs c to completion and measures it: wall time from start to exit, and the peak RSS
// of the process tree it waited for (getrusage of the child: the largest process of that
// tree, not a sum; a daemonised grandchild such as podman's conmon is not counted).
//
// The RSS comes from GNU time, not from our own wait4: Go starts children with vfork, and
// exec then records the parent's high-water RSS as the child's maxrss, so every command
// would show at least this process's peak. time(1) forks normally from a tiny process.
// It costs both sides the same ~1 ms.
func (sh *shell) run(ctx context.Context, c cmd) (sample, error) {
	args, report := c.args, ""
	if sh.timeBin != "" {
		sh.seq++
		report = filepath.Join(sh.tmp, fmt.Sprintf("rss-%d", sh.seq))
		defer os.Remove(report)
		args = append([]string{sh.timeBin, "-f", "%M", "-o", report}, args...)
	}
	ec := exec.CommandContext(ctx, args[0], args[1:]...)
	ec.Dir = c.dir
	ec.Env = append(append(os.Environ(), sh.env...), c.env...)
	var out bytes.Buffer
	ec.Stdout, ec.Stderr = &out, &out
	ec.WaitDelay = 5 * time.Second
	start := time.Now()
	err := ec.Run()
	wall := time.Since(start)
	sh.record(c, wall, out.Bytes(), err)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", strings.Join(c.args, " "), err, tail(out.Bytes(), 1500))
	}
	return sample{wall: wall, rss: timeRSS(report)}, nil
}

// must runs an untimed preparation command.
func (sh *shell) must(ctx context.Context, args ...string) error {
	_, err := sh.run(ctx, command(args...))
	return err
}

// output runs an untimed command and returns its standard output alone.
func (sh *shell) output(ctx context.Context, args ...string) (string, error) {
	ec := exec.CommandContext(ctx, args[0], args[1:]...)
	ec.Env = append(os.Environ(), sh.env...)
	var stderr bytes.Buffer
	ec.Stderr = &stderr
	out, err := ec.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, tail(stderr.Bytes(), 1500))
	}
	return string(out), nil
}

func (sh *shell) record(c cmd, wall time.Duration, out []byte, err error) {
	if sh.log == nil {
		return
	}
	status := "ok"
	if err != nil {
		status = err.Error()
	}
	fmt.Fprintf(sh.log, "$ %s  # %s, %s\n%s", strings.Join(c.args, " "), fmtDur(wall), status, out)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		fmt.Fprintln(sh.log)
	}
}

func (sh *shell) logf(format string, args ...any) {
	if sh.log != nil {
		fmt.Fprintf(sh.log, "# "+format+"\n", args...)
	}
}

// timeRSS reads the peak RSS GNU time wrote (kilobytes, on the last line).
func timeRSS(report string) int64 {
	b, err := os.ReadFile(report)
	if report == "" || err != nil {
		return 0
	}
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}

// tail returns the last n bytes of b, from a line start where possible.
func tail(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return "…" + string(b)
}
