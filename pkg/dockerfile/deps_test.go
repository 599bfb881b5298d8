package dockerfile

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// TestNoCgoOrRuncDependency keeps the package pure: it must build without cgo and never
// drag in runc (the executor's business), so it stays cheap to fuzz and to import.
func TestNoCgoOrRuncDependency(t *testing.T) {
	gobin := testutil.RequireBinary(t, "go")
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("unexpected go list line %q", line)
		}
		pkg, std, cgoFiles := f[0], f[1] == "true", f[2]
		switch {
		case strings.Contains(pkg, "opencontainers/runc"):
			t.Errorf("depends on %s", pkg)
		case pkg == "runtime/cgo" || (!std && cgoFiles != "0"):
			t.Errorf("depends on cgo through %s", pkg)
		}
	}
}
