package testutil

import (
	"testing"

	"golang.org/x/sys/unix"
)

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestConfinedBlocksOutside(t *testing.T) {
	RequireLandlock(t)
	inside, outside := t.TempDir(), t.TempDir()
	mustOK(t, Confined(inside, func() error { return unix.Mkdir(inside+"/ok", 0o755) }))
	err := Confined(inside, func() error { return unix.Mkdir(outside+"/escaped", 0o755) })
	if err == nil {
		t.Fatal("landlock let the confined thread write outside its dir")
	}
	// The restriction died with its thread: this goroutine may write anywhere.
	mustOK(t, unix.Mkdir(outside+"/after", 0o755))
}
