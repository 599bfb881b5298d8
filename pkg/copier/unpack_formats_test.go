package copier

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// ADD extracts local tars in every compression docker reads; each archive is made by the
// command-line tool, not by the library that reads it.
func TestAddUnpacksEveryCompression(t *testing.T) {
	testutil.RequireRoot(t)
	plain := tarball(t, false, [2]string{"inside", "INSIDE"})
	for _, tc := range []struct{ tool, ext string }{
		{"gzip", "gz"}, {"bzip2", "bz2"}, {"xz", "xz"}, {"zstd", "zst"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			bin := testutil.RequireBinary(t, tc.tool)
			cmd := exec.Command(bin, "-c")
			cmd.Stdin = bytes.NewReader(plain)
			packed, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", tc.tool, err)
			}
			base := t.TempDir()
			src, root := filepath.Join(base, "src"), filepath.Join(base, "root")
			os.MkdirAll(src, 0o755)
			os.MkdirAll(root, 0o755)
			name := "a.tar." + tc.ext
			if err := os.WriteFile(filepath.Join(src, name), packed, 0o644); err != nil {
				t.Fatal(err)
			}
			err = Copy(t.Context(), Request{SrcRoot: src, Srcs: []string{name}, DstRoot: root, Dest: "/d/"}, Options{Context: true, Unpack: true})
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(root, "d/inside")); err != nil || string(b) != "INSIDE" {
				t.Errorf("d/inside = %q, %v; want the archive's file", b, err)
			}
			if _, err := os.Lstat(filepath.Join(root, "d", name)); err == nil {
				t.Error("the archive was copied instead of extracted")
			}
		})
	}
}
