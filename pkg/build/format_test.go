package build

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/snapshot"
	"github.com/dockyard/dockyard/pkg/store"
)

// A snapshotter handed in for the other layer dir format than the store's would commit
// dirs the store's next extraction and write misread: Build refuses before any step.
func TestBuildRefusesASnapshotterOfAnotherFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other := layers.DirOCI
	if s.LayerFormat() == layers.DirOCI {
		other = layers.DirOverlay
	}
	sn, err := snapshot.NewCopy(filepath.Join(dir, "work"), other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), Options{Store: s, Snapshotter: sn, ContextDir: dir,
		Dockerfile: []byte("FROM scratch\nCOPY . /\n"), DockerfileName: "Dockerfile"})
	if err == nil || !strings.Contains(err.Error(), "the store keeps "+s.LayerFormat().String()) {
		t.Errorf("Build = %v; want a refusal naming the store's format", err)
	}
}
