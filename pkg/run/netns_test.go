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
	"golang.org/x/sys/unix"
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

// TestNetNSAddTap: the tap device is there for a user to attach to by name, stays after
// that user is gone (it is persistent) and never shows in the host's namespace.
func TestNetNSAddTap(t *testing.T) {
	testutil.RequireRoot(t)
	ns, err := NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := ns.AddTap("tap0"); err != nil {
		t.Fatal(err)
	}
	exists := func() (up bool, err error) {
		err = ns.Do(func() error {
			ifc, err := net.InterfaceByName("tap0")
			if err != nil {
				return err
			}
			up = ifc.Flags&net.FlagUp != 0
			return nil
		})
		return up, err
	}
	if up, err := exists(); err != nil || up {
		t.Fatalf("after AddTap: up=%v, err=%v; want a down tap0", up, err)
	}
	// A user attaches by name, as slirp4netns does, and leaves.
	if err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq("tap0")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}); err != nil {
		t.Fatalf("attach to tap0: %v", err)
	}
	if _, err := exists(); err != nil {
		t.Errorf("tap0 gone once its user closed it: %v", err)
	}
	if _, err := net.InterfaceByName("tap0"); err == nil {
		t.Error("tap0 shows in the host's namespace")
	}
}
