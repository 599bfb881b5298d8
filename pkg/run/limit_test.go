package run

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// TestRunReportsLimits: a process killed at its memory limit, or failing at its process
// limit, makes Run say so; an ordinary failure stays an exit code.
func TestRunReportsLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		script string
		limits Limits
		want   string // "" : a plain exit code
	}{
		// tail keeps the endless "line" of /dev/zero in memory.
		{"memory", "tail /dev/zero", Limits{MemoryBytes: 32 << 20}, "killed: out of memory (limit 32 MiB)"},
		{"pids", "i=0; while [ $i -lt 100 ]; do sleep 1000 & i=$((i+1)); done", Limits{Pids: 20}, "limit 20 processes"},
		{"plain failure under limits", "exit 3", Limits{MemoryBytes: 32 << 20, Pids: 20}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, out := newSpec(t, "sh", "-c", tc.script)
			s.Limits = tc.limits
			code, err := Run(context.Background(), s)
			assertGone(t, s)
			var le *LimitError
			if tc.want == "" {
				if err != nil || code != 3 {
					t.Fatalf("Run = %d, %v; want exit 3 and no error", code, err)
				}
				return
			}
			if !errors.As(err, &le) || code != -1 {
				t.Fatalf("Run = %d, %v; want -1 and a *LimitError\n%s", code, err, out)
			}
			if !strings.Contains(err.Error(), tc.want) || le.Code == 0 {
				t.Errorf("error %q (exit %d), want it to say %q", err, le.Code, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64 MiB", 1 << 30: "1 GiB", 1536 << 10: "1536 KiB", 1000: "1000 bytes"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestDefaultSeccompAndNoNewPrivs: with Docker's profile a process is filtered (Seccomp: 2)
// and cannot make a user namespace, which it can without; chown and setuid still work.
func TestDefaultSeccompAndNoNewPrivs(t *testing.T) {
	t.Parallel()
	if !SeccompSupported() {
		testutil.Missing(t, "a binary built with -tags seccomp")
	}
	profile, err := DefaultSeccomp(nil)
	if err != nil {
		t.Fatal(err)
	}
	script := `awk '/^(Seccomp|NoNewPrivs):/ {sub(":", "", $1); print $1 "=" $2}' /proc/self/status; unshare -U true && echo userns=yes || echo userns=no
touch /f && chown 33:33 /f && su -s /bin/sh www-data -c id`
	for _, confined := range []bool{false, true} {
		s, out := newSpec(t, "sh", "-c", script)
		if confined {
			s.Seccomp, s.NoNewPrivileges = profile, true
		}
		text := runOK(t, s, out)
		f := fields(text)
		wantSeccomp, wantNNP, wantUserns := "0", "0", "userns=yes"
		if confined {
			wantSeccomp, wantNNP, wantUserns = "2", "1", "userns=no"
		}
		if f["Seccomp"] != wantSeccomp || f["NoNewPrivs"] != wantNNP || !strings.Contains(text, wantUserns) {
			t.Errorf("confined=%v: got\n%s\nwant Seccomp %s, NoNewPrivs %s, %s", confined, text, wantSeccomp, wantNNP, wantUserns)
		}
		if !strings.Contains(text, "uid=33(www-data)") {
			t.Errorf("confined=%v: su to www-data failed:\n%s", confined, text)
		}
	}
}
