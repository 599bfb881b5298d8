package layers

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
	"golang.org/x/sys/unix"
)

// jail is an extraction root with a sentinel dir beside it that no tar may touch.
type jail struct {
	parent, root, sentinel string
	before                 map[string]node
}

func newJail(t testing.TB) *jail { return newJailIn(t, t.TempDir()) }

func newJailIn(t testing.TB, parent string) *jail {
	t.Helper()
	j := &jail{parent: parent, root: filepath.Join(parent, "root"), sentinel: filepath.Join(parent, "sentinel")}
	must(t, os.Mkdir(j.root, 0o755))
	writeFile(t, j.sentinel+"/passwd", "secret", 0o644)
	j.before = j.outside(t)
	return j
}

// outside records everything in the jail but the root: the sentinel tree (with the link
// count of its file) and any entry next to the root.
func (j *jail) outside(t testing.TB) map[string]node {
	t.Helper()
	out := map[string]node{}
	for p, n := range snapshotTree(t, j.sentinel) {
		out["sentinel/"+p] = n
	}
	entries, err := os.ReadDir(j.parent)
	must(t, err)
	for _, e := range entries {
		if e.Name() != "root" {
			out[e.Name()] = node{Type: e.Type()}
		}
	}
	return out
}

// check fails if anything outside the root changed.
func (j *jail) check(t testing.TB) {
	t.Helper()
	if after := j.outside(t); !reflect.DeepEqual(j.before, after) {
		t.Fatalf("outside the root changed:\n before %+v\n after  %+v", j.before, after)
	}
	if names, err := llistxattr(j.sentinel); err != nil || len(names) != 0 {
		t.Fatalf("sentinel dir xattrs %v (%v)", names, err)
	}
}

// reset gives the jail an empty root again.
func (j *jail) reset(t testing.TB) {
	t.Helper()
	must(t, os.RemoveAll(j.root))
	must(t, os.Mkdir(j.root, 0o755))
}

func TestExtractStaysInRoot(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireLandlock(t)
	apply := ExtractOptions{Whiteouts: WhiteoutsApply}
	overlay := ExtractOptions{}
	files := ExtractOptions{Whiteouts: WhiteoutsFiles}
	// S is replaced by the sentinel's absolute path in names and link targets.
	const S = "@S"
	tests := []struct {
		name    string
		opts    ExtractOptions
		hdrs    []*tar.Header
		wantErr string                      // entry the error must name; "" means success
		inside  func(t *testing.T, j *jail) // what a successful extraction made
	}{
		{name: "dotdot prefix", hdrs: []*tar.Header{reg("../x")}, wantErr: `"../x"`},
		{name: "dotdot in the middle", hdrs: []*tar.Header{reg("a/../../x")}, wantErr: `"a/../../x"`},
		{name: "harmless dotdot still refused", hdrs: []*tar.Header{reg("a/../b")}, wantErr: `"a/../b"`},
		{name: "absolute name is clamped", hdrs: []*tar.Header{reg("/abs")},
			inside: exists("abs")},
		{name: "absolute name of the sentinel", hdrs: []*tar.Header{reg(S + "/passwd")},
			inside: exists(S + "/passwd")},
		{name: "symlink to / then through it", hdrs: []*tar.Header{symH("a", "/"), reg("a/etc/passwd")},
			inside: exists("etc/passwd")},
		{name: "symlink to the sentinel then through it", hdrs: []*tar.Header{reg(S + "/x"), symH("s", S), reg("s/passwd")},
			inside: exists(S + "/passwd")},
		// A dangling symlink parent is refused (pathrs-lite does not create through it).
		{name: "dangling symlink to the sentinel", hdrs: []*tar.Header{symH("s", S), reg("s/passwd")}, wantErr: `"s/passwd"`},
		{name: "symlink dotdot chain", hdrs: []*tar.Header{symH("a", ".."), symH("b", "a/.."), symH("c", "b/../../.."), reg("c/x")},
			inside: exists("x")},
		{name: "relative symlink up to the sentinel", hdrs: []*tar.Header{dirH("sentinel/"), symH("up", "../sentinel"), reg("up/passwd")},
			inside: exists("sentinel/passwd")},
		{name: "dir replaces a symlinked parent", hdrs: []*tar.Header{symH("d", S), dirH("d/"), reg("d/f")},
			inside: exists("d/f")},
		{name: "file replaces a symlink to outside", hdrs: []*tar.Header{symH("d", S+"/passwd"), reg("d")},
			inside: exists("d")},
		{name: "hard link dotdot", hdrs: []*tar.Header{linkH("h", "../../etc/passwd")}, wantErr: `"h"`},
		{name: "hard link to the sentinel by absolute name", hdrs: []*tar.Header{linkH("h", S+"/passwd")}, wantErr: `"h"`},
		{name: "hard link through a symlink to the sentinel", hdrs: []*tar.Header{symH("s", S), linkH("h", "s/passwd")}, wantErr: `"h"`},
		{name: "hard link to a symlink links the symlink", hdrs: []*tar.Header{symH("s", S+"/passwd"), linkH("h", "s")},
			inside: exists("h")},
		{name: "whiteout of dotdot", opts: apply, hdrs: []*tar.Header{reg("a/.wh...")}, wantErr: `"a/.wh..."`},
		{name: "whiteout of dot", opts: apply, hdrs: []*tar.Header{reg(".wh..")}, wantErr: `".wh.."`},
		{name: "whiteout of nothing", opts: overlay, hdrs: []*tar.Header{reg(".wh.")}, wantErr: `".wh."`},
		{name: "whiteout of dotdot, overlay", opts: overlay, hdrs: []*tar.Header{reg(".wh...")}, wantErr: `".wh..."`},
		{name: "whiteout through a symlink", opts: apply, hdrs: []*tar.Header{symH("s", S), reg("s/.wh.passwd")}},
		{name: "whiteout through a dotdot symlink", opts: apply, hdrs: []*tar.Header{symH("s", "../sentinel"), reg("s/.wh.passwd")}},
		{name: "opaque through a symlink", opts: apply, hdrs: []*tar.Header{symH("s", S), reg("s/.wh..wh..opq")}},
		// Names are matched literally, so "s/keep" counts as lower content: all is cleared.
		{name: "opaque through a symlink to /", opts: apply, hdrs: []*tar.Header{reg("keep"), symH("s", "/"), reg("s/.wh..wh..opq")}},
		{name: "overlay whiteout through a symlink", opts: overlay, hdrs: []*tar.Header{dirH(S + "/"), symH("s", S), reg("s/.wh.passwd")},
			inside: exists(S + "/passwd")},
		{name: "overlay whiteout through a dangling symlink", opts: overlay, hdrs: []*tar.Header{symH("s", S), reg("s/.wh.passwd")},
			wantErr: `"s/.wh.passwd"`},
		{name: "overlay opaque through a symlink", opts: overlay, hdrs: []*tar.Header{dirH("sentinel/"), symH("s", "../sentinel"), reg("s/.wh..wh..opq")},
			inside: opaqueDir("sentinel")},
		{name: "oci whiteout of dotdot", opts: files, hdrs: []*tar.Header{reg(".wh...")}, wantErr: `".wh..."`},
		{name: "oci whiteout through a symlink", opts: files, hdrs: []*tar.Header{dirH(S + "/"), symH("s", S), reg("s/.wh.passwd")},
			inside: exists(S + "/.wh.passwd")},
		{name: "oci whiteout through a dangling symlink", opts: files, hdrs: []*tar.Header{symH("s", S), reg("s/.wh.passwd")},
			wantErr: `"s/.wh.passwd"`},
		{name: "oci opaque through a dotdot symlink", opts: files, hdrs: []*tar.Header{dirH("sentinel/"), symH("s", "../sentinel"), reg("s/.wh..wh..opq")},
			inside: exists("sentinel/.wh..wh..opq")},
		{name: "oci whiteout of a symlink to outside", opts: files, hdrs: []*tar.Header{symH("x", S+"/passwd"), reg(".wh.x")},
			inside: exists(".wh.x")},
		{name: "oci hard link to a marker", opts: files, hdrs: []*tar.Header{reg(".wh.x"), linkH("h", ".wh.x")}, wantErr: `"h"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			for _, h := range tc.hdrs {
				h.Name = strings.ReplaceAll(h.Name, S, j.sentinel)
				h.Linkname = strings.ReplaceAll(h.Linkname, S, j.sentinel)
			}
			in := tarOf(t, tc.hdrs, map[string]string{})
			err := testutil.Confined(j.parent, func() error { return extractBytes(t, in, j.root, tc.opts) })
			j.check(t)
			if errors.Is(err, unix.EACCES) {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			must(t, err)
			if tc.inside != nil {
				tc.inside(t, j)
			}
		})
	}
}

// exists checks that rel (with @S for the sentinel's path) was created inside the root.
func exists(rel string) func(t *testing.T, j *jail) {
	return func(t *testing.T, j *jail) {
		t.Helper()
		p := filepath.Join(j.root, strings.ReplaceAll(rel, "@S", j.sentinel))
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatalf("want %s inside the root: %v", rel, err)
		}
	}
}

func opaqueDir(rel string) func(t *testing.T, j *jail) {
	return func(t *testing.T, j *jail) {
		t.Helper()
		if v, err := lgetxattr(filepath.Join(j.root, rel), overlayOpaqueXattr); err != nil || string(v) != "y" {
			t.Fatalf("%s inside the root: opaque xattr %q, %v", rel, v, err)
		}
	}
}
