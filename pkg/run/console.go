package run

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// consoleSocket is the socket pair over which libcontainer's init sends the pty master.
type consoleSocket struct {
	parent, child *os.File
	done          chan consoleResult
}

type consoleResult struct {
	master *os.File
	err    error
}

func newConsoleSocket() (*consoleSocket, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create console socket pair: %w", err)
	}
	cs := &consoleSocket{
		parent: os.NewFile(uintptr(fds[1]), "console-parent"),
		child:  os.NewFile(uintptr(fds[0]), "console-child"),
		done:   make(chan consoleResult, 1),
	}
	// Receive concurrently: init sends the master in the middle of its setup, while
	// libcontainer's Start is still waiting for init.
	go func() {
		f, err := recvMaster(cs.parent)
		cs.done <- consoleResult{f, err}
	}()
	return cs, nil
}

// wait returns the pty master once init has sent it. Call it after Start succeeded.
func (cs *consoleSocket) wait() (*os.File, error) {
	cs.child.Close() // our copy; init has its own
	r := <-cs.done
	cs.parent.Close()
	return r.master, r.err
}

// close releases the sockets after a failed Start: init is gone, so closing our copy
// of the child end makes the receiver see EOF.
func (cs *consoleSocket) close() {
	cs.child.Close()
	if r := <-cs.done; r.master != nil {
		r.master.Close()
	}
	cs.parent.Close()
}

// recvMaster receives the pty master sent with SCM_RIGHTS (the sender puts the
// file's name in the payload); adapted from runc's internal/cmsg.RecvFile. The
// master is returned non-blocking, on Go's poller, so reads can be interrupted.
func recvMaster(socket *os.File) (*os.File, error) {
	const maxNameLen = 4096
	name := make([]byte, maxNameLen)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(socket.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, errors.New("receive pty master: container init closed the console socket")
	}
	scms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	var fds []int
	for i := range scms {
		if got, err := unix.ParseUnixRights(&scms[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive pty master: got %d file descriptors, want 1", len(fds))
	}
	return newMaster(fds[0], string(name[:n]))
}

// newMaster wraps the received master fd. The pty keeps its default termios
// (ONLCR on, so output lines end in "\r\n"), as with docker: runc clears ONLCR,
// which makes a raw host terminal staircase.
func newMaster(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pty master %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// ttyIO copies between a pty master and the caller's streams.
type ttyIO struct {
	master *os.File
	stdout io.Writer
	copied chan struct{} // closed when the output copy stopped
}

func startTTY(master *os.File, stdin io.Reader, stdout io.Writer) *ttyIO {
	if stdout == nil {
		stdout = io.Discard
	}
	t := &ttyIO{master: master, stdout: stdout, copied: make(chan struct{})}
	if stdin != nil {
		go func() { _, _ = io.Copy(master, stdin) }()
	}
	go func() {
		defer close(t.copied)
		_, _ = io.Copy(stdout, master) // ends with EIO once no one holds the slave
	}()
	return t
}

// finish, called once the process has exited, stops the output copy without waiting
// for other holders of the pty slave (an exec'd shell's background jobs), then
// drains what is still buffered and closes the master. The kernel flushes pending
// pty input before a read reports "empty", so nothing the process wrote is lost.
func (t *ttyIO) finish() {
	_ = t.master.SetReadDeadline(time.Now())
	<-t.copied
	_ = t.master.SetReadDeadline(time.Time{})
	if rc, err := t.master.SyscallConn(); err == nil {
		buf := make([]byte, 32<<10)
		for {
			var n int
			var rerr error
			err := rc.Read(func(fd uintptr) bool {
				n, rerr = unix.Read(int(fd), buf)
				return true // never wait: EAGAIN means drained
			})
			if err != nil || rerr != nil || n <= 0 {
				break
			}
			if _, err := t.stdout.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	_ = t.master.Close()
}

// resizePty sets the window size of the pty behind master.
func resizePty(master *os.File, width, height uint16) error {
	rc, err := master.SyscallConn()
	if err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: width, Row: height})
	})
	if err == nil {
		err = ierr
	}
	if err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	return nil
}
