package run

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/opencontainers/cgroups"
)

// Moving a process into a cgroup (libcontainer writes the init's pid to cgroup.procs of
// each hierarchy) takes the kernel's global cgroup_threadgroup_rwsem for writing, and
// the first writer after a quiet spell waits for a full RCU grace period: 6-15 ms on a
// 2-core VM, more than the rest of the cgroup setup together. Writers that come within
// about one grace period of the last one pass at once. So while a container is being set
// up, a goroutine moves this process into the cgroup it is already in (a no-op
// migration) every few milliseconds: the grace period elapses during the setup, in
// parallel, instead of inside the container start. The kernel's favordynmods cgroup
// mount option gets the same effect permanently, host-wide; this needs no host change.
const (
	warmInterval = 4 * time.Millisecond
	// warmLimit bounds how long one WarmUp keeps writing, should its caller never call done.
	warmLimit = 30 * time.Second
)

var warm struct {
	mu    sync.Mutex
	users int
	procs string // our own cgroup.procs; "" when not found (then WarmUp does nothing)
	once  sync.Once
}

// WarmUp starts the spec-independent part of the next container start in the background,
// so that it overlaps the caller's own preparation (mounting the root, writing state);
// call it as early as possible, and done once the container has started. Create and
// Start call it themselves; calling it earlier only adds overlap. It never fails: where
// it cannot help, it does nothing.
func WarmUp() (done func()) {
	warm.once.Do(func() { warm.procs = ownCgroupProcs() })
	if warm.procs == "" {
		return func() {}
	}
	warm.mu.Lock()
	warm.users++
	if warm.users == 1 {
		go warmLoop()
	}
	warm.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			warm.mu.Lock()
			warm.users--
			warm.mu.Unlock()
		})
	}
}

func warmLoop() {
	pid := []byte(strconv.Itoa(os.Getpid()))
	deadline := time.Now().Add(warmLimit)
	for {
		// Errors are ignored: a failed write only means no head start.
		_ = os.WriteFile(warm.procs, pid, 0)
		warm.mu.Lock()
		if warm.users == 0 || time.Now().After(deadline) {
			warm.users = 0
			warm.mu.Unlock()
			return
		}
		warm.mu.Unlock()
		time.Sleep(warmInterval)
	}
}

// ownCgroupProcs is the cgroup.procs file of this process's own cgroup in one hierarchy
// (the unified one, else pids'), or "" when none is found.
func ownCgroupProcs() string {
	var dir string
	if cgroups.IsCgroup2UnifiedMode() {
		own, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
		if err != nil {
			return ""
		}
		dir = filepath.Join("/sys/fs/cgroup", own[""])
	} else {
		var err error
		if dir, err = cgroups.GetOwnCgroupPath("pids"); err != nil {
			return ""
		}
	}
	p := filepath.Join(dir, "cgroup.procs")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
