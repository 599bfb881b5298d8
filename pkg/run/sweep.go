package run

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DestroyAll destroys every container whose state lives in stateRoot: the sweep after a
// process that started them was killed before it could (its containers outlive it, so
// their processes are killed and their cgroups removed here). Containers of the default
// cgroup parent whose starter died before libcontainer recorded their state are found
// by their cgroups.
func DestroyAll(stateRoot string) error {
	entries, err := os.ReadDir(stateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep containers in %s: %w", stateRoot, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := Load(stateRoot, e.Name())
		if err != nil {
			// No state: created but never started, or its starter died in the middle.
			errs = append(errs, sweepCgroups(DefaultCgroupParent, e.Name()))
			continue
		}
		if err := c.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sweepCgroups kills whatever runs in the cgroup parent/id, in every hierarchy, and
// removes it.
func sweepCgroups(parent, id string) error {
	if !validID.MatchString(id) || id == "." || id == ".." {
		return nil
	}
	dirs := containerCgroups(path.Join(parent, id))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := rmdirCgroup(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// containerCgroups lists the cgroup dirs named rel (absolute from each hierarchy's root)
// that exist: on cgroup filesystems only, never a plain dir of the /sys/fs/cgroup tmpfs.
func containerCgroups(rel string) []string {
	candidates, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", rel))
	candidates = append(candidates, filepath.Join("/sys/fs/cgroup", rel))
	var out []string
	for _, d := range candidates {
		var st unix.Statfs_t
		if unix.Statfs(d, &st) == nil && (st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC) {
			out = append(out, d)
		}
	}
	return out
}

// rmdirCgroup removes a cgroup dir once the processes just killed have left it.
func rmdirCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY) && time.Now().Before(deadline):
			time.Sleep(10 * time.Millisecond)
		default:
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
	}
}
