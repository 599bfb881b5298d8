package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// entry is a tar header reduced to what a layer promises, plus small file contents.
type entry struct {
	Name   string
	Type   byte
	Mode   int64
	UID    int
	GID    int
	Size   int64
	Link   string
	Major  int64
	Minor  int64
	Xattrs map[string]string
	Data   string
	Mtime  time.Time
}

// readEntries parses a tar and checks the invariants every header must meet.
func readEntries(t testing.TB, data []byte) []entry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		// Go writes a bare ustar header (valid PAX) when no record is needed.
		if hdr.Format&(tar.FormatPAX|tar.FormatUSTAR) == 0 {
			t.Errorf("%s: format %v, want PAX or its ustar subset", hdr.Name, hdr.Format)
		}
		if !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: atime/ctime/uname/gname set: %v %v %q %q", hdr.Name, hdr.AccessTime, hdr.ChangeTime, hdr.Uname, hdr.Gname)
		}
		if strings.HasPrefix(hdr.Name, "/") || strings.HasPrefix(hdr.Name, "./") || strings.HasPrefix(hdr.Linkname, "/") && hdr.Typeflag == tar.TypeLink {
			t.Errorf("%s: absolute or dotted name/linkname %q", hdr.Name, hdr.Linkname)
		}
		e := entry{Name: hdr.Name, Type: hdr.Typeflag, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size,
			Link: hdr.Linkname, Major: hdr.Devmajor, Minor: hdr.Devminor, Mtime: hdr.ModTime}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, paxXattrPrefix); ok {
				if e.Xattrs == nil {
					e.Xattrs = map[string]string{}
				}
				e.Xattrs[name] = v
			}
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", hdr.Name, err)
		}
		if len(b) <= 64 {
			e.Data = string(b)
		} else {
			e.Data = fmt.Sprintf("sha256:%x", sha256.Sum256(b))
		}
		out = append(out, e)
	}
}

func names(es []entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func writeTarBytes(t testing.TB, dir string, opts WriteOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTar(context.Background(), dir, &buf, opts); err != nil {
		t.Fatalf("WriteTar %s: %v", dir, err)
	}
	return buf.Bytes()
}

// tarOf builds a tar from headers; a header's data is taken from data[name].
func tarOf(t testing.TB, hdrs []*tar.Header, data map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		var d string
		if h.Typeflag == tar.TypeReg {
			d = data[h.Name]
			h.Size = int64(len(d))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		h.Format = tar.FormatPAX // keep nanoseconds
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, d); err != nil {
			t.Fatalf("tar data %s: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reg(name string) *tar.Header { return &tar.Header{Typeflag: tar.TypeReg, Name: name} }
func dirH(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}
}
func symH(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}
}
func linkH(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(data), mode))
	must(t, os.Chmod(path, mode))
}

func setMtime(t testing.TB, path string, mt time.Time) {
	t.Helper()
	ts := unix.NsecToTimespec(mt.UnixNano())
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
}

// capV2 is a security.capability value (VFS_CAP_REVISION_2, effective) granting one cap.
func capV2(bit uint) string {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000000|1)
	binary.LittleEndian.PutUint32(b[4:], 1<<bit)
	return string(b)
}

// node is what a path looks like on disk, for comparing trees.
type node struct {
	Type   fs.FileMode
	Perm   uint32 // permission and setuid/setgid/sticky bits
	UID    uint32
	GID    uint32
	Rdev   uint64
	Nlink  uint64 // regular files only
	Mtime  int64  // ns, of the entry itself (lstat)
	Link   string
	Data   string
	Xattrs string // allow-listed xattrs, sorted
}

// snapshotTree records every path below root (root itself excluded).
func snapshotTree(t testing.TB, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := node{Type: d.Type(), Perm: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid, Rdev: st.Rdev,
			Mtime: st.Mtim.Nano()}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			n.Nlink = st.Nlink
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n.Data = fmt.Sprintf("%x", sha256.Sum256(b))
		case unix.S_IFLNK:
			n.Link, _ = os.Readlink(p)
		}
		vals, names, err := listXattrs(p)
		if err != nil {
			return err
		}
		for _, name := range names {
			if keepXattr(name) {
				n.Xattrs += fmt.Sprintf("%s=%q;", name, vals[name])
			}
		}
		out[rel] = n
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return out
}

// diffTrees reports paths whose nodes differ; ignoreDirMtime skips directory mtimes.
func diffTrees(t testing.TB, want, got map[string]node, ignoreDirMtime bool) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("missing %s", p)
			continue
		}
		if ignoreDirMtime && w.Type.IsDir() {
			w.Mtime, g.Mtime = 0, 0
		}
		if w != g {
			t.Errorf("%s differs:\n want %+v\n got  %+v", p, w, g)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected %s", p)
		}
	}
}
