package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
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

func extractBytes(t testing.TB, data []byte, root string, opts ExtractOptions) error {
	t.Helper()
	return Extract(context.Background(), bytes.NewReader(data), root, opts)
}

// richTree is a layer dir with every kind of entry a layer may hold.
func richTree(t *testing.T, d string) {
	buildTree(t, d)
	writeFile(t, d+"/usr/bin/ping", "elf", 0o755)
	must(t, unix.Lsetxattr(d+"/usr/bin/ping", "security.capability", []byte(capV2(13)), 0))
	must(t, unix.Chmod(d+"/usr/bin/ping", 0o4755))
	must(t, os.Lchown(d+"/usr/bin/ping", 0, 5))
	must(t, os.Mkdir(d+"/tmp", 0o755))
	must(t, unix.Chmod(d+"/tmp", 0o1777))
	must(t, unix.Mkfifo(d+"/tmp/fifo", 0o600))
	must(t, unix.Mknod(d+"/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Mknod(d+"/deleted", unix.S_IFCHR, 0))
	must(t, os.Mkdir(d+"/opq", 0o700))
	must(t, unix.Setxattr(d+"/opq", overlayOpaqueXattr, []byte("y"), 0))
	writeFile(t, d+"/opq/new", "n", 0o600)
	must(t, unix.Mknod(d+"/opq/gone", unix.S_IFCHR, 0))
	must(t, os.Lchown(d+"/opq/new", 1000, 1000))
	for _, p := range []string{"/usr/bin/ping", "/usr/bin", "/usr", "/tmp/fifo", "/tmp", "/opq/new", "/opq", "/null"} {
		setMtime(t, d+p, t0.Add(time.Duration(len(p))*time.Second))
	}
}

func TestExtractOverlayRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	src, dst := t.TempDir(), t.TempDir()
	richTree(t, src)
	first := writeTarBytes(t, src, WriteOptions{})
	must(t, extractBytes(t, first, dst, ExtractOptions{}))
	second := writeTarBytes(t, dst, WriteOptions{})
	if !bytes.Equal(first, second) {
		t.Errorf("round trip changed the tar:\n first  %+v\n second %+v", readEntries(t, first), readEntries(t, second))
	}
	// Dir mtimes must survive their children being written after them. Whiteouts carry
	// the fixed whiteout time, whatever the source device's was.
	want := snapshotTree(t, src)
	for p, n := range want {
		if n.Type == os.ModeDevice|os.ModeCharDevice && n.Rdev == 0 {
			n.Mtime = whiteoutTime.UnixNano()
			want[p] = n
		}
	}
	diffTrees(t, want, snapshotTree(t, dst), false)
}

func TestExtractApplyWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	lower := tarOf(t, []*tar.Header{
		dirH("d/"), reg("d/keep"), reg("d/del"), dirH("d/sub/"), reg("d/sub/x"),
		dirH("o/"), reg("o/old"), dirH("o/inner/"), reg("o/inner/old"), reg("top"),
	}, nil)
	upper := tarOf(t, []*tar.Header{
		dirH("d/"), reg("d/.wh.del"), reg("d/.wh.sub"), reg(".wh.top"),
		dirH("o/"), reg("o/.wh..wh..opq"), dirH("o/inner/"), reg("o/inner/new"), reg("o/fresh"),
		reg(".wh..wh.plnk"), reg("fresh"), reg(".wh.fresh"), // a layer never hides its own files
	}, nil)
	root := t.TempDir()
	must(t, extractBytes(t, lower, root, ExtractOptions{Whiteouts: WhiteoutsApply}))
	must(t, extractBytes(t, upper, root, ExtractOptions{Whiteouts: WhiteoutsApply}))
	got := slices.Sorted(maps.Keys(snapshotTree(t, root)))
	want := []string{"d", "d/keep", "fresh", "o", "o/fresh", "o/inner", "o/inner/new"}
	if !slices.Equal(got, want) {
		t.Errorf("tree %v, want %v", got, want)
	}
}

// An archive that ADD unpacks is not a layer: its .wh. names are plain files.
func TestExtractKeepWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	must(t, extractBytes(t, tarOf(t, []*tar.Header{reg("a"), reg(".wh.a"), dirH("d/"), reg("d/.wh..wh..opq")}, nil), root,
		ExtractOptions{Whiteouts: WhiteoutsKeep}))
	got := slices.Sorted(maps.Keys(snapshotTree(t, root)))
	want := []string{".wh.a", "a", "d", "d/.wh..wh..opq"}
	if !slices.Equal(got, want) {
		t.Errorf("tree %v, want %v", got, want)
	}
}

// TestExtractReplace follows docker's pkg/archive: a later entry replaces an earlier one,
// except that a dir over a dir merges.
func TestExtractReplace(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name  string
		hdrs  []*tar.Header
		data  map[string]string
		check func(t *testing.T, root string)
	}{
		{"file over file", []*tar.Header{reg("f"), reg("f")}, map[string]string{"f": "second"},
			func(t *testing.T, root string) { wantContent(t, root+"/f", "second") }},
		{"dir over file", []*tar.Header{reg("x"), dirH("x/"), reg("x/in")}, nil,
			func(t *testing.T, root string) { wantType(t, root+"/x", os.ModeDir) }},
		{"file over non-empty dir", []*tar.Header{dirH("x/"), reg("x/in"), reg("x")}, nil,
			func(t *testing.T, root string) { wantType(t, root+"/x", 0) }},
		{"dir over dir merges and takes the new mode", []*tar.Header{dirH("x/"), reg("x/in"),
			{Typeflag: tar.TypeDir, Name: "x/", Mode: 0o711}}, nil,
			func(t *testing.T, root string) {
				wantType(t, root+"/x/in", 0)
				if st, _ := os.Stat(root + "/x"); st.Mode().Perm() != 0o711 {
					t.Errorf("mode %v, want 0711", st.Mode())
				}
			}},
		{"symlink over dir", []*tar.Header{dirH("x/"), reg("x/in"), symH("x", "/elsewhere")}, nil,
			func(t *testing.T, root string) { wantType(t, root+"/x", os.ModeSymlink) }},
		{"file over symlink replaces the link, not its target",
			[]*tar.Header{reg("target"), symH("l", "target"), reg("l")}, map[string]string{"target": "keep", "l": "new"},
			func(t *testing.T, root string) {
				wantContent(t, root+"/target", "keep")
				wantType(t, root+"/l", 0)
			}},
		{"implicit parents are created 0755", []*tar.Header{reg("a/b/c")}, nil,
			func(t *testing.T, root string) {
				if st, err := os.Stat(root + "/a/b"); err != nil || st.Mode().Perm() != 0o755 {
					t.Errorf("a/b: %v %v", st, err)
				}
			}},
		{"hard link shares the inode", []*tar.Header{reg("f"), linkH("g", "f")}, map[string]string{"f": "x"},
			func(t *testing.T, root string) {
				a, _ := os.Stat(root + "/f")
				b, _ := os.Stat(root + "/g")
				if !os.SameFile(a, b) {
					t.Error("g is not a hard link of f")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			must(t, extractBytes(t, tarOf(t, tc.hdrs, tc.data), root, ExtractOptions{Whiteouts: WhiteoutsApply}))
			tc.check(t, root)
		})
	}
}

func wantContent(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Errorf("%s = %q, %v; want %q", path, b, err, want)
	}
}

func wantType(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil || st.Mode().Type() != want {
		t.Errorf("%s: %v %v; want type %v", path, st, err, want)
	}
}

func TestExtractMetadata(t *testing.T) {
	testutil.RequireRoot(t)
	mt := t0
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: mt},
		{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o750, Uid: 3, Gid: 4, ModTime: mt},
		{Typeflag: tar.TypeReg, Name: "d/suid", Mode: 0o4755, Uid: 5, Gid: 6, ModTime: mt, Format: tar.FormatPAX,
			PAXRecords: map[string]string{
				paxXattrPrefix + "security.capability":    capV2(10),
				paxXattrPrefix + "user.ok":                "1",
				paxXattrPrefix + "trusted.overlay.opaque": "y",
				paxXattrPrefix + "user.overlay.redirect":  "/x",
				paxXattrPrefix + "trusted.evil":           "1",
			}},
		{Typeflag: tar.TypeSymlink, Name: "d/link", Linkname: "suid", Uid: 7, Gid: 8, ModTime: mt.Add(time.Hour)},
		{Typeflag: tar.TypeLink, Name: "d/hard", Linkname: "d/suid"},
	}
	root := filepath.Join(t.TempDir(), "new-root")
	must(t, extractBytes(t, tarOf(t, hdrs, nil), root, ExtractOptions{}))
	got := snapshotTree(t, root)
	want := map[string]node{
		"d": {Type: os.ModeDir, Perm: 0o750, UID: 3, GID: 4, Mtime: mt.UnixNano()},
		"d/suid": {Perm: 0o4755, UID: 5, GID: 6, Nlink: 2, Mtime: mt.UnixNano(), Data: got["d/suid"].Data,
			Xattrs: fmt.Sprintf("security.capability=%q;user.ok=%q;", capV2(10), "1")},
		"d/link": {Type: os.ModeSymlink, Perm: 0o777, UID: 7, GID: 8, Mtime: mt.Add(time.Hour).UnixNano(), Link: "suid"},
	}
	want["d/hard"] = want["d/suid"]
	// listXattrs/keepXattr hide overlay names from the snapshot; check them directly.
	diffTrees(t, want, got, false)
	if names, _ := llistxattr(root + "/d/suid"); len(names) != 2 {
		t.Errorf("xattrs on disk %v, want only security.capability and user.ok", names)
	}
	var st unix.Stat_t
	must(t, unix.Stat(root, &st))
	if st.Mode&0o7777 != 0o755 || st.Mtim.Nano() != mt.UnixNano() {
		t.Errorf("root: mode %o mtime %v; want the ./ entry's", st.Mode&0o7777, time.Unix(0, st.Mtim.Nano()))
	}
}

func TestExtractOverlayXattrsNotForged(t *testing.T) {
	testutil.RequireRoot(t)
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755, Format: tar.FormatPAX,
		PAXRecords: map[string]string{paxXattrPrefix + overlayOpaqueXattr: "y", paxXattrPrefix + "trusted.overlay.redirect": "/etc"}}
	root := t.TempDir()
	must(t, extractBytes(t, tarOf(t, []*tar.Header{hdr}, nil), root, ExtractOptions{}))
	if names, err := llistxattr(root + "/d"); err != nil || len(names) != 0 {
		t.Errorf("xattrs %v (%v); a tar must not set overlay xattrs", names, err)
	}
}

func TestExtractStreamErrors(t *testing.T) {
	good := tarOf(t, []*tar.Header{reg("a"), reg("b")}, map[string]string{"a": strings.Repeat("x", 1000), "b": "y"})
	badSum := bytes.Clone(good)
	badSum[148] ^= 1 // header checksum field
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"cut at an entry boundary", good[:len(good)-1024], "truncated"},
		{"cut after one zero block", good[:len(good)-512], "truncated"},
		{"cut inside data", good[:700], "unexpected EOF"},
		{"cut inside a header", good[:100], "unexpected EOF"},
		{"corrupt header", badSum, "invalid tar header"},
		{"empty stream", nil, "truncated"},
		{"gzip not decompressed", gzipOf(t, good), "read tar header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := extractBytes(t, tc.in, t.TempDir(), ExtractOptions{NoChown: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExtractCorruptCompressed(t *testing.T) {
	good := tarOf(t, []*tar.Header{reg("a")}, map[string]string{"a": strings.Repeat("hello ", 4000)})
	gz := gzipOf(t, good)
	flipped := bytes.Clone(gz)
	flipped[len(flipped)-6] ^= 0xff // CRC32 trailer
	for name, in := range map[string][]byte{"truncated gzip": gz[:len(gz)-20], "bad gzip checksum": flipped} {
		t.Run(name, func(t *testing.T) {
			rc, _, err := Decompress(bytes.NewReader(in))
			must(t, err)
			defer rc.Close()
			if err := Extract(context.Background(), rc, t.TempDir(), ExtractOptions{NoChown: true}); err == nil {
				t.Fatal("Extract succeeded on a corrupt stream")
			}
		})
	}
}

func gzipOf(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw, err := newCompressor(&buf, Gzip, 0)
	must(t, err)
	_, err = zw.Write(data)
	must(t, err)
	must(t, zw.Close())
	return buf.Bytes()
}

func TestExtractCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Extract(ctx, bytes.NewReader(tarOf(t, []*tar.Header{reg("a")}, nil)), t.TempDir(), ExtractOptions{NoChown: true})
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestExtractSkipDevices(t *testing.T) {
	testutil.RequireRoot(t)
	in := tarOf(t, []*tar.Header{{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3},
		{Typeflag: tar.TypeFifo, Name: "fifo"}}, nil)
	root := t.TempDir()
	must(t, extractBytes(t, in, root, ExtractOptions{SkipDevices: true}))
	if _, err := os.Lstat(root + "/null"); !os.IsNotExist(err) {
		t.Errorf("device created with SkipDevices: %v", err)
	}
	wantType(t, root+"/fifo", os.ModeNamedPipe)
}
