package run

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/testutil"
)

// TestDestroyAllSweepsUnrecordedContainers: a container whose starter died before
// libcontainer wrote its state has a state dir, cgroups and maybe processes, no state.
// DestroyAll kills what runs in its cgroups and removes them.
func TestDestroyAllSweepsUnrecordedContainers(t *testing.T) {
	testutil.RequireRoot(t)
	sleep := testutil.RequireBinary(t, "sleep")
	stateRoot := t.TempDir()
	id := uniqueID(t)
	if err := os.Mkdir(filepath.Join(stateRoot, id), 0o700); err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, h := range []string{"pids", "memory", "unified", ""} {
		hier := filepath.Join("/sys/fs/cgroup", h)
		var st unix.Statfs_t
		if unix.Statfs(hier, &st) != nil || (st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC) {
			continue // not a cgroup hierarchy here
		}
		d := filepath.Join(hier, DefaultCgroupParent, id)
		if err := os.MkdirAll(d, 0o755); err == nil {
			made = append(made, d)
		}
	}
	t.Cleanup(func() {
		for _, d := range made {
			os.Remove(d)
		}
	})
	if len(made) == 0 {
		t.Fatal("could not make any cgroup")
	}
	cmd := exec.Command(sleep, "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if err := os.WriteFile(filepath.Join(made[0], "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := DestroyAll(stateRoot); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("the process in the container's cgroup was not killed")
	}
	for _, d := range made {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s still there", d)
		}
	}
}
