package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dockyard/dockyard/pkg/run"
)

// bindPorts opens a socket for every binding, so that a port in use fails the command
// that asked for it. The returned bindings carry the actual host ports, and files[i]
// is the socket of bindings[i], to hand to the supervisor.
func bindPorts(bs []PortBinding) (bound []PortBinding, files []*os.File, err error) {
	defer func() {
		if err != nil {
			closeFiles(files)
			files = nil
		}
	}()
	for _, b := range bs {
		addr := net.JoinHostPort(b.HostIP, strconv.Itoa(b.HostPort))
		var f *os.File
		switch b.Proto {
		case "udp":
			pc, lerr := net.ListenPacket("udp", addr)
			if lerr != nil {
				return nil, files, fmt.Errorf("bind for %s/udp failed: %w", addr, lerr)
			}
			b.HostPort = pc.LocalAddr().(*net.UDPAddr).Port
			f, err = pc.(*net.UDPConn).File()
			pc.Close()
		default:
			l, lerr := net.Listen("tcp", addr)
			if lerr != nil {
				return nil, files, fmt.Errorf("bind for %s failed: %w", addr, lerr)
			}
			b.HostPort = l.Addr().(*net.TCPAddr).Port
			f, err = l.(*net.TCPListener).File()
			l.Close()
		}
		if err != nil {
			return nil, files, fmt.Errorf("bind for %s: %w", addr, err)
		}
		bound = append(bound, b)
		files = append(files, f)
	}
	return bound, files, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

// forwarder relays the connections of published ports into a network namespace.
type forwarder struct {
	ns     *run.NetNS
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closers []io.Closer
}

func newForwarder(ns *run.NetNS) *forwarder {
	ctx, cancel := context.WithCancel(context.Background())
	return &forwarder{ns: ns, ctx: ctx, cancel: cancel}
}

func (fw *forwarder) track(c io.Closer) {
	fw.mu.Lock()
	fw.closers = append(fw.closers, c)
	fw.mu.Unlock()
}

// serve starts forwarding the socket f (from bindPorts) to b's container port.
func (fw *forwarder) serve(b PortBinding, f *os.File) error {
	defer f.Close()
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.ContainerPort))
	if b.Proto == "udp" {
		pc, err := net.FilePacketConn(f)
		if err != nil {
			return fmt.Errorf("port %s: %w", b, err)
		}
		fw.track(pc)
		fw.wg.Add(1)
		go func() { defer fw.wg.Done(); fw.udp(pc, target) }()
		return nil
	}
	l, err := net.FileListener(f)
	if err != nil {
		return fmt.Errorf("port %s: %w", b, err)
	}
	fw.track(l)
	fw.wg.Add(1)
	go func() { defer fw.wg.Done(); fw.tcp(l, target) }()
	return nil
}

func (fw *forwarder) tcp(l net.Listener, target string) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: do not spin
			continue
		}
		go fw.relayTCP(c, target)
	}
}

// relayTCP splices a host connection to the container port. A refused dial (nothing
// listens yet) closes the host connection, as a refused connect would.
func (fw *forwarder) relayTCP(c net.Conn, target string) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(fw.ctx, 10*time.Second)
	inner, err := fw.ns.Dial(ctx, "tcp", target)
	cancel()
	if err != nil {
		return
	}
	defer inner.Close()
	stop := context.AfterFunc(fw.ctx, func() { c.Close(); inner.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(inner, c) // splice(2) between TCP sockets
		closeWrite(inner)
		close(done)
	}()
	_, _ = io.Copy(c, inner)
	closeWrite(c)
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

const udpIdle = 60 * time.Second

// udp relays datagrams: each client address gets its own socket inside the namespace,
// connected to the container port, dropped after a minute without traffic.
func (fw *forwarder) udp(pc net.PacketConn, target string) {
	var mu sync.Mutex
	sessions := map[string]net.Conn{}
	buf := make([]byte, 64<<10)
	for {
		n, client, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				mu.Lock()
				for _, s := range sessions {
					s.Close()
				}
				mu.Unlock()
				return
			}
			continue
		}
		key := client.String()
		mu.Lock()
		s := sessions[key]
		mu.Unlock()
		if s == nil {
			if s, err = fw.ns.Dial(fw.ctx, "udp", target); err != nil {
				continue
			}
			mu.Lock()
			sessions[key] = s
			mu.Unlock()
			go func() {
				fw.udpReplies(s, pc, client)
				mu.Lock()
				delete(sessions, key)
				mu.Unlock()
				s.Close()
			}()
		}
		_ = s.SetReadDeadline(time.Now().Add(udpIdle))
		_, _ = s.Write(buf[:n])
	}
}

func (fw *forwarder) udpReplies(s net.Conn, pc net.PacketConn, client net.Addr) {
	buf := make([]byte, 64<<10)
	for {
		_ = s.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := s.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue // ICMP port unreachable: nothing listens yet
		}
		if err != nil {
			return // idle, or closed
		}
		if _, err := pc.WriteTo(buf[:n], client); err != nil {
			return
		}
	}
}

// close stops accepting and cuts every relayed connection.
func (fw *forwarder) close() {
	fw.cancel()
	fw.mu.Lock()
	for _, c := range fw.closers {
		c.Close()
	}
	fw.mu.Unlock()
	fw.wg.Wait()
}
