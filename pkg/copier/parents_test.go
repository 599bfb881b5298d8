package copier

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
)

// The cases follow BuildKit's dockerfile_parents_test.go and exclude_patterns_test.go.
func TestCopyParentsAndExclude(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireLandlock(t)
	context := map[string]string{
		"x/a.txt":      "XA",
		"x/b.log":      "XB",
		"x/y/c.txt":    "XYC",
		"x/y/z/d.txt":  "XYZD",
		"w/a.txt":      "WA",
		"top.txt":      "T",
		"dir1/f1.png":  "1",
		"dir1/f2.txt":  "2",
		"dir2/f3.pdf":  "3",
		"dir2/f4.png":  "4",
		"dir2/s/f.png": "5",
		"esc":          "->../../../..",
	}
	cases := []struct {
		name    string
		srcs    []string
		dest    string
		parents bool
		exclude []string
		want    []string
		wantErr string
	}{
		{name: "parents keep the whole path", parents: true, srcs: []string{"x/y/c.txt", "w/a.txt"}, dest: "/out/",
			want: []string{"out/", "out/w/", "out/w/a.txt WA", "out/x/", "out/x/y/", "out/x/y/c.txt XYC"}},
		{name: "parents with a pivot", parents: true, srcs: []string{"x/./y/z/d.txt"}, dest: "/out",
			want: []string{"out/", "out/y/", "out/y/z/", "out/y/z/d.txt XYZD"}},
		{name: "parents with a leading ./", parents: true, srcs: []string{"./top.txt"}, dest: "/out/",
			want: []string{"out/", "out/top.txt T"}},
		{name: "parents with wildcards", parents: true, srcs: []string{"*/a.txt"}, dest: "/out/",
			want: []string{"out/", "out/w/", "out/w/a.txt WA", "out/x/", "out/x/a.txt XA"}},
		{name: "parents with **", parents: true, srcs: []string{"x/**/*.txt"}, dest: "/out/",
			want: []string{"out/", "out/x/", "out/x/a.txt XA", "out/x/y/", "out/x/y/c.txt XYC", "out/x/y/z/", "out/x/y/z/d.txt XYZD"}},
		{name: "parents of a directory copy it whole", parents: true, srcs: []string{"x/y"}, dest: "/out/",
			want: []string{"out/", "out/x/", "out/x/y/", "out/x/y/c.txt XYC", "out/x/y/z/", "out/x/y/z/d.txt XYZD"}},
		{name: "parents of a missing path", parents: true, srcs: []string{"x/nope"}, dest: "/out/", wantErr: "not found"},
		{name: "parents cannot climb out", parents: true, srcs: []string{"../x/a.txt"}, dest: "/out/", wantErr: "outside the build context"},
		{name: "parents pivot cannot climb out", parents: true, srcs: []string{"x/./../../a"}, dest: "/out/", wantErr: "outside the build context"},
		{name: "parents through a symlink stay inside", parents: true, srcs: []string{"esc/./etc/passwd"}, dest: "/out/", wantErr: "not found"},
		{name: "parents and exclude", parents: true, srcs: []string{"x"}, exclude: []string{"**/*.txt"}, dest: "/out/",
			want: []string{"out/", "out/x/", "out/x/b.log XB", "out/x/y/", "out/x/y/z/"}}, // directories stay
		{name: "exclude inside a directory source", srcs: []string{"."}, exclude: []string{"*/*.png", "esc"}, dest: "/1/",
			want: []string{"1/", "1/dir1/", "1/dir1/f2.txt 2", "1/dir2/", "1/dir2/f3.pdf 3", "1/dir2/s/", "1/dir2/s/f.png 5",
				"1/top.txt T", "1/w/", "1/w/a.txt WA", "1/x/", "1/x/a.txt XA", "1/x/b.log XB", "1/x/y/", "1/x/y/c.txt XYC",
				"1/x/y/z/", "1/x/y/z/d.txt XYZD"}},
		{name: "exclude is relative to each wildcard match", srcs: []string{"dir*"}, exclude: []string{"*.png"}, dest: "/4/",
			want: []string{"4/", "4/f2.txt 2", "4/f3.pdf 3", "4/s/", "4/s/f.png 5"}},
		{name: "exclude with an exception", srcs: []string{"dir2"}, exclude: []string{"**/*.png", "!s/f.png"}, dest: "/e/",
			want: []string{"e/", "e/f3.pdf 3", "e/s/", "e/s/f.png 5"}},
		{name: "exclude never hides the source itself", srcs: []string{"top.txt"}, exclude: []string{"*.txt"}, dest: "/t/",
			want: []string{"t/", "t/top.txt T"}},
		{name: "exclude everything", srcs: []string{"dir1"}, exclude: []string{"*"}, dest: "/n/", want: []string{"n/"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			ctxDir, root := filepath.Join(base, "ctx"), filepath.Join(base, "root")
			tree(t, ctxDir, context)
			os.MkdirAll(root, 0o755)
			var err error
			cerr := testutil.Confined(root, func() error {
				err = Copy(t.Context(), Request{SrcRoot: ctxDir, Srcs: tc.srcs, DstRoot: root, Dest: tc.dest},
					Options{Context: true, Parents: tc.parents, Exclude: tc.exclude})
				return nil
			})
			if cerr != nil {
				t.Fatal(cerr)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := listing(t, root); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("image root:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// The parents --parents recreates keep their own metadata, as BuildKit's createParentDirs.
func TestCopyParentsMetadata(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, root := filepath.Join(base, "src"), filepath.Join(base, "root")
	tree(t, src, map[string]string{"p/q/f": "F"})
	mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chmod(filepath.Join(src, "p"), 0o710)
	os.Chown(filepath.Join(src, "p"), 5, 6)
	os.Chtimes(filepath.Join(src, "p"), mtime, mtime)
	os.MkdirAll(root, 0o755)
	if err := Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{"p/q/f"}, DstRoot: root, Dest: "/o/"}, Options{Parents: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, "o/p"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Mode&0o7777 != 0o710 || st.Uid != 5 || st.Gid != 6 || !fi.ModTime().Equal(mtime) {
		t.Errorf("o/p: mode %o owner %d:%d mtime %v; want 710 5:6 %v", st.Mode&0o7777, st.Uid, st.Gid, fi.ModTime(), mtime)
	}
}
