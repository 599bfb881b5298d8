package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
	"golang.org/x/sys/unix"
)

// overlayfsRoot mounts a fresh overlay (unmounted at cleanup) and returns an empty dir in
// it: a filesystem that refuses whiteout devices and trusted.overlay xattrs.
func overlayfsRoot(t *testing.T) string {
	root := filepath.Join(testutil.Overlayfs(t), "root")
	must(t, os.Mkdir(root, 0o755))
	return root
}

func TestDirFormatNames(t *testing.T) {
	for _, f := range []DirFormat{DirOverlay, DirOCI} {
		if got, err := ParseDirFormat(f.String()); err != nil || got != f {
			t.Errorf("ParseDirFormat(%q) = %v, %v", f, got, err)
		}
	}
	if _, err := ParseDirFormat("aufs"); err == nil {
		t.Error("ParseDirFormat accepted aufs")
	}
	if DirOverlay.Whiteouts() != WhiteoutsOverlay || DirOCI.Whiteouts() != WhiteoutsFiles {
		t.Error("Whiteouts does not give the mode that makes the format")
	}
}

func TestProbeDirFormat(t *testing.T) {
	testutil.RequireRoot(t)
	for name, tc := range map[string]struct {
		dir  string
		want DirFormat
	}{
		"plain filesystem": {t.TempDir(), DirOverlay},
		"overlayfs":        {overlayfsRoot(t), DirOCI},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ProbeDirFormat(tc.dir)
			if err != nil || got != tc.want {
				t.Errorf("ProbeDirFormat = %v, %v; want %v", got, err, tc.want)
			}
			if left, _ := os.ReadDir(tc.dir); len(left) != 0 {
				t.Errorf("the probe left %v", left)
			}
		})
	}
	if _, err := ProbeDirFormat(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("probing a missing dir succeeded")
	}
}

// TestOCIDirRoundTrip extracts a layer in the oci format, on overlayfs where the overlay
// format cannot be made, and writes it back: the same bytes, and markers where overlay
// has devices and xattrs.
func TestOCIDirRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	src := t.TempDir()
	richTree(t, src)
	first := writeTarBytes(t, src, WriteOptions{})
	root := overlayfsRoot(t)
	if err := extractBytes(t, first, filepath.Join(root, "overlay"), ExtractOptions{}); !errors.Is(err, unix.EPERM) {
		t.Errorf("overlay format on overlayfs: %v, want EPERM (else this test proves nothing)", err)
	}
	dst := filepath.Join(root, "oci")
	must(t, extractBytes(t, first, dst, ExtractOptions{Whiteouts: WhiteoutsFiles}))
	if second := writeTarBytes(t, dst, WriteOptions{Format: DirOCI}); !bytes.Equal(first, second) {
		t.Errorf("round trip changed the tar:\n first  %v\n second %v", names(readEntries(t, first)), names(readEntries(t, second)))
	}
	tree := snapshotTree(t, dst)
	marker := node{Mtime: whiteoutTime.UnixNano(), Nlink: 1, Data: emptySHA}
	for _, p := range []string{".wh.deleted", "opq/.wh.gone", "opq/.wh..wh..opq"} {
		if tree[p] != marker {
			t.Errorf("%s = %+v, want an empty root-owned mode 0 file", p, tree[p])
		}
	}
	for _, p := range []string{"deleted", "opq/gone"} {
		if _, ok := tree[p]; ok {
			t.Errorf("deleted %s exists in the oci dir", p)
		}
	}
	// Everything else is as the overlay format has it.
	want := snapshotTree(t, src)
	for _, p := range []string{"deleted", "opq/gone"} {
		delete(want, p)
	}
	for _, p := range []string{".wh.deleted", "opq/.wh.gone", "opq/.wh..wh..opq"} {
		delete(tree, p)
	}
	diffTrees(t, want, tree, false)
}

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// TestWriteTarOCIFormat builds one layer in both formats: the tars are the same bytes,
// whatever the marker files hold, and markers that are no deletion are left out.
func TestWriteTarOCIFormat(t *testing.T) {
	testutil.RequireRoot(t)
	ov, oci := t.TempDir(), t.TempDir()
	for _, d := range []string{ov, oci} {
		writeFile(t, d+"/a/.early", "e", 0o644)
		writeFile(t, d+"/a/z", "z", 0o644)
		writeFile(t, d+"/b/keep", "k", 0o644)
		writeFile(t, d+"/c", "c", 0o644)
	}
	must(t, unix.Mknod(ov+"/a/gone", unix.S_IFCHR, 0))
	must(t, unix.Mknod(ov+"/a/.hidden", unix.S_IFCHR, 0))
	must(t, unix.Lsetxattr(ov+"/b", overlayOpaqueXattr, []byte("y"), 0))
	must(t, unix.Mknod(ov+"/top", unix.S_IFCHR, 0))

	writeFile(t, oci+"/a/.wh.gone", "", 0)
	writeFile(t, oci+"/a/.wh..hidden", "not empty, still a marker", 0o755) // a step made it
	must(t, os.Lchown(oci+"/a/.wh..hidden", 7, 7))
	writeFile(t, oci+"/b/.wh..wh..opq", "", 0)
	writeFile(t, oci+"/.wh.top", "", 0)
	writeFile(t, oci+"/.wh..wh..opq", "", 0)   // the root hides nothing, as its xattr would not
	writeFile(t, oci+"/a/.wh..wh.plnk", "", 0) // aufs bookkeeping
	writeFile(t, oci+"/a/.wh.", "", 0)         // names nothing
	for _, p := range []string{"/a/.early", "/a/z", "/b/keep", "/c", "/a", "/b"} {
		setMtime(t, ov+p, t0)
		setMtime(t, oci+p, t0)
	}
	want := writeTarBytes(t, ov, WriteOptions{})
	got := writeTarBytes(t, oci, WriteOptions{Format: DirOCI})
	if !bytes.Equal(want, got) {
		t.Errorf("oci dir tar differs:\n overlay %+v\n oci     %+v", readEntries(t, want), readEntries(t, got))
	}
	wantNames := []string{".wh.top", "a/", "a/.wh..hidden", "a/.wh.gone", "a/.early", "a/z", "b/", "b/.wh..wh..opq", "b/keep", "c"}
	if n := names(readEntries(t, got)); !slices.Equal(n, wantNames) {
		t.Errorf("entries %v, want %v", n, wantNames)
	}
	// The overlay format takes .wh. files literally, as it always has.
	if n := names(readEntries(t, writeTarBytes(t, oci, WriteOptions{}))); !slices.Contains(n, ".wh..wh..opq") {
		t.Errorf("overlay format dropped a plain file: %v", n)
	}
}

// TestExtractFilesWhiteouts: in the oci format a layer dir never holds a name and its
// whiteout together, and nothing that would read as a marker by accident.
func TestExtractFilesWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name    string
		hdrs    []*tar.Header
		want    []string // the tree
		wantErr string   // the entry the error names
	}{
		{name: "whiteout removes an earlier entry", hdrs: []*tar.Header{reg("x"), reg(".wh.x")}, want: []string{".wh.x"}},
		{name: "a later entry replaces its whiteout", hdrs: []*tar.Header{reg(".wh.x"), reg("x"), reg("d/.wh.y"), dirH("d/y/")},
			want: []string{"d", "d/y", "x"}},
		{name: "opaque marker with new content", hdrs: []*tar.Header{dirH("d/"), reg("d/.wh..wh..opq"), reg("d/f"), dirH("d/")},
			want: []string{"d", "d/.wh..wh..opq", "d/f"}},
		{name: "opaque marker before its dir", hdrs: []*tar.Header{reg("n/.wh..wh..opq")}, want: []string{"n", "n/.wh..wh..opq"}},
		{name: "aufs bookkeeping skipped", hdrs: []*tar.Header{reg(".wh..wh.plnk"), dirH(".wh..wh.orph/")}, want: nil},
		{name: "file replacing the whiteout's dir", hdrs: []*tar.Header{reg("d/.wh.x"), reg("d"), dirH("d/"), reg("d/x")},
			want: []string{"d", "d/x"}},
		{name: "dir named .wh.", hdrs: []*tar.Header{reg(".wh.d/f")}, wantErr: `".wh.d/f"`},
		{name: "nested dir named .wh.", hdrs: []*tar.Header{reg("a/.wh.d/.wh.f")}, wantErr: `"a/.wh.d/.wh.f"`},
		{name: "hard link to a whiteout", hdrs: []*tar.Header{reg(".wh.x"), linkH("h", ".wh.x")}, wantErr: `"h"`},
		{name: "whiteout of dotdot", hdrs: []*tar.Header{reg("a/.wh...")}, wantErr: `"a/.wh..."`},
		{name: "whiteout of nothing", hdrs: []*tar.Header{reg(".wh.")}, wantErr: `".wh."`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			err := extractBytes(t, tarOf(t, tc.hdrs, nil), root, ExtractOptions{Whiteouts: WhiteoutsFiles})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			must(t, err)
			tree := snapshotTree(t, root)
			if got := slices.Sorted(maps.Keys(tree)); !slices.Equal(got, tc.want) {
				t.Errorf("tree %v, want %v", got, tc.want)
			}
			for p, n := range tree {
				if strings.HasPrefix(filepath.Base(p), whiteoutPrefix) && (n.Type != 0 || n.Perm != 0 || n.Data != emptySHA) {
					t.Errorf("marker %s is %+v, want an empty mode 0 file", p, n)
				}
			}
		})
	}
}

// TestWriteTarOCIFormatTimes: marker files get the fixed whiteout time in the tar, like
// devices, whatever their own mtime.
func TestWriteTarOCIFormatTimes(t *testing.T) {
	d := t.TempDir()
	writeFile(t, d+"/.wh.x", "", 0)
	setMtime(t, d+"/.wh.x", t0)
	epoch := t0.Add(-time.Hour)
	for _, opts := range []WriteOptions{{Format: DirOCI}, {Format: DirOCI, SourceDateEpoch: &epoch}} {
		es := readEntries(t, writeTarBytes(t, d, opts))
		if len(es) != 1 || !isWhiteout(es[0]) {
			t.Errorf("entries %+v, want one whiteout header", es)
		}
	}
}
