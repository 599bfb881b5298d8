package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
	"golang.org/x/sys/unix"
)

// FuzzExtract: whatever the bytes, Extract may fail but never changes anything outside
// its root. Run with: go test -fuzz=FuzzExtract -fuzztime=30s ./pkg/layers
func FuzzExtract(f *testing.F) {
	testutil.RequireRoot(f)
	testutil.RequireLandlock(f)
	seeds := [][]*tar.Header{
		{reg("../x")},
		{reg("a/../../x")},
		{reg("/abs")},
		{symH("a", "/"), reg("a/etc/passwd")},
		{symH("a", ".."), symH("b", "a/.."), reg("b/sentinel/passwd")},
		{dirH("sentinel/"), symH("up", "../sentinel"), reg("up/passwd")},
		{symH("up", "../sentinel"), reg("up/.wh.passwd"), reg("up/.wh..wh..opq")},
		{linkH("h", "../sentinel/passwd")},
		{symH("s", "../sentinel"), linkH("h", "s/passwd")},
		{reg(".wh..."), reg("a/.wh.."), reg(".wh.")},
		{dirH("d/"), reg("d/.wh..wh..opq"), reg("d/f"), reg("d/.wh.f"), linkH("g", "d/f")},
		{symH("d", "../sentinel"), dirH("d/"), reg("d/passwd")},
		{{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3}, {Typeflag: tar.TypeFifo, Name: "p"}},
	}
	for _, hdrs := range seeds {
		in := tarOf(f, hdrs, map[string]string{})
		f.Add(in, false)
		f.Add(in, true)
	}
	j := newJailIn(f, fastTempDir(f)) // one per process; each input gets a fresh root
	// apply flattens; otherwise each input is extracted as a layer dir of both formats.
	f.Fuzz(func(t *testing.T, data []byte, apply bool) {
		modes := []WhiteoutMode{WhiteoutsOverlay, WhiteoutsFiles}
		if apply {
			modes = []WhiteoutMode{WhiteoutsApply}
		}
		for _, mode := range modes {
			j.reset(t)
			err := testutil.Confined(j.parent, func() error {
				return Extract(context.Background(), bytes.NewReader(data), j.root, ExtractOptions{Whiteouts: mode})
			})
			if errors.Is(err, unix.EACCES) {
				t.Fatal(err)
			}
			j.check(t)
		}
	})
}

// fastTempDir prefers tmpfs: creating a file on this project's ext4 VMs costs ~1 ms, which
// would make fuzzing crawl.
func fastTempDir(f *testing.F) string {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil || st.Type != unix.TMPFS_MAGIC {
		return f.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "layers-fuzz-")
	must(f, err)
	f.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
