package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/pkg/layers"
	"golang.org/x/sys/unix"
)

// impl is one snapshotter under test, with the layer dir format it stacks and the place
// its fixtures go: the oci-format copy snapshotter works on a real overlayfs mount, as in
// a CI job whose store sits on a container's overlay root.
type impl struct {
	Snapshotter
	format layers.DirFormat
	dir    string
}

// snapshotters lists every implementation; each runs the whole behavioural suite.
func snapshotters(t *testing.T) map[string]impl {
	t.Helper()
	testutil.RequireRoot(t)
	ov, err := NewOverlay(filepath.Join(t.TempDir(), "work"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := NewCopy(filepath.Join(t.TempDir(), "work"), layers.DirOverlay)
	if err != nil {
		t.Fatal(err)
	}
	ovfs := testutil.Overlayfs(t)
	if f, err := layers.ProbeDirFormat(ovfs); err != nil || f != layers.DirOCI {
		t.Fatalf("overlayfs probes as %v (%v), want oci", f, err)
	}
	oci, err := NewCopy(filepath.Join(ovfs, "work"), layers.DirOCI)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]impl{
		"overlay":  {ov, layers.DirOverlay, t.TempDir()},
		"copy":     {cp, layers.DirOverlay, t.TempDir()},
		"copy-oci": {oci, layers.DirOCI, ovfs},
	}
}

// tempDir makes a fixture dir on the implementation's filesystem.
func (s impl) tempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp(s.dir, "fixture-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// whiteout makes a layer-format deletion record, as overlayfs (or an OCI tar) does.
func (s impl) whiteout(t *testing.T, path string) {
	t.Helper()
	if s.format == layers.DirOCI {
		path = filepath.Join(filepath.Dir(path), ".wh."+filepath.Base(path))
		if err := os.WriteFile(path, nil, 0); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := unix.Mknod(path, unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
}

func (s impl) isWhiteout(path string) bool {
	var st unix.Stat_t
	if s.format == layers.DirOCI {
		marker := filepath.Join(filepath.Dir(path), ".wh."+filepath.Base(path))
		return unix.Lstat(marker, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 &&
			unix.Lstat(path, &st) != nil
	}
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// opaque marks the layer dir's directory dir as hiding the lowers' contents.
func (s impl) opaque(t *testing.T, dir string) {
	t.Helper()
	var err error
	if s.format == layers.DirOCI {
		err = os.WriteFile(filepath.Join(dir, ".wh..wh..opq"), nil, 0)
	} else {
		err = unix.Lsetxattr(dir, opaqueXattr, []byte("y"), 0)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (s impl) isOpaque(dir string) bool {
	if s.format == layers.DirOCI {
		_, err := os.Lstat(filepath.Join(dir, ".wh..wh..opq"))
		return err == nil
	}
	v, _ := getxattr(dir, opaqueXattr)
	return v == "y"
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertNotMounted(t *testing.T, path string) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), " "+path+" ") {
		t.Errorf("%s is still mounted", path)
	}
}

func TestMergeAndDiff(t *testing.T) {
	for name, s := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			base, top := s.tempDir(t), s.tempDir(t)
			write(t, filepath.Join(base, "a"), "base-a")
			write(t, filepath.Join(base, "b"), "base-b")
			write(t, filepath.Join(base, "d/old"), "old")
			write(t, filepath.Join(top, "a"), "top-a")
			s.whiteout(t, filepath.Join(top, "b"))

			m, err := s.Prepare(ctx, []string{top, base}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := read(t, filepath.Join(m.Root, "a")); got != "top-a" {
				t.Errorf("a = %q, want the upper layer's", got)
			}
			if _, err := os.Lstat(filepath.Join(m.Root, "b")); !os.IsNotExist(err) {
				t.Errorf("b deleted by the top layer is visible: %v", err)
			}
			write(t, filepath.Join(m.Root, "new"), "new")
			if err := os.Remove(filepath.Join(m.Root, "a")); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(m.Root, "d")); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(m.Root, "d/fresh"), "fresh")
			dirTime := mtime(t, filepath.Join(m.Root, "d"))

			diff, err := s.Commit(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(diff)
			assertNotMounted(t, m.Root)
			if got := read(t, filepath.Join(diff, "new")); got != "new" {
				t.Errorf("diff new = %q", got)
			}
			if !s.isWhiteout(filepath.Join(diff, "a")) {
				t.Error("deleted a is not a whiteout in the diff")
			}
			if _, err := os.Lstat(filepath.Join(diff, "b")); !os.IsNotExist(err) {
				t.Error("the diff holds b, which this step did not touch")
			}
			if _, err := os.Lstat(filepath.Join(diff, "d/old")); !os.IsNotExist(err) {
				t.Error("old content of the replaced dir leaked into the diff")
			}
			if got := read(t, filepath.Join(diff, "d/fresh")); got != "fresh" {
				t.Errorf("d/fresh = %q", got)
			}
			if !s.isOpaque(filepath.Join(diff, "d")) {
				t.Error("replaced dir d is not opaque in the diff")
			}
			if got := mtime(t, filepath.Join(diff, "d")); !got.Equal(dirTime) {
				t.Errorf("replaced dir d has mtime %v in the diff, %v in the root", got, dirTime)
			}
		})
	}
}

func TestStubsStayOutOfTheDiff(t *testing.T) {
	for name, s := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			base, top := s.tempDir(t), s.tempDir(t)
			write(t, filepath.Join(base, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n")
			mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			etc := filepath.Join(base, "etc")
			if err := os.Chown(etc, 5, 6); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(etc, 0o751|os.ModeSticky); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(etc, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(top, "private/run/x"), "x")
			if err := os.Symlink("private/run", filepath.Join(top, "run")); err != nil {
				t.Fatal(err)
			}

			stubs := append([]Stub{{Path: "/run/secrets", Dir: true}}, DefaultStubs...)
			m, err := s.Prepare(ctx, []string{top, base}, stubs)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"proc", "sys", "dev", "etc/hosts", "etc/resolv.conf", "private/run/secrets"} {
				if _, err := os.Lstat(filepath.Join(m.Root, p)); err != nil {
					t.Errorf("stub %s missing from the root: %v", p, err)
				}
			}
			fi, err := os.Lstat(filepath.Join(m.Root, "etc"))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 5 || st.Gid != 6 || st.Mode&07777 != 0o751|unix.S_ISVTX || !fi.ModTime().Equal(mtime) {
				t.Errorf("/etc seen through the stubs: uid %d gid %d mode %o mtime %v; want the image's 5 6 1751 %v",
					st.Uid, st.Gid, st.Mode&07777, fi.ModTime(), mtime)
			}
			write(t, filepath.Join(m.Root, "etc/motd"), "hi")

			diff, err := s.Commit(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(diff)
			var names []string
			filepath.Walk(diff, func(p string, _ os.FileInfo, _ error) error {
				rel, _ := filepath.Rel(diff, p)
				names = append(names, rel)
				return nil
			})
			if got, want := strings.Join(names, " "), ". etc etc/motd"; got != want {
				t.Errorf("diff holds [%s], want [%s]", got, want)
			}
			fi, err = os.Lstat(filepath.Join(diff, "etc"))
			if err != nil {
				t.Fatal(err)
			}
			st = fi.Sys().(*syscall.Stat_t)
			if st.Uid != 5 || st.Mode&07777 != 0o751|unix.S_ISVTX {
				t.Errorf("copied-up /etc has uid %d mode %o, want the image's 5 1751", st.Uid, st.Mode&07777)
			}
		})
	}
}

func TestReleaseLeavesNothing(t *testing.T) {
	for name, s := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			base := s.tempDir(t)
			write(t, filepath.Join(base, "f"), "f")
			m, err := s.Prepare(ctx, []string{base}, DefaultStubs)
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(m.Root, "g"), "g")
			if err := s.Release(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := s.Release(ctx, m); err != nil {
				t.Errorf("second release: %v", err)
			}
			assertNotMounted(t, m.Root)
			if _, err := os.Stat(m.dir); !os.IsNotExist(err) {
				t.Errorf("root dir %s survived release", m.dir)
			}
			if got := read(t, filepath.Join(base, "f")); got != "f" {
				t.Errorf("lower layer changed: %q", got)
			}
		})
	}
}

func TestScratchRoot(t *testing.T) {
	for name, s := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			m, err := s.Prepare(ctx, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(m.Root, "only"), "1")
			diff, err := s.Commit(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(diff)
			if got := read(t, filepath.Join(diff, "only")); got != "1" {
				t.Errorf("only = %q", got)
			}
		})
	}
}

// A deep stack: Docker stops at 125 layers; overlay itself at 500.
func TestManyLayers(t *testing.T) {
	for name, s := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			root := s.tempDir(t)
			var lowers []string
			for i := 0; i < 300; i++ {
				// Long names on purpose: 300 of them overflow the classic mount option string.
				d := filepath.Join(root, fmt.Sprintf("layer-%03d-%s", i, strings.Repeat("x", 40)))
				write(t, filepath.Join(d, fmt.Sprintf("f%03d", i)), fmt.Sprint(i))
				lowers = append([]string{d}, lowers...)
			}
			m, err := s.Prepare(ctx, lowers, DefaultStubs)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Release(ctx, m)
			for _, i := range []int{0, 150, 299} {
				if got := read(t, filepath.Join(m.Root, fmt.Sprintf("f%03d", i))); got != fmt.Sprint(i) {
					t.Errorf("f%03d = %q", i, got)
				}
			}
		})
	}
}

func TestRepeatedLayer(t *testing.T) {
	for name, s := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			x, y := s.tempDir(t), s.tempDir(t)
			write(t, filepath.Join(x, "f"), "x")
			s.whiteout(t, filepath.Join(y, "f"))
			// x, then y deleting f, then x again putting it back.
			m, err := s.Prepare(ctx, []string{x, y, x}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Release(ctx, m)
			if got := read(t, filepath.Join(m.Root, "f")); got != "x" {
				t.Errorf("f = %q, want the top copy of the repeated layer", got)
			}
		})
	}
}

func mtime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

func getxattr(path, name string) (string, error) {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
