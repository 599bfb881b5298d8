package mountinfo

import (
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/internal/testutil"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/t\011ab\134`: "/t\tab\\", `/short\04`: `/short\04`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnder: nested tmpfs mounts under a dir whose name needs escaping come back
// unescaped, children first; a sibling with the same prefix is left out.
func TestUnder(t *testing.T) {
	testutil.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "a dir")
	inner := filepath.Join(dir, "inner")
	sibling := dir + "-sibling"
	for _, p := range []string{dir, sibling} {
		if err := unix.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", p, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(p, unix.MNT_DETACH) })
	}
	if err := unix.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(inner, unix.MNT_DETACH) })
	got, err := Under(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{inner, dir}; !slices.Equal(got, want) {
		t.Errorf("Under(%q) = %q, want %q", dir, got, want)
	}
}
