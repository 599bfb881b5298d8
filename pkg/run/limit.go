package run

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
)

// LimitError reports that a container's process failed after running into one of its
// Limits: the OOM killer killed a process at the memory limit, or a fork failed at the
// process limit.
type LimitError struct {
	Resource string // "memory" or "pids"
	Limit    int64  // bytes or processes
	Code     int    // the exit code the process ended with
}

func (e *LimitError) Error() string {
	if e.Resource == "memory" {
		return fmt.Sprintf("killed: out of memory (limit %s)", formatBytes(e.Limit))
	}
	return fmt.Sprintf("process limit reached: a fork failed (limit %d processes), exit code %d", e.Limit, e.Code)
}

// limitHit reports the limit the container ran into, from its cgroup's event counters;
// nil if none. It must be called before Destroy removes the cgroup.
func (c *Container) limitHit() *LimitError {
	st, err := c.lc.State()
	if err != nil {
		return nil
	}
	l := c.spec.Limits
	v2 := cgroups.IsCgroup2UnifiedMode()
	memFile, memDir := "memory.oom_control", st.CgroupPaths["memory"]
	pidsDir := st.CgroupPaths["pids"]
	if v2 {
		memFile, memDir, pidsDir = "memory.events", st.CgroupPaths[""], st.CgroupPaths[""]
	}
	if l.MemoryBytes > 0 && eventCount(filepath.Join(memDir, memFile), "oom_kill") > 0 {
		return &LimitError{Resource: "memory", Limit: l.MemoryBytes}
	}
	if l.Pids > 0 && eventCount(filepath.Join(pidsDir, "pids.events"), "max") > 0 {
		return &LimitError{Resource: "pids", Limit: l.Pids}
	}
	return nil
}

// eventCount reads the value of key in a cgroup file of "key value" lines; 0 if absent.
func eventCount(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// formatBytes writes a size the way people set it: "64 MiB", "1 GiB", "1536 KiB".
func formatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
