package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
	"golang.org/x/sys/unix"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func TestWriteTar(t *testing.T) {
	testutil.RequireRoot(t) // chown, mknod, trusted.* and security.* xattrs
	tests := []struct {
		name  string
		setup func(t *testing.T, d string)
		want  []entry // compared without Mtime
	}{
		{
			name: "regular files and dirs, depth first, sorted",
			setup: func(t *testing.T, d string) {
				writeFile(t, d+"/top", "x", 0o644)
				writeFile(t, d+"/a/b/f", "hello", 0o640)
				must(t, os.Lchown(d+"/a/b/f", 1000, 2000))
				must(t, os.Chmod(d+"/a", 0o750))
				must(t, os.Chmod(d+"/a/b", 0o700))
				writeFile(t, d+"/a/c", "", 0o600)
			},
			want: []entry{
				{Name: "a/", Type: tar.TypeDir, Mode: 0o750},
				{Name: "a/b/", Type: tar.TypeDir, Mode: 0o700},
				{Name: "a/b/f", Type: tar.TypeReg, Mode: 0o640, UID: 1000, GID: 2000, Size: 5, Data: "hello"},
				{Name: "a/c", Type: tar.TypeReg, Mode: 0o600},
				{Name: "top", Type: tar.TypeReg, Mode: 0o644, Size: 1, Data: "x"},
			},
		},
		{
			name: "symlinks keep their target verbatim",
			setup: func(t *testing.T, d string) {
				must(t, os.Symlink("../../etc/passwd", d+"/rel"))
				must(t, os.Symlink("/etc/passwd", d+"/abs"))
				must(t, os.Lchown(d+"/abs", 7, 8))
			},
			want: []entry{
				{Name: "abs", Type: tar.TypeSymlink, Mode: 0o777, UID: 7, GID: 8, Link: "/etc/passwd"},
				{Name: "rel", Type: tar.TypeSymlink, Mode: 0o777, Link: "../../etc/passwd"},
			},
		},
		{
			name: "hardlinks: first name in walk order has the data",
			setup: func(t *testing.T, d string) {
				writeFile(t, d+"/b/second", "data", 0o644)
				must(t, os.Mkdir(d+"/a", 0o755))
				must(t, os.Link(d+"/b/second", d+"/a/first"))
				must(t, os.Link(d+"/b/second", d+"/z"))
			},
			want: []entry{
				{Name: "a/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "a/first", Type: tar.TypeReg, Mode: 0o644, Size: 4, Data: "data"},
				{Name: "b/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "b/second", Type: tar.TypeLink, Mode: 0o644, Link: "a/first"},
				{Name: "z", Type: tar.TypeLink, Mode: 0o644, Link: "a/first"},
			},
		},
		{
			name: "fifo, devices kept, socket skipped",
			setup: func(t *testing.T, d string) {
				must(t, unix.Mkfifo(d+"/fifo", 0o620))
				must(t, unix.Mknod(d+"/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
				must(t, unix.Mknod(d+"/loop0", unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
				must(t, os.Chmod(d+"/fifo", 0o620))
				must(t, os.Chmod(d+"/null", 0o666))
				must(t, os.Chmod(d+"/loop0", 0o660))
				makeSocket(t, d+"/sock")
			},
			want: []entry{
				{Name: "fifo", Type: tar.TypeFifo, Mode: 0o620},
				{Name: "loop0", Type: tar.TypeBlock, Mode: 0o660, Major: 7, Minor: 0},
				{Name: "null", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
			},
		},
		{
			name: "setuid, setgid, sticky",
			setup: func(t *testing.T, d string) {
				writeFile(t, d+"/suid", "", 0o644)
				writeFile(t, d+"/sgid", "", 0o644)
				must(t, os.Mkdir(d+"/tmp", 0o755))
				must(t, unix.Chmod(d+"/suid", 0o4755))
				must(t, unix.Chmod(d+"/sgid", 0o2711))
				must(t, unix.Chmod(d+"/tmp", 0o1777))
			},
			want: []entry{
				{Name: "sgid", Type: tar.TypeReg, Mode: 0o2711},
				{Name: "suid", Type: tar.TypeReg, Mode: 0o4755},
				{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
			},
		},
		{
			name: "xattrs: allow-list only",
			setup: func(t *testing.T, d string) {
				writeFile(t, d+"/ping", "", 0o755)
				must(t, unix.Lsetxattr(d+"/ping", "security.capability", []byte(capV2(13)), 0))
				must(t, unix.Lsetxattr(d+"/ping", "user.foo", []byte("bar"), 0))
				must(t, unix.Lsetxattr(d+"/ping", "user.overlay.x", []byte("1"), 0))
				must(t, unix.Lsetxattr(d+"/ping", "trusted.overlay.origin", []byte("o"), 0))
				must(t, unix.Lsetxattr(d+"/ping", "trusted.other", []byte("t"), 0))
				if err := unix.Lsetxattr(d+"/ping", "security.selinux", []byte("system_u:object_r:bin_t:s0"), 0); err != nil {
					t.Logf("security.selinux not settable here (%v); only the others are checked", err)
				}
			},
			want: []entry{
				{Name: "ping", Type: tar.TypeReg, Mode: 0o755,
					Xattrs: map[string]string{"security.capability": capV2(13), "user.foo": "bar"}},
			},
		},
		{
			name: "whiteouts and opaque dir: marker, then whiteouts, then children",
			setup: func(t *testing.T, d string) {
				must(t, os.Mkdir(d+"/d", 0o755))
				must(t, unix.Setxattr(d+"/d", overlayOpaqueXattr, []byte("y"), 0))
				must(t, unix.Setxattr(d+"/d", "trusted.overlay.impure", []byte("y"), 0))
				writeFile(t, d+"/d/b", "b", 0o644)
				writeFile(t, d+"/d/c/x", "x", 0o644)
				must(t, os.Chmod(d+"/d/c", 0o755))
				for _, n := range []string{"/d/a", "/d/zz", "/gone"} {
					must(t, unix.Mknod(d+n, unix.S_IFCHR, 0))
					must(t, os.Lchown(d+n, 1, 1)) // whiteout headers ignore it
				}
			},
			want: []entry{
				{Name: ".wh.gone", Type: tar.TypeReg},
				{Name: "d/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "d/.wh..wh..opq", Type: tar.TypeReg},
				{Name: "d/.wh.a", Type: tar.TypeReg},
				{Name: "d/.wh.zz", Type: tar.TypeReg},
				{Name: "d/b", Type: tar.TypeReg, Mode: 0o644, Size: 1, Data: "b"},
				{Name: "d/c/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "d/c/x", Type: tar.TypeReg, Mode: 0o644, Size: 1, Data: "x"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			tc.setup(t, d)
			got := readEntries(t, writeTarBytes(t, d, WriteOptions{}))
			for i := range got {
				got[i].Mtime = time.Time{}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries:\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func makeSocket(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	must(t, err)
	defer unix.Close(fd)
	must(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
}

func TestWriteTarTimes(t *testing.T) {
	d := t.TempDir()
	old := t0
	future := t0.Add(1000 * time.Hour)
	writeFile(t, d+"/old", "o", 0o644)
	writeFile(t, d+"/new", "n", 0o644)
	must(t, os.Symlink("old", d+"/link"))
	setMtime(t, d+"/old", old)
	setMtime(t, d+"/new", future)
	setMtime(t, d+"/link", future)
	if os.Geteuid() == 0 {
		must(t, unix.Mknod(d+"/wh", unix.S_IFCHR, 0))
		setMtime(t, d+"/wh", future)
	}
	epoch := t0.Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name string
		opts WriteOptions
		want map[string]time.Time
	}{
		{"nanoseconds kept", WriteOptions{}, map[string]time.Time{"old": old, "new": future, "link": future, ".wh.wh": whiteoutTime}},
		{"SourceDateEpoch clamps later mtimes only", WriteOptions{SourceDateEpoch: &epoch},
			map[string]time.Time{"old": old, "new": epoch, "link": epoch, ".wh.wh": whiteoutTime}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, e := range readEntries(t, writeTarBytes(t, d, tc.opts)) {
				if !e.Mtime.Equal(tc.want[e.Name]) {
					t.Errorf("%s: mtime %v, want %v", e.Name, e.Mtime, tc.want[e.Name])
				}
			}
		})
	}
}

// buildTree makes the same tree in any dir, metadata included, so that two copies must
// give byte-identical tars.
func buildTree(t *testing.T, d string) {
	writeFile(t, d+"/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
	writeFile(t, d+"/bin/tool", strings.Repeat("binary", 1000), 0o755)
	must(t, os.Symlink("tool", d+"/bin/alias"))
	must(t, os.Link(d+"/bin/tool", d+"/bin/hard"))
	must(t, unix.Lsetxattr(d+"/bin/tool", "user.k", []byte("v"), 0))
	for _, p := range []string{"/etc/passwd", "/bin/tool", "/bin/alias", "/etc", "/bin"} {
		setMtime(t, d+p, t0)
	}
	must(t, os.Chmod(d+"/etc", 0o755))
	must(t, os.Chmod(d+"/bin", 0o755))
}

func TestWriteTarDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	buildTree(t, a)
	buildTree(t, b)
	first := writeTarBytes(t, a, WriteOptions{})
	if again := writeTarBytes(t, a, WriteOptions{}); !bytes.Equal(first, again) {
		t.Error("two writes of one dir differ")
	}
	if other := writeTarBytes(t, b, WriteOptions{}); !bytes.Equal(first, other) {
		t.Errorf("same tree in two dirs differs:\n%v\n%v", readEntries(t, first), readEntries(t, other))
	}
}

func TestWriteTarErrors(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, d string) string
		want  string
	}{
		{"not a dir", func(t *testing.T, d string) string {
			writeFile(t, d+"/f", "", 0o644)
			return d + "/f"
		}, "not a directory"},
		{"missing", func(t *testing.T, d string) string { return d + "/nope" }, "no such file"},
		{"redirect_dir upper", func(t *testing.T, d string) string {
			must(t, os.Mkdir(d+"/moved", 0o755))
			must(t, unix.Setxattr(d+"/moved", overlayRedirectXattr, []byte("/orig"), 0))
			return d
		}, "redirect_dir=off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t, t.TempDir())
			err := WriteTar(context.Background(), dir, &bytes.Buffer{}, WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestWriteTarCancel(t *testing.T) {
	d := t.TempDir()
	buildTree(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteTar(ctx, d, &bytes.Buffer{}, WriteOptions{}); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestWriteTarHuge checks a file over 8 GiB (the ustar size limit) gets a PAX size.
func TestWriteTarHuge(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 8 GiB")
	}
	d := t.TempDir()
	const size = 8<<30 + 1
	f, err := os.Create(filepath.Join(d, "big"))
	must(t, err)
	must(t, f.Truncate(size)) // sparse: costs no disk
	must(t, f.Close())
	pw := &prefixWriter{keep: 4096}
	must(t, WriteTar(context.Background(), d, pw, WriteOptions{}))
	hdr, err := tar.NewReader(bytes.NewReader(pw.prefix)).Next()
	must(t, err)
	if hdr.Size != size || hdr.PAXRecords["size"] != "8589934593" {
		t.Fatalf("size %d, PAX records %v; want %d as a PAX record", hdr.Size, hdr.PAXRecords, int64(size))
	}
	// PAX header + its record block + ustar header + data padded + end marker.
	if want := int64(3*512) + (size+511)&^511 + 1024; pw.n != want {
		t.Fatalf("tar is %d bytes, want %d", pw.n, want)
	}
}

// prefixWriter keeps the first keep bytes and counts the rest.
type prefixWriter struct {
	keep   int
	prefix []byte
	n      int64
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if room := w.keep - len(w.prefix); room > 0 {
		w.prefix = append(w.prefix, p[:min(room, len(p))]...)
	}
	w.n += int64(len(p))
	return len(p), nil
}
