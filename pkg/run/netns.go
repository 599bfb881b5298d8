package run

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetNS is a network namespace held open by this process, with loopback up. It
// lives as long as its file is open or a process is inside it; nothing is
// mounted for it, so nothing is left behind when the holder dies.
//
// A container joins it through Network(); the holder can then reach the
// container's servers with Dial, which is how published ports are forwarded
// without a bridge (rootlesskit's builtin port driver design).
type NetNS struct {
	f *os.File
}

// NewNetNS creates a network namespace and brings its loopback up.
func NewNetNS() (*NetNS, error) {
	var f *os.File
	err := onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("create network namespace: %w", err)
		}
		var err error
		if f, err = os.Open("/proc/thread-self/ns/net"); err != nil {
			return fmt.Errorf("create network namespace: %w", err)
		}
		if err := loopbackUp(); err != nil {
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &NetNS{f: f}, nil
}

// Network is the NetworkMode that makes a container join n. The path stays
// valid while this process holds n open.
func (n *NetNS) Network() NetworkMode { return NetworkMode(n.Path()) }

// Path names the namespace for other processes (a container's init, slirp4netns).
func (n *NetNS) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), n.f.Fd()) }

// File is the open namespace file, e.g. to pass to a child process.
func (n *NetNS) File() *os.File { return n.f }

// Close releases the namespace; it disappears once no process is inside it.
func (n *NetNS) Close() error { return n.f.Close() }

// Do runs fn on an OS thread that is inside the namespace. Sockets fn creates
// belong to the namespace and keep working from any thread afterwards.
func (n *NetNS) Do(fn func() error) error {
	return onThread(func() error {
		if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return fn()
	})
}

// onThread runs fn on a locked OS thread and puts the thread back in the
// network namespace it started in. Only a thread back home may serve other
// goroutines: if that fails it stays locked, and Go retires it when the
// goroutine ends.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("network namespace of this thread: %w", err)
			return
		}
		defer orig.Close()
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// AddTap creates a persistent tap device (IFF_TAP|IFF_NO_PI, single queue) called name
// in the namespace, down and unconfigured, for a user-mode network stack such as
// slirp4netns to attach to by name.
//
// Persistent, because of how it goes away: a tap device that its last user's close
// unregisters makes that close wait for the kernel's RCU grace periods (about 20 ms
// here, the largest part of a short container's private-network cost), and whoever
// waits for the user's exit pays them. A persistent one is removed with the namespace,
// by the kernel's own cleanup worker after the last holder is gone; nobody waits.
func (n *NetNS) AddTap(name string) error {
	return n.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("create tap device %s: %w", name, err)
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return fmt.Errorf("create tap device %s: %w", name, err)
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("create tap device %s: %w", name, err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1); err != nil {
			return fmt.Errorf("make tap device %s persistent: %w", name, err)
		}
		return nil
	})
}

// Dial connects to addr from inside the namespace.
func (n *NetNS) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// loopbackUp sets IFF_UP on "lo" in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: set flags: %w", err)
	}
	return nil
}
