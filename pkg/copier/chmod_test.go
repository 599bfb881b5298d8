package copier

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

func TestParseChmodApply(t *testing.T) {
	cases := []struct {
		spec  string
		mode  uint32
		dir   bool
		want  uint32
		error string
	}{
		{spec: "0755", mode: 0o600, want: 0o755},
		{spec: "4755", mode: 0o600, want: 0o4755},
		{spec: "755", mode: 0o600, want: 0o755},
		{spec: "u+x", mode: 0o644, want: 0o744},
		{spec: "+x", mode: 0o644, want: 0o755},
		{spec: "a+x", mode: 0o644, want: 0o755},
		{spec: "g-w", mode: 0o664, want: 0o644},
		{spec: "go-rwx", mode: 0o755, want: 0o700},
		{spec: "u=rw,go=r", mode: 0o777, want: 0o644},
		{spec: "u=rwX,go=rX", mode: 0o600, want: 0o644},
		{spec: "u=rwX,go=rX", mode: 0o700, want: 0o755},
		{spec: "u=rwX,go=rX", mode: 0o600, dir: true, want: 0o755},
		{spec: "a=", mode: 0o755, want: 0},
		{spec: "o=u", mode: 0o750, want: 0o757},
		{spec: "g=u-w", mode: 0o700, want: 0o750},
		{spec: "u+s", mode: 0o755, want: 0o4755},
		{spec: "g+s", mode: 0o755, want: 0o2755},
		{spec: "+t", mode: 0o777, dir: true, want: 0o1777},
		{spec: "o+t", mode: 0o777, want: 0o777}, // BSD: "o" alone ignores sticky
		{spec: "u+x,g+x", mode: 0o600, want: 0o710},
		{spec: "g+X", mode: 0o600, want: 0o600},
		{spec: "u+x,g+X", mode: 0o600, want: 0o700}, // X looks at the original mode
		{spec: "10000", error: "between 0 and 07777"},
		{spec: "9", error: "octal"},
		{spec: "u", error: "missing"},
		{spec: "u+q", error: "unexpected"},
		{spec: "z+x", error: "unexpected"},
		{spec: "", error: "octal"},
	}
	for _, tc := range cases {
		c, err := ParseChmod(tc.spec)
		if tc.error != "" {
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("ParseChmod(%q) err = %v, want one containing %q", tc.spec, err, tc.error)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseChmod(%q): %v", tc.spec, err)
			continue
		}
		if got := c.apply(tc.mode, tc.dir); got != tc.want {
			t.Errorf("%q on %o (dir %v) = %o, want %o", tc.spec, tc.mode, tc.dir, got, tc.want)
		}
	}
}

func TestCopySymbolicChmod(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, root := filepath.Join(base, "src"), filepath.Join(base, "root")
	tree(t, src, map[string]string{"d/run.sh": "#!/bin/sh", "d/data": "x"})
	os.Chmod(filepath.Join(src, "d/run.sh"), 0o744)
	os.Chmod(filepath.Join(src, "d"), 0o750)
	os.MkdirAll(root, 0o755)
	ch, err := ParseChmod("go=rX")
	if err != nil {
		t.Fatal(err)
	}
	err = Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{"d"}, DstRoot: root, Dest: "/new/deep/"}, Options{Context: true, Chmod: ch})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]uint32{
		"new": 0o755, "new/deep": 0o755, // created parents: 0755 with a symbolic mode
		"new/deep/run.sh": 0o755, "new/deep/data": 0o644,
	} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Sys().(*syscall.Stat_t).Mode & 0o7777; got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
}
