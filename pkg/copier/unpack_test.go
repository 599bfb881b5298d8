package copier

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/dockyard/dockyard/internal/testutil"
)

// tarball writes entries in order: {name, body}; a body "->x" is a symlink to x.
func tarball(t *testing.T, gz bool, entries ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		name, body := e[0], e[1]
		hdr := &tar.Header{Name: name, Mode: 0o640, Size: int64(len(body)), Typeflag: tar.TypeReg, Uid: 42, Gid: 43}
		if strings.HasPrefix(body, "->") {
			hdr = &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: strings.TrimPrefix(body, "->")}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func TestAddUnpacksArchives(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, root := filepath.Join(base, "src"), filepath.Join(base, "root")
	os.MkdirAll(src, 0o755)
	os.MkdirAll(filepath.Join(root, "dest"), 0o755)
	os.WriteFile(filepath.Join(root, "dest", "existing"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(src, "app.tar.gz"), tarball(t, true, [2]string{"bin/app", "APP"}, [2]string{".wh.keep", "literal"}), 0o644)
	os.WriteFile(filepath.Join(src, "plain.tar"), tarball(t, false, [2]string{"p", "P"}, [2]string{"link", "->/etc"}), 0o644)
	os.WriteFile(filepath.Join(src, "notes.txt"), []byte("not an archive"), 0o644)

	err := Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{"app.tar.gz", "plain.tar", "notes.txt"}, DstRoot: root, Dest: "/dest/"},
		Options{Context: true, Unpack: true})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"dest/bin/app": "APP", "dest/.wh.keep": "literal", "dest/p": "P", "dest/notes.txt": "not an archive", "dest/existing": "x"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	fi, err := os.Lstat(filepath.Join(root, "dest/bin/app"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 42 || st.Gid != 43 {
		t.Errorf("an unpacked file keeps the archive's owner: got %d:%d, want 42:43", st.Uid, st.Gid)
	}
	if _, err := os.Lstat(filepath.Join(root, "dest/app.tar.gz")); err == nil {
		t.Error("the archive itself was copied instead of unpacked")
	}

	// --chown owns what the archive held, and only that.
	os.WriteFile(filepath.Join(src, "own.tar"), tarball(t, false, [2]string{"o", "O"}), 0o644)
	err = Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{"own.tar"}, DstRoot: root, Dest: "/dest/"},
		Options{Context: true, Unpack: true, Chown: &Owner{UID: 7, GID: 8}})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]uint32{"dest/o": 7, "dest/existing": 0} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != want {
			t.Errorf("%s owned by %d, want %d", p, st.Uid, want)
		}
	}
}

func TestAddArchiveCannotEscape(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, root := filepath.Join(base, "src"), filepath.Join(base, "root")
	os.MkdirAll(src, 0o755)
	os.MkdirAll(root, 0o755)
	os.WriteFile(filepath.Join(src, "evil.tar"), tarball(t, false, [2]string{"up", "->../../.."}, [2]string{"up/escaped", "E"}), 0o644)
	Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{"evil.tar"}, DstRoot: root, Dest: "/d/"}, Options{Unpack: true})
	if _, err := os.Lstat(filepath.Join(base, "escaped")); err == nil {
		t.Fatal("an archive entry written through a symlink escaped the destination")
	}
}
