package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Overlay is the overlayfs snapshotter. Every root lives in its own directory under work.
type Overlay struct {
	work string
}

// NewOverlay returns an overlay snapshotter keeping its mounts and upper dirs under work,
// which must be on the same filesystem as the directories commits are moved to.
func NewOverlay(work string) (*Overlay, error) {
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("overlay snapshotter: %w", err)
	}
	return &Overlay{work: work}, nil
}

// Prepare mounts lowers under a fresh upper dir.
func (o *Overlay) Prepare(ctx context.Context, lowers []string, stubs []Stub) (_ *Mount, err error) {
	dir, err := os.MkdirTemp(o.work, "root-")
	if err != nil {
		return nil, fmt.Errorf("prepare root: %w", err)
	}
	m := &Mount{dir: dir, upper: filepath.Join(dir, "upper"), Root: filepath.Join(dir, "merged")}
	defer func() {
		if err != nil {
			o.Release(ctx, m)
		}
	}()
	for _, d := range []string{m.upper, filepath.Join(dir, "work"), m.Root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("prepare root: %w", err)
		}
	}
	lowers = topmostOnce(lowers)
	if len(lowers) == 0 {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return nil, fmt.Errorf("prepare root: %w", err)
		}
		lowers = []string{empty}
	}
	if len(stubs) > 0 {
		stubLayer, err := o.stubLayer(dir, lowers, stubs)
		if err != nil {
			return nil, err
		}
		if stubLayer != "" {
			lowers = append([]string{stubLayer}, lowers...)
		}
	}
	if err := mountOverlay(m.Root, lowers, m.upper, filepath.Join(dir, "work")); err != nil {
		return nil, err
	}
	m.mounted = true
	return m, nil
}

// stubLayer builds the layer of missing mount targets, looking at lowers through a read-only
// overlay when there is more than one.
func (o *Overlay) stubLayer(dir string, lowers []string, stubs []Stub) (string, error) {
	view := lowers[0]
	if len(lowers) > 1 {
		view = filepath.Join(dir, "view")
		if err := os.Mkdir(view, 0o755); err != nil {
			return "", fmt.Errorf("prepare root: %w", err)
		}
		if err := mountOverlay(view, lowers, "", ""); err != nil {
			return "", err
		}
		defer unmount(view)
	}
	stubDir := filepath.Join(dir, "stubs")
	made, err := makeStubs(view, stubDir, stubs)
	if err != nil || !made {
		return "", err
	}
	return stubDir, nil
}

// Commit unmounts the root and hands over its upper dir.
func (o *Overlay) Commit(ctx context.Context, m *Mount) (string, error) {
	if m.released {
		return "", errors.New("commit: root already released")
	}
	if m.mounted {
		if err := unmount(m.Root); err != nil {
			return "", err
		}
		m.mounted = false
	}
	diff := filepath.Join(o.work, "diff-"+filepath.Base(m.dir))
	if err := os.Rename(m.upper, diff); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if err := o.Release(ctx, m); err != nil {
		os.RemoveAll(diff)
		return "", err
	}
	return diff, nil
}

// Release unmounts the root and removes everything it used.
func (o *Overlay) Release(ctx context.Context, m *Mount) error {
	if m.released {
		return nil
	}
	if m.mounted {
		if err := unmount(m.Root); err != nil {
			return err
		}
		m.mounted = false
	}
	if err := os.RemoveAll(m.dir); err != nil {
		return fmt.Errorf("release root %s: %w", m.dir, err)
	}
	m.released = true
	return nil
}

// topmostOnce drops repeated layer dirs (two empty layers share one dir, and overlayfs
// refuses a lower listed twice). Keeping the topmost copy is exact: a layer repeated higher
// up puts back everything its lower copy contributed.
func topmostOnce(lowers []string) []string {
	seen := make(map[string]bool, len(lowers))
	out := make([]string, 0, len(lowers))
	for _, l := range lowers {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// mountOverlay mounts an overlay at target. The new mount API takes one lower dir per call
// ("lowerdir+", Linux 6.8), so a deep stack never hits the page-sized limit of the classic
// option string; older kernels get the classic string while it fits.
func mountOverlay(target string, lowers []string, upper, work string) error {
	err := fsconfigOverlay(target, lowers, upper, work)
	if err == nil || !errors.Is(err, errNoLowerdirPlus) {
		return err
	}
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	opts += ",redirect_dir=off,index=off,metacopy=off"
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("mount overlay with %d layers: options exceed the kernel's %d-byte limit (Linux 6.8 or newer lifts it)",
			len(lowers), os.Getpagesize())
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay at %s: %w", target, err)
	}
	return nil
}

var errNoLowerdirPlus = errors.New("kernel without lowerdir+")

func fsconfigOverlay(target string, lowers []string, upper, work string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return errNoLowerdirPlus
		}
		return fmt.Errorf("mount overlay at %s: fsopen: %w", target, err)
	}
	defer unix.Close(fd)
	set := func(key, value string) error {
		if err := unix.FsconfigSetString(fd, key, value); err != nil {
			return fmt.Errorf("mount overlay at %s: %s=%s: %w%s", target, key, value, err, fsLog(fd))
		}
		return nil
	}
	for i, l := range lowers {
		if err := set("lowerdir+", l); err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				return errNoLowerdirPlus
			}
			return err
		}
	}
	if upper != "" {
		if err := set("upperdir", upper); err != nil {
			return err
		}
		if err := set("workdir", work); err != nil {
			return err
		}
	}
	// redirect_dir and metacopy would leave renames and chmods as xattr-only records in the
	// upper dir, which is then no longer a complete diff.
	for _, kv := range [][2]string{{"redirect_dir", "off"}, {"metacopy", "off"}, {"index", "off"}} {
		if err := set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("mount overlay at %s (%d layers): %w%s", target, len(lowers), err, fsLog(fd))
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("mount overlay at %s: fsmount: %w", target, err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount overlay at %s: move_mount: %w", target, err)
	}
	return nil
}

// fsLog drains the kernel's messages about a failed fsconfig call.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 512)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

func unmount(target string) error {
	for {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EBUSY):
			// Something still holds the root (a process the cgroup kill has not reaped yet);
			// detach it so the directory can go, the kernel frees it when the last user does.
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %s: %w", target, err)
			}
			return nil
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
}
