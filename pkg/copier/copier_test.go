package copier

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/testutil"
)

type patterns struct {
	pm *patternmatcher.PatternMatcher
}

func (p patterns) Excluded(rel string, _ bool) (bool, error) { return p.pm.MatchesOrParentMatches(rel) }
func (p patterns) CanSkipDir(string) bool                    { return !p.pm.Exclusions() }

func newPatterns(t *testing.T, ps ...string) Filter {
	pm, err := patternmatcher.New(ps)
	if err != nil {
		t.Fatal(err)
	}
	return patterns{pm}
}

// tree writes files: "path" → content; a trailing "/" makes a dir; "->target" a symlink.
func tree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(p, "/"):
			err := os.MkdirAll(full, 0o755)
			if err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(content, "->"):
			if err := os.Symlink(strings.TrimPrefix(content, "->"), full); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// listing describes a tree: "path type:content" lines, sorted.
func listing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" ->"+l)
		case fi.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+" "+string(b))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestCopy(t *testing.T) {
	testutil.RequireRoot(t)
	context := map[string]string{
		"a.txt":          "A",
		"b.txt":          "B",
		"c.log":          "C",
		"dir/x":          "X",
		"dir/sub/y":      "Y",
		"dir/inner-link": "->x",
		"outside":        "->/etc/passwd",
		"climb":          "->../../../../etc",
		"logs/keep.log":  "K",
		"logs/drop.log":  "D",
	}
	cases := []struct {
		name    string
		image   map[string]string
		srcs    []string
		dest    string
		filter  []string
		want    []string // the listing of the image root afterwards
		wantErr string
	}{
		{name: "file into dir", srcs: []string{"a.txt"}, dest: "/dst/",
			want: []string{"dst/", "dst/a.txt A"}},
		{name: "file to a new name", srcs: []string{"a.txt"}, dest: "/dst/renamed",
			want: []string{"dst/", "dst/renamed A"}},
		{name: "file into an existing dir without slash", image: map[string]string{"dst/": ""}, srcs: []string{"a.txt"}, dest: "/dst",
			want: []string{"dst/", "dst/a.txt A"}},
		{name: "dir contents, not the dir", srcs: []string{"dir"}, dest: "/app",
			want: []string{"app/", "app/inner-link ->x", "app/sub/", "app/sub/y Y", "app/x X"}},
		{name: "wildcard", srcs: []string{"*.txt"}, dest: "/w/",
			want: []string{"w/", "w/a.txt A", "w/b.txt B"}},
		{name: "empty wildcard beside a match", srcs: []string{"*.none", "a.txt"}, dest: "/w/",
			want: []string{"w/", "w/a.txt A"}},
		{name: "empty wildcard alone", srcs: []string{"*.none"}, dest: "/w/", wantErr: "not found"},
		{name: "missing file", srcs: []string{"nope"}, dest: "/w/", wantErr: "not found"},
		{name: "several sources need a dir dest", srcs: []string{"a.txt", "b.txt"}, dest: "/w", wantErr: "must be a directory"},
		{name: "climbing out of the context", srcs: []string{"../a.txt"}, dest: "/", wantErr: "outside the build context"},
		{name: "a context symlink to an absolute path stays in the context", srcs: []string{"outside"}, dest: "/o/", wantErr: "not found"},
		{name: "a context symlink climbing out stays in the context", srcs: []string{"climb/passwd"}, dest: "/o/", wantErr: "not found"},
		{name: "symlinked destination dir is followed inside the root",
			image: map[string]string{"real/": "", "app": "->/real"}, srcs: []string{"a.txt"}, dest: "/app/",
			want: []string{"app ->/real", "real/", "real/a.txt A"}},
		{name: "a destination symlink escaping the root is clamped",
			image: map[string]string{"esc": "->../../../../../tmp"}, srcs: []string{"a.txt"}, dest: "/esc/",
			want: []string{"esc ->../../../../../tmp", "tmp/", "tmp/a.txt A"}},
		{name: "a symlink in the image where a dir is copied is an error, not a way out",
			image: map[string]string{"dst/sub": "->/etc"}, srcs: []string{"dir"}, dest: "/dst",
			wantErr: "non-directory /dst/sub"},
		{name: "dockerignore hides files, exceptions come back", filter: []string{"*.log", "logs", "!logs/keep.log"},
			srcs: []string{"."}, dest: "/ctx",
			want: []string{"ctx/", "ctx/a.txt A", "ctx/b.txt B", "ctx/climb ->../../../../etc", "ctx/dir/", "ctx/dir/inner-link ->x",
				"ctx/dir/sub/", "ctx/dir/sub/y Y", "ctx/dir/x X", "ctx/logs/", "ctx/logs/keep.log K", "ctx/outside ->/etc/passwd"}},
		{name: "an ignored file cannot be copied by name", filter: []string{"*.log"}, srcs: []string{"c.log"}, dest: "/", wantErr: "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			ctxDir, root := filepath.Join(base, "ctx"), filepath.Join(base, "root")
			tree(t, ctxDir, context)
			os.MkdirAll(root, 0o755)
			tree(t, root, tc.image)
			sentinel := filepath.Join(base, "tmp")
			opts := Options{Context: true}
			if tc.filter != nil {
				opts.Filter = newPatterns(t, tc.filter...)
			}
			err := Copy(t.Context(), Request{SrcRoot: ctxDir, Srcs: tc.srcs, DstRoot: root, Dest: tc.dest}, opts)
			if _, serr := os.Lstat(sentinel); serr == nil {
				t.Fatalf("the copy wrote outside the root: %s exists", sentinel)
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

func TestCopyMetadata(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, root := filepath.Join(base, "src"), filepath.Join(base, "root")
	tree(t, src, map[string]string{"bin/tool": "#!/bin/sh", "bin/data": "d"})
	os.MkdirAll(root, 0o755)
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	tool := filepath.Join(src, "bin/tool")
	os.Chown(tool, 1000, 1001)
	unix.Chmod(tool, 0o4751) // after chown, which clears setuid
	os.Chtimes(tool, mtime, mtime)
	if err := os.Link(tool, filepath.Join(src, "bin/tool-link")); err != nil {
		t.Fatal(err)
	}
	stat := func(p string) *syscall.Stat_t {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t)
	}

	// From another stage: owners and modes kept, hardlinks kept.
	if err := Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{"bin"}, DstRoot: root, Dest: "/stage/"}, Options{}); err != nil {
		t.Fatal(err)
	}
	st := stat("stage/tool")
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o4751 || st.Mtim.Nano() != mtime.UnixNano() {
		t.Errorf("stage/tool: uid %d gid %d mode %o mtime %d; want 1000 1001 4751 %d", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Nano(), mtime.UnixNano())
	}
	if link := stat("stage/tool-link"); link.Ino != st.Ino {
		t.Error("a hardlink pair in the source became two files")
	}

	// From the context: root-owned; --chown and --chmod apply to created dirs too.
	if err := Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{"bin/tool"}, DstRoot: root, Dest: "/ctx/"}, Options{Context: true}); err != nil {
		t.Fatal(err)
	}
	if st := stat("ctx/tool"); st.Uid != 0 || st.Gid != 0 || st.Mode&0o7777 != 0o4751 {
		t.Errorf("ctx/tool: uid %d gid %d mode %o; want 0 0 4751", st.Uid, st.Gid, st.Mode&0o7777)
	}
	mode := os.FileMode(0o640)
	err := Copy(context.Background(), Request{SrcRoot: src, Srcs: []string{"bin/data"}, DstRoot: root, Dest: "/owned/deep/"},
		Options{Context: true, Chown: &Owner{UID: 7, GID: 8}, Mode: &mode})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"owned", "owned/deep", "owned/deep/data"} {
		if st := stat(p); st.Uid != 7 || st.Gid != 8 || st.Mode&0o7777 != 0o640 {
			t.Errorf("%s: uid %d gid %d mode %o; want 7 8 640", p, st.Uid, st.Gid, st.Mode&0o7777)
		}
	}
}

func TestCopyCancelled(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	tree(t, filepath.Join(base, "src"), map[string]string{"f": "f"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Copy(ctx, Request{SrcRoot: filepath.Join(base, "src"), Srcs: []string{"f"}, DstRoot: base, Dest: "/out/"}, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
