package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

func testShell(t *testing.T) *shell {
	t.Helper()
	p, err := exec.LookPath("time")
	if err != nil {
		testutil.Missing(t, "GNU time (Debian's time package): %v", err)
	}
	return &shell{timeBin: p, tmp: t.TempDir()}
}

// The peak RSS is the command's, not this process's: Go's vfork would otherwise hand our
// high-water mark to every child.
func TestRunRSSIsTheChilds(t *testing.T) {
	sh := testShell(t)
	ballast := make([]byte, 200<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	small, err := sh.run(context.Background(), command("true"))
	if err != nil {
		t.Fatal(err)
	}
	if small.rss == 0 || small.rss > 50<<20 {
		t.Errorf("rss of true = %d, want a few MB (the 200 MB of this process leaked in?)", small.rss)
	}
	big, err := sh.run(context.Background(), command("sh", "-c", `x=$(head -c 40000000 /dev/zero | tr '\0' a); echo ${#x}`))
	if err != nil {
		t.Fatal(err)
	}
	if big.rss < 40<<20 {
		t.Errorf("rss of a shell holding 40 MB = %d", big.rss)
	}
	if ballast[len(ballast)-1] != 1 || big.wall <= 0 {
		t.Fatal("unreachable")
	}
}

func TestRunFailure(t *testing.T) {
	sh := testShell(t)
	_, err := sh.run(context.Background(), command("sh", "-c", "echo the reason; exit 3"))
	if err == nil || !strings.Contains(err.Error(), "the reason") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("err = %v, want the exit status and the output", err)
	}
}

func TestTail(t *testing.T) {
	if got := tail([]byte("short"), 10); got != "short" {
		t.Errorf("tail = %q", got)
	}
	if got := tail([]byte("line one\nline two\nline three"), 14); got != "…line three" {
		t.Errorf("tail = %q, want it cut at a line start", got)
	}
}
