package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var httpdConfig = v1.Config{
	Cmd:          []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
	ExposedPorts: map[string]struct{}{"8080/tcp": {}},
}

// fetch GETs url until it answers or the deadline passes (the server starts after the
// container does).
func fetch(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDetachedLifecycle is the seed walkthrough through the library: run -d -p, fetch,
// ps, logs, stop, rm.
func TestDetachedLifecycle(t *testing.T) {
	m := newManager(t)
	busybox(t, m, "bb:1", httpdConfig, map[string]string{"/www/index.html": "hello from bb\n"})
	port := freePort(t)
	ctx := context.Background()
	res, err := m.Run(ctx, RunOptions{Image: "bb:1", Name: "bb", Detach: true, Publish: []string{fmt.Sprintf("127.0.0.1:%d:8080", port)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "hello from bb\n" {
		t.Errorf("GET / = %q", got)
	}
	var ps strings.Builder
	if err := m.Ps(ctx, &ps, PsOptions{}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("127.0.0.1:%d->8080/tcp", port)
	if !strings.Contains(ps.String(), res.ID[:12]) || !strings.Contains(ps.String(), "Up ") || !strings.Contains(ps.String(), want) {
		t.Errorf("ps output lacks the container, its status or its port %s:\n%s", want, ps.String())
	}
	if err := m.Stop(ctx, "bb", time.Second); err != nil {
		t.Fatal(err)
	}
	c, err := m.get("bb")
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Status != StatusExited || c.State.ExitCode != 137 {
		t.Errorf("after stop: status %s, exit %d; want exited, 137 (httpd ignores SIGTERM as pid 1)", c.State.Status, c.State.ExitCode)
	}
	if err := m.Remove(ctx, "bb", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m, res.ID, "bb")
}
