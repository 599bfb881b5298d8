package e2e

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/testutil"
)

// Deletions of files and dirs, replaced (opaque) dirs, with one old mtime that a marker
// file in the opaque dir must not change, and parents copied up unmodified.
const overlayfsDockerfile = `FROM busybox
RUN rm /bin/vi && rm -r /var/www && rm /usr/bin/wget
RUN rm -rf /usr/sbin && mkdir /usr/sbin && echo x > /usr/sbin/x && touch -t 200201020304 /usr/sbin
RUN mkdir -p /opt/a/b && echo 1 > /opt/a/b/f
RUN rm -rf /opt/a && mkdir /opt/a && touch -t 200201020304 /opt/a
`

// On top of the first image, whose layer dirs are extracted again from the blobs: the
// deletions and opaque dirs of the layers below must show in the root.
const overlayfsDockerfile2 = `FROM deletes:1
RUN test ! -e /bin/vi && test ! -e /var/www && test ! -e /usr/bin/wget && test -e /bin/ls
RUN test "$(ls -A /usr/sbin)" = x && test -z "$(ls -A /opt/a)" && rm /usr/sbin/x
`

// TestBuildOnOverlayfsStore puts a store on a real overlayfs mount, as a CI job inside a
// container has it, where neither whiteout devices nor overlay xattrs can be made. The
// copy snapshotter is chosen, the store keeps its layer dirs in the oci format, and the
// images are the same, layer for layer, as those the overlay snapshotter builds on a
// plain store.
func TestBuildOnOverlayfsStore(t *testing.T) {
	testutil.RequireRoot(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	rootfs := testutil.BusyboxRootfs(t)
	setTreeTimes(t, rootfs, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	merged := testutil.Overlayfs(t)
	stores := map[string]struct {
		e           *env
		snapshotter string
		format      string
	}{
		"plain":     {envWithStore(t, filepath.Join(t.TempDir(), "store"), rootfs), "overlay", "overlay"},
		"overlayfs": {envWithStore(t, filepath.Join(merged, "store"), rootfs), "auto", "oci"},
	}
	images := map[string]map[string][]v1.Hash{} // store → ref → diffIDs
	for name, st := range stores {
		images[name] = map[string][]v1.Hash{}
		st.e.must(st.e.build("deletes:1", overlayfsDockerfile, nil, "--snapshotter", st.snapshotter))
		images[name]["deletes:1"] = st.e.config("deletes:1").RootFS.DiffIDs
		if got := strings.TrimSpace(readFile(t, filepath.Join(st.e.root, "layer-format"))); got != st.format {
			t.Errorf("%s store: layer format %q, want %s", name, got, st.format)
		}
		// Layer dirs are a cache of the blobs: the next build extracts them again.
		dirs, _ := filepath.Glob(filepath.Join(st.e.root, "layers", "*"))
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
		}
		st.e.must(st.e.build("deletes:2", overlayfsDockerfile2, nil, "--snapshotter", st.snapshotter))
		images[name]["deletes:2"] = st.e.config("deletes:2").RootFS.DiffIDs
		st.e.fsck()
		assertNoLeftovers(t, st.e)
	}
	for _, ref := range []string{"deletes:1", "deletes:2"} {
		plain, ovfs := images["plain"][ref], images["overlayfs"][ref]
		if !slices.Equal(plain, ovfs) {
			t.Errorf("%s: diffIDs on overlayfs %v, on a plain store %v", ref, ovfs, plain)
		}
		for i := 1; i < len(plain); i++ {
			want := layerHeaders(t, stores["plain"].e, ref, i)
			if got := layerHeaders(t, stores["overlayfs"].e, ref, i); !slices.Equal(got, want) {
				t.Errorf("%s layer %d on overlayfs:\n%s\non a plain store:\n%s", ref, i, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
	// The test proves something only if the layers hold whiteouts and opaque dirs.
	whiteouts := map[int][]string{1: {"bin/.wh.vi", "usr/bin/.wh.wget", "var/.wh.www"},
		2: {"usr/sbin/.wh..wh..opq"}, 4: {"opt/a/.wh..wh..opq"}}
	for i, want := range whiteouts {
		got := layerHeaders(t, stores["overlayfs"].e, "deletes:1", i)
		for _, w := range want {
			if !slices.ContainsFunc(got, func(h string) bool { return strings.HasPrefix(h, w+" ") }) {
				t.Errorf("layer %d lacks %s:\n%s", i, w, strings.Join(got, "\n"))
			}
		}
	}
	rootfsOut := stores["overlayfs"].e.unpack("deletes:2")
	for p, want := range map[string]bool{"bin/ls": true, "bin/vi": false, "var/www": false, "usr/sbin/x": false, "usr/sbin": true, "opt/a/b": false} {
		if _, err := os.Lstat(filepath.Join(rootfsOut, p)); (err == nil) != want {
			t.Errorf("umoci's rootfs: %s exists: %v, want %v", p, err == nil, want)
		}
	}
	if r := stores["overlayfs"].e.build("forced:1", "FROM busybox\nRUN true\n", nil, "--snapshotter", "overlay"); r.code == 0 || !strings.Contains(r.stderr, "oci format") {
		t.Errorf("--snapshotter overlay on an oci-format store:\n%s", r)
	}
	// The runner refuses such a store up front instead of failing on a mount.
	ovfs := stores["overlayfs"].e
	if r := ovfs.run("runner", "", "--run-dir", t.TempDir(), "run", "--rm", "deletes:2", "true"); r.code != 125 || !strings.Contains(r.stderr, "oci-format layers") {
		t.Errorf("runner run on an oci-format store:\n%s", r)
	}
	assertNoLeftovers(t, ovfs)
}

// envWithStore imports rootfs as busybox into a store at root.
func envWithStore(t *testing.T, root, rootfs string) *env {
	t.Helper()
	e := &env{t: t, root: root, dir: t.TempDir()}
	e.must(e.builder("import", "-c", `CMD ["sh"]`, rootfs, "busybox:latest"))
	return e
}

// setTreeTimes gives every entry below root (links themselves included) this mtime.
func setTreeTimes(t *testing.T, root string, mt time.Time) {
	t.Helper()
	ts := unix.NsecToTimespec(mt.UnixNano())
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// layerHeaders lists layer i of a stored image as one line per tar entry: name, type,
// mode, owner, size, mtime, link target, xattrs.
func layerHeaders(t *testing.T, e *env, ref string, i int) []string {
	t.Helper()
	rc := storedLayer(t, e, ref, i)
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s layer %d: %v", ref, i, err)
		}
		out = append(out, fmt.Sprintf("%s %c %o %d:%d %d %s %q %v", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid,
			h.Size, h.ModTime.UTC().Format(time.RFC3339Nano), h.Linkname, h.PAXRecords))
	}
}
