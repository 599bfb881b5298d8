package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

func TestRunPidsLimit(t *testing.T) {
	t.Parallel()
	// 60 background sleeps: fine without a limit, and safe should the limit not work.
	script := `i=0; while [ $i -lt 60 ]; do sleep 1000 & i=$((i+1)); done; echo all forked`
	for _, limit := range []int64{0, 20} {
		s, out := newSpec(t, "sh", "-c", script)
		s.Limits.Pids = limit
		code, err := Run(context.Background(), s)
		var le *LimitError
		switch {
		case limit > 0 && errors.As(err, &le):
			code = le.Code // a failed fork is reported as the limit it hit
		case err != nil:
			t.Fatalf("Run: %v", err)
		}
		forked := strings.Contains(out.String(), "all forked")
		if limited := limit > 0; forked == limited || (code == 0) == limited {
			t.Errorf("pids limit %d: exit %d, output %q", limit, code, out)
		}
		assertGone(t, s)
	}
}

func TestLimitsInCgroup(t *testing.T) {
	t.Parallel()
	s, _ := newSpec(t, "sleep", "1000")
	s.Limits = Limits{MemoryBytes: 64 << 20, CPUs: 1.5, Pids: 33}
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Destroy(); err != nil {
			t.Error(err)
		}
		assertGone(t, s)
	}()
	if _, err := c.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := c.lc.State()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // cgroup v1: controller/file → value
		"memory/memory.limit_in_bytes":       "67108864",
		"memory/memory.memsw.limit_in_bytes": "67108864",
		"cpu/cpu.cfs_quota_us":               "150000",
		"cpu/cpu.cfs_period_us":              "100000",
		"pids/pids.max":                      "33",
	}
	if cgroups.IsCgroup2UnifiedMode() {
		want = map[string]string{"/memory.max": "67108864", "/memory.swap.max": "0", "/cpu.max": "150000 100000", "/pids.max": "33"}
	}
	for key, value := range want {
		ctrl, file, _ := strings.Cut(key, "/")
		dir, ok := st.CgroupPaths[ctrl]
		if !ok {
			t.Errorf("no %q cgroup in %v", ctrl, st.CgroupPaths)
			continue
		}
		if !strings.HasSuffix(dir, filepath.Join(testCgroupParent, s.ID)) {
			t.Errorf("%s cgroup %s is not below %s", ctrl, dir, testCgroupParent)
		}
		if file == "memory.memsw.limit_in_bytes" && !swapAccounting() {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || strings.TrimSpace(string(got)) != value {
			t.Errorf("%s = %q, %v; want %s", file, got, err, value)
		}
	}
}
