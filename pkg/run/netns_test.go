package run

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dockyard/dockyard/internal/testutil"
)

// TestNetNSDial runs a server in a container joined to a NetNS and reaches it
// from the host through Dial, the way published ports are forwarded.
func TestNetNSDial(t *testing.T) {
	testutil.RequireRoot(t)
	hostNS, _ := os.Readlink("/proc/self/ns/net")
	ns, err := NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	s, out := newSpec(t, "sh", "-c", `echo ready; echo hello | nc -l -p 7070`)
	s.Network = ns.Network()
	ready := out.await("ready")
	c, err := Create(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	p, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	<-ready
	var conn net.Conn
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil { // the listener comes up shortly after "ready"
		if conn, err = ns.Dial(ctx, "tcp", "127.0.0.1:7070"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if conn == nil {
		t.Fatalf("dial into namespace: %v", err)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	if strings.TrimSpace(string(got)) != "hello" {
		t.Errorf("read %q from the container, want hello", got)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	// Do put its thread back: the process is still in the host namespace.
	if now, _ := os.Readlink("/proc/self/ns/net"); now != hostNS || now == "" {
		t.Errorf("process network namespace changed: %q -> %q", hostNS, now)
	}
}
