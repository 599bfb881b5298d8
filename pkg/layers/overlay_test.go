package layers

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
	"golang.org/x/sys/unix"
)

// overlayFixture is a real kernel overlay: lower has a small tree, the test changes the
// merged view, and the upper dir is the layer under test.
type overlayFixture struct {
	lower, upper, work, merged string
	mountedView                map[string]node // merged tree before unmount
}

func populateLower(t *testing.T, lower string) {
	for p, data := range map[string]string{
		"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "etc/group": "root:x:0:\n",
		"keep/f": "f", "rmdir/a": "a", "rmdir/sub/b": "b", "del/file": "gone", "del/other": "stays",
		"opq/old1": "1", "opq/olddir/x": "x", "chm": "mode", "link-src": "shared", "bin/ping": "elf",
	} {
		writeFile(t, filepath.Join(lower, p), data, 0o644)
	}
}

func mountOverlay(t *testing.T) *overlayFixture {
	testutil.RequireRoot(t)
	base := t.TempDir()
	f := &overlayFixture{lower: base + "/lower", upper: base + "/upper", work: base + "/work", merged: base + "/merged"}
	for _, d := range []string{f.lower, f.upper, f.work, f.merged} {
		must(t, os.Mkdir(d, 0o755))
	}
	populateLower(t, f.lower)
	opts := "lowerdir=" + f.lower + ",upperdir=" + f.upper + ",workdir=" + f.work + ",redirect_dir=off,metacopy=off,index=off"
	if err := unix.Mount("overlay", f.merged, "overlay", 0, opts); err != nil {
		testutil.Missing(t, "overlayfs mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(f.merged, unix.MNT_DETACH) })
	return f
}

// change does to the merged view what a RUN step might.
func (f *overlayFixture) change(t *testing.T) {
	m := f.merged
	must(t, os.Remove(m+"/del/file"))
	must(t, os.RemoveAll(m+"/rmdir"))
	must(t, os.RemoveAll(m+"/opq"))
	writeFile(t, m+"/opq/new", "new", 0o600) // mkdir over a deleted dir: opaque
	must(t, os.Chmod(m+"/chm", 0o600))
	must(t, os.Link(m+"/link-src", m+"/hl"))
	must(t, os.Rename(m+"/keep/f", m+"/keep/g"))
	writeFile(t, m+"/etc/new", "fresh", 0o644)
	must(t, unix.Setxattr(m+"/etc/new", "user.foo", []byte("bar"), 0))
	af, err := os.OpenFile(m+"/etc/passwd", os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = af.WriteString("app:x:1000:1000::/home/app:/bin/sh\n")
	must(t, err)
	must(t, af.Close())
	must(t, os.Symlink("passwd", m+"/etc/alias"))
	must(t, unix.Mkfifo(m+"/fifo", 0o644))
	must(t, unix.Setxattr(m+"/bin/ping", "security.capability", []byte(capV2(13)), 0))
}

func (f *overlayFixture) unmount(t *testing.T) {
	f.mountedView = snapshotTree(t, f.merged)
	must(t, unix.Unmount(f.merged, 0))
}

func TestOverlayUpperToLayer(t *testing.T) {
	f := mountOverlay(t)
	f.change(t)
	f.unmount(t)

	upperTar := writeTarBytes(t, f.upper, WriteOptions{})
	entries := readEntries(t, upperTar)
	byName := map[string]entry{}
	for i, e := range entries {
		byName[e.Name] = e
		for k := range e.Xattrs {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s carries %s", e.Name, k)
			}
		}
		if e.Name == "opq/" && (i+1 >= len(entries) || entries[i+1].Name != "opq/.wh..wh..opq") {
			t.Errorf("opaque marker does not follow opq/: %v", names(entries))
		}
	}
	want := map[string]func(e entry) bool{
		".wh.rmdir":        isWhiteout,
		"del/.wh.file":     isWhiteout,
		"keep/.wh.f":       isWhiteout,
		"opq/.wh..wh..opq": isWhiteout,
		"keep/g":           func(e entry) bool { return e.Type == tar.TypeReg && e.Data == "f" },
		"opq/new":          func(e entry) bool { return e.Mode == 0o600 && e.Data == "new" },
		"chm":              func(e entry) bool { return e.Mode == 0o600 && e.Data == "mode" },
		"hl":               func(e entry) bool { return e.Type == tar.TypeReg && e.Data == "shared" }, // sorts first
		"link-src":         func(e entry) bool { return e.Type == tar.TypeLink && e.Link == "hl" },
		"etc/new":          func(e entry) bool { return e.Xattrs["user.foo"] == "bar" },
		"etc/passwd":       func(e entry) bool { return strings.HasSuffix(e.Data, "/home/app:/bin/sh\n") },
		"etc/alias":        func(e entry) bool { return e.Type == tar.TypeSymlink && e.Link == "passwd" },
		"fifo":             func(e entry) bool { return e.Type == tar.TypeFifo },
		"bin/ping":         func(e entry) bool { return e.Xattrs["security.capability"] == capV2(13) },
	}
	for name, ok := range want {
		if e, found := byName[name]; !found || !ok(e) {
			t.Errorf("%s: got %+v (present %v)", name, e, found)
		}
	}
	for _, absent := range []string{"del/other", "etc/group", "keep/f", "rmdir/", "opq/old1"} {
		if _, found := byName[absent]; found {
			t.Errorf("unchanged or deleted path %s is in the layer", absent)
		}
	}

	// Flattening lower + layer must reproduce what the mount showed.
	flat := t.TempDir()
	must(t, extractBytes(t, writeTarBytes(t, f.lower, WriteOptions{}), flat, ExtractOptions{Whiteouts: WhiteoutsApply}))
	must(t, extractBytes(t, upperTar, flat, ExtractOptions{Whiteouts: WhiteoutsApply}))
	diffTrees(t, f.mountedView, snapshotTree(t, flat), false)

	t.Run("umoci reads it", func(t *testing.T) { umociUnpack(t, f, upperTar) })
	t.Run("extracted as an overlay layer dir it mounts back", func(t *testing.T) { remount(t, f, upperTar) })
}

// remount extracts the layer in overlay form and stacks it on the lower, read-only: the
// kernel must show the same tree the original mount did.
func remount(t *testing.T, f *overlayFixture, upperTar []byte) {
	layerDir, merged := t.TempDir(), t.TempDir()
	must(t, extractBytes(t, upperTar, layerDir, ExtractOptions{}))
	if again := writeTarBytes(t, layerDir, WriteOptions{}); !bytes.Equal(again, upperTar) {
		t.Errorf("layer dir written back differs:\n%v\n%v", names(readEntries(t, again)), names(readEntries(t, upperTar)))
	}
	opts := "lowerdir=" + layerDir + ":" + f.lower + ",redirect_dir=off,metacopy=off,index=off"
	must(t, unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, opts))
	defer unix.Unmount(merged, unix.MNT_DETACH)
	diffTrees(t, f.mountedView, snapshotTree(t, merged), false)
}

func isWhiteout(e entry) bool {
	return e.Type == tar.TypeReg && e.Size == 0 && e.Mode == 0 && e.UID == 0 && e.Mtime.Equal(whiteoutTime)
}

// umociUnpack has an independent implementation apply lower + our layer and compares
// its root filesystem with the merged view.
func umociUnpack(t *testing.T, f *overlayFixture, upperTar []byte) {
	umoci := testutil.RequireBinary(t, "umoci")
	dir := t.TempDir()
	lowerPath, upperPath := dir+"/lower.tar", dir+"/upper.tar"
	must(t, os.WriteFile(lowerPath, writeTarBytes(t, f.lower, WriteOptions{}), 0o644))
	must(t, os.WriteFile(upperPath, upperTar, 0o644))
	img := dir + "/layout:t"
	for _, args := range [][]string{
		{"init", "--layout", dir + "/layout"},
		{"new", "--image", img},
		{"raw", "add-layer", "--image", img, lowerPath},
		{"raw", "add-layer", "--image", img, upperPath},
		{"unpack", "--image", img, dir + "/bundle"},
	} {
		if out, err := exec.Command(umoci, args...).CombinedOutput(); err != nil {
			t.Fatalf("umoci %v: %v\n%s", args, err, out)
		}
	}
	diffTrees(t, f.mountedView, snapshotTree(t, dir+"/bundle/rootfs"), false)
}
