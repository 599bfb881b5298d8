package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/testutil"
	"github.com/dockyard/dockyard/pkg/layers"
)

// baseLayers makes a two-layer image: a lower with a tree, an upper that deletes and
// hides some of it.
func baseLayers(t *testing.T) []string {
	t.Helper()
	lower, upper := t.TempDir(), t.TempDir()
	write(t, filepath.Join(lower, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n")
	write(t, filepath.Join(lower, "etc/group"), "root:x:0:\n")
	write(t, filepath.Join(lower, "bin/tool"), "tool")
	write(t, filepath.Join(lower, "usr/lib/a/deep"), "deep")
	write(t, filepath.Join(lower, "usr/lib/b"), "b")
	write(t, filepath.Join(lower, "opaque/old"), "old")
	write(t, filepath.Join(lower, "gone"), "gone")
	write(t, filepath.Join(lower, "tmp/.keep"), "")
	if err := os.Chmod(filepath.Join(lower, "tmp"), 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(lower, "bin/tool"), filepath.Join(lower, "bin/tool-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("tool", filepath.Join(lower, "bin/sym")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(filepath.Join(lower, "bin/tool"), "user.note", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(upper, "opaque/new"), "new")
	if err := unix.Lsetxattr(filepath.Join(upper, "opaque"), opaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(upper, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(upper, "etc/hostname.orig"), "host")
	return []string{upper, lower}
}

// layersFor returns the overlay-format layer dirs lowers as s stacks them: for the oci
// format, each is turned into its tar and extracted again on s's filesystem, which is
// how a store there gets its layer dirs.
func layersFor(t *testing.T, s impl, lowers []string) []string {
	t.Helper()
	if s.format == layers.DirOverlay {
		return lowers
	}
	var out []string
	for _, l := range lowers {
		var buf bytes.Buffer
		if err := layers.WriteTar(context.Background(), l, &buf, layers.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		dir := s.tempDir(t)
		if err := layers.Extract(context.Background(), &buf, dir, layers.ExtractOptions{Whiteouts: s.format.Whiteouts()}); err != nil {
			t.Fatal(err)
		}
		out = append(out, dir)
	}
	return out
}

// TestCopyGivesOverlaysLayers runs each change on every snapshotter over the same layers
// (for the oci-format one, the same layers extracted on overlayfs): the layer tars of
// their diffs must be the same bytes.
func TestCopyGivesOverlaysLayers(t *testing.T) {
	testutil.RequireRoot(t)
	changes := []struct {
		name   string
		change func(root string) error
		want   []string // tar entries the layer must hold (a check of the test itself)
	}{
		{"nothing", func(string) error { return nil }, nil},
		{"new file in existing dir", func(r string) error {
			return os.WriteFile(filepath.Join(r, "usr/lib/a/new"), []byte("n"), 0o644)
		}, []string{"usr/", "usr/lib/", "usr/lib/a/", "usr/lib/a/new"}},
		{"chmod only", func(r string) error { return os.Chmod(filepath.Join(r, "usr/lib/b"), 0o600) },
			[]string{"usr/", "usr/lib/", "usr/lib/b"}},
		{"chown dir only", func(r string) error { return os.Lchown(filepath.Join(r, "usr/lib"), 7, 7) },
			[]string{"usr/", "usr/lib/"}},
		{"touch", func(r string) error {
			now := time.Now()
			return os.Chtimes(filepath.Join(r, "etc/group"), now, now)
		}, []string{"etc/", "etc/group"}},
		{"delete file and dir", func(r string) error {
			if err := os.Remove(filepath.Join(r, "etc/passwd")); err != nil {
				return err
			}
			return os.RemoveAll(filepath.Join(r, "usr/lib/a"))
		}, []string{"etc/.wh.passwd", "usr/lib/.wh.a"}},
		{"replace dir", func(r string) error {
			if err := os.RemoveAll(filepath.Join(r, "usr/lib")); err != nil {
				return err
			}
			return os.MkdirAll(filepath.Join(r, "usr/lib/x"), 0o755)
		}, []string{"usr/lib/", "usr/lib/.wh..wh..opq", "usr/lib/x/"}},
		{"file becomes dir", func(r string) error {
			if err := os.Remove(filepath.Join(r, "usr/lib/b")); err != nil {
				return err
			}
			return os.Mkdir(filepath.Join(r, "usr/lib/b"), 0o700)
		}, []string{"usr/lib/b/", "usr/lib/b/.wh..wh..opq"}},
		{"dir becomes file", func(r string) error {
			if err := os.RemoveAll(filepath.Join(r, "usr/lib/a")); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(r, "usr/lib/a"), []byte("f"), 0o644)
		}, []string{"usr/lib/a"}},
		{"append through a hard link", func(r string) error {
			f, err := os.OpenFile(filepath.Join(r, "bin/tool"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			f.WriteString("+")
			return f.Close()
		}, []string{"bin/", "bin/tool"}},
		{"new hard link and symlink", func(r string) error {
			if err := os.Link(filepath.Join(r, "etc/group"), filepath.Join(r, "etc/group2")); err != nil {
				return err
			}
			return os.Symlink("/etc/group", filepath.Join(r, "grp"))
		}, []string{"etc/group", "etc/group2", "grp"}},
		{"new tree in opaque dir", func(r string) error {
			return os.MkdirAll(filepath.Join(r, "opaque/n1/n2"), 0o755)
		}, []string{"opaque/", "opaque/n1/", "opaque/n1/n2/"}},
		{"temp file made and removed", func(r string) error {
			p := filepath.Join(r, "tmp/scratch")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				return err
			}
			return os.Remove(p)
		}, []string{"tmp/"}},
		{"xattr", func(r string) error {
			return unix.Lsetxattr(filepath.Join(r, "etc/group"), "user.x", []byte("1"), 0)
		}, []string{"etc/group"}},
		{"rename file", func(r string) error {
			return os.Rename(filepath.Join(r, "usr/lib/b"), filepath.Join(r, "usr/b2"))
		}, []string{"usr/b2", "usr/lib/.wh.b"}},
	}
	for _, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			lowers := baseLayers(t)
			got := map[string]string{}
			entries := map[string][]string{}
			for name, s := range snapshotters(t) {
				got[name], entries[name] = diffLayer(t, s, layersFor(t, s, lowers), tc.change)
			}
			for _, name := range []string{"copy", "copy-oci"} {
				if got[name] != got["overlay"] {
					t.Errorf("%s layer %s, overlay layer %s", name, got[name], got["overlay"])
					t.Logf("%s layer entries: %v\noverlay layer entries: %v", name, entries[name], entries["overlay"])
				}
			}
			for _, w := range tc.want {
				if !contains(entries["copy-oci"], w) {
					t.Errorf("layer lacks %s: %v", w, entries["copy-oci"])
				}
			}
			if tc.want == nil && len(entries["copy-oci"]) != 0 {
				t.Errorf("an unchanged root gave entries %v", entries["copy-oci"])
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// diffLayer prepares a root with DefaultStubs, applies change, commits, and returns the
// digest of the diff's layer (times clamped: the two runs happen at different moments)
// and its entry names.
func diffLayer(t *testing.T, s impl, lowers []string, change func(string) error) (string, []string) {
	t.Helper()
	ctx := context.Background()
	m, err := s.Prepare(ctx, lowers, DefaultStubs)
	if err != nil {
		t.Fatal(err)
	}
	if err := change(m.Root); err != nil {
		s.Release(ctx, m)
		t.Fatal(err)
	}
	diff, err := s.Commit(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(diff)
	epoch := time.Unix(1e6, 0)
	pr, pw := io.Pipe()
	var names []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr := tar.NewReader(pr)
		for {
			h, err := tr.Next()
			if err != nil {
				io.Copy(io.Discard, pr)
				return
			}
			names = append(names, h.Name)
		}
	}()
	desc, err := layers.WriteLayer(ctx, diff, pw, layers.WriteOptions{Compression: layers.Uncompressed, SourceDateEpoch: &epoch, Format: s.format})
	pw.Close()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return desc.Digest.String(), names
}

// TestNewFallsBackToCopy puts the work dir on an overlayfs mount, which the kernel
// refuses as an upper dir: New picks the copy snapshotter, Open("overlay") says why not.
// Layer dirs of the oci format get the copy snapshotter everywhere.
func TestNewFallsBackToCopy(t *testing.T) {
	testutil.RequireRoot(t)
	merged := testutil.Overlayfs(t)
	plain, work := filepath.Join(t.TempDir(), "w"), filepath.Join(merged, "store", "roots")
	tests := []struct {
		name, kind, work string
		format           layers.DirFormat
		want             string // the snapshotter's kind, or what the error says
	}{
		{"plain filesystem", KindAuto, plain, layers.DirOverlay, KindOverlay},
		{"plain filesystem, oci dirs", KindAuto, plain, layers.DirOCI, KindCopy},
		{"overlay forced on oci dirs", KindOverlay, plain, layers.DirOCI, "oci format"},
		{"copy forced", KindCopy, plain, layers.DirOverlay, KindCopy},
		{"overlayfs", KindAuto, work, layers.DirOverlay, KindCopy},
		{"overlayfs, oci dirs", "", work, layers.DirOCI, KindCopy},
		{"overlay forced on overlayfs", KindOverlay, work, layers.DirOverlay, "copy snapshotter"},
		{"unknown kind", "zfs", plain, layers.DirOverlay, `"zfs"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.kind, tc.work, tc.format)
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Open: %v; want %s", err, tc.want)
				}
				return
			}
			kind := s.(fmt.Stringer).String()
			format := s.(interface{ Format() layers.DirFormat }).Format()
			if kind != tc.want || format != tc.format {
				t.Errorf("Open gave %s for %s dirs; want %s for %s dirs", kind, format, tc.want, tc.format)
			}
		})
	}
	s, err := New(work, layers.DirOverlay)
	if err != nil {
		t.Fatal(err)
	}
	// The fallback works there: a root, a change, a diff.
	lower := filepath.Join(merged, "lower")
	write(t, filepath.Join(lower, "f"), "f")
	m, err := s.Prepare(context.Background(), []string{lower}, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(m.Root, "g"), "g")
	diff, err := s.Commit(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(diff, "g")); got != "g" {
		t.Errorf("diff g = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(diff, "f")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unchanged f is in the diff: %v", err)
	}
}

// TestCopyNeverWritesTheLowers: the base tree is hard links to the layer files; no change
// in the root may reach them.
func TestCopyNeverWritesTheLowers(t *testing.T) {
	testutil.RequireRoot(t)
	lowers := baseLayers(t)
	cp, err := NewCopy(filepath.Join(t.TempDir(), "work"), layers.DirOverlay)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := cp.Prepare(ctx, lowers, DefaultStubs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(m.Root, "bin/tool"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("clobbered")
	f.Close()
	if err := os.Chmod(filepath.Join(m.Root, "etc/passwd"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := cp.Release(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(lowers[1], "bin/tool")); got != "tool" {
		t.Errorf("lower bin/tool = %q after a write in the root", got)
	}
	if fi, _ := os.Stat(filepath.Join(lowers[1], "etc/passwd")); fi.Mode().Perm() != 0o644 {
		t.Errorf("lower etc/passwd mode %v after a chmod in the root", fi.Mode())
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(lowers[1], "usr/lib/b"), &st); err != nil || st.Nlink != 1 {
		t.Errorf("lower usr/lib/b has %d links after release (%v), want 1", st.Nlink, err)
	}
}
