// Package e2e drives the built binaries the way a user does: real containers, real overlay
// mounts, real registries, and independent tools (skopeo, umoci) reading what we wrote.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds bin/builder and bin/runner: $DOCKYARD_BIN (make e2e sets it), or a fresh
// build into a temp dir.
var binDir string

func TestMain(m *testing.M) {
	binDir = os.Getenv("DOCKYARD_BIN")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "dockyard-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		for _, b := range []string{"builder", "runner"} {
			cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", filepath.Join(dir, b), "./cmd/"+b)
			cmd.Dir = ".."
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "build", b, err)
				os.Exit(1)
			}
		}
		binDir = dir
	}
	os.Exit(m.Run())
}
