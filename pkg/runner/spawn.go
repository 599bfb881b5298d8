package runner

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// SupervisorCommand is the hidden subcommand the supervisor runs as:
// `PROG _supervise SPEC`, SPEC being the JSON of a superviseSpec.
const SupervisorCommand = "_supervise"

// superviseSpec is what the starter tells its supervisor. Fds are numbers in the
// supervisor (3 and up, in the order of the starter's ExtraFiles); 0 means none.
type superviseSpec struct {
	Root         string `json:"root"`
	RunDir       string `json:"runDir"`
	CgroupParent string `json:"cgroupParent"`
	ID           string `json:"id"`
	Detach       bool   `json:"detach"`

	Report  int   `json:"report"`
	Stdin   int   `json:"stdin,omitempty"`
	Stdout  int   `json:"stdout,omitempty"`
	Stderr  int   `json:"stderr,omitempty"`
	Control int   `json:"control,omitempty"` // resize requests, attached TTY only
	Ports   []int `json:"ports,omitempty"`   // sockets of State.Ports, in order

	ConsoleSize *[2]uint16 `json:"consoleSize,omitempty"`
}

// report is one message on the report pipe, supervisor to starter.
type report struct {
	Event string `json:"event"` // started, error, exited
	Pid   int    `json:"pid,omitempty"`
	Code  int    `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// attachIO is the caller's side of an attached run.
type attachIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	consoleSize    *[2]uint16
	resize         <-chan [2]uint16
}

// supervisorProc is a spawned supervisor, seen from its starter.
type supervisorProc struct {
	cmd     *exec.Cmd
	reports *bufio.Reader
	reportR *os.File
	control *os.File // write end of the resize pipe
	copies  chan struct{}
	nCopies int
}

// spawn starts the supervisor of c with the sockets of its published ports.
func (m *Manager) spawn(c *Container, ports []*os.File, detach bool, a *attachIO) (*supervisorProc, error) {
	spec := superviseSpec{Root: m.opts.Root, RunDir: m.opts.RunDir, CgroupParent: m.opts.CgroupParent, ID: c.ID, Detach: detach}
	var extra, childEnds []*os.File
	add := func(f *os.File) int {
		extra = append(extra, f)
		return 2 + len(extra)
	}
	sp := &supervisorProc{copies: make(chan struct{}, 3)}
	cleanup := func() {
		closeFiles(childEnds)
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("report pipe: %w", err)
	}
	sp.reportR, sp.reports = reportR, bufio.NewReader(reportR)
	childEnds = append(childEnds, reportW)
	spec.Report = add(reportW)
	for _, f := range ports {
		spec.Ports = append(spec.Ports, add(f))
	}
	if a != nil {
		if err := sp.attach(&spec, a, c, add, &childEnds); err != nil {
			cleanup()
			reportR.Close()
			return nil, err
		}
	}
	arg, _ := json.Marshal(spec)
	cmd := exec.Command(m.opts.Exe, SupervisorCommand, string(arg))
	cmd.Args[0] = "runner"
	cmd.ExtraFiles = extra
	// A session of its own: the terminal's signals and hangup are not for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	cleanup() // the child has its copies
	if err != nil {
		reportR.Close()
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	sp.cmd = cmd
	return sp, nil
}

// attach wires the caller's streams: files go to the supervisor as they are, other
// readers and writers through pipes copied here.
func (sp *supervisorProc) attach(spec *superviseSpec, a *attachIO, c *Container, add func(*os.File) int, childEnds *[]*os.File) error {
	spec.ConsoleSize = a.consoleSize
	if c.OpenStdin && a.stdin != nil {
		f, err := sp.inFile(a.stdin, childEnds)
		if err != nil {
			return err
		}
		spec.Stdin = add(f)
	}
	for _, w := range []struct {
		dst *int
		w   io.Writer
	}{{&spec.Stdout, a.stdout}, {&spec.Stderr, a.stderr}} {
		if w.w == nil || (c.TTY && w.dst == &spec.Stderr) {
			continue
		}
		f, err := sp.outFile(w.w, childEnds)
		if err != nil {
			return err
		}
		*w.dst = add(f)
	}
	if c.TTY && a.resize != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("control pipe: %w", err)
		}
		*childEnds = append(*childEnds, r)
		spec.Control = add(r)
		sp.control = w
		go func() {
			enc := json.NewEncoder(w)
			for sz := range a.resize {
				if enc.Encode(sz) != nil {
					return
				}
			}
		}()
	}
	return nil
}

func (sp *supervisorProc) inFile(r io.Reader, childEnds *[]*os.File) (*os.File, error) {
	if f, ok := r.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	*childEnds = append(*childEnds, pr)
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return pr, nil
}

func (sp *supervisorProc) outFile(w io.Writer, childEnds *[]*os.File) (*os.File, error) {
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	*childEnds = append(*childEnds, pw)
	sp.nCopies++
	go func() {
		_, _ = io.Copy(w, pr)
		pr.Close()
		sp.copies <- struct{}{}
	}()
	return pw, nil
}

// next reads the next report; io.EOF means the supervisor closed the pipe.
func (sp *supervisorProc) next() (report, error) {
	line, err := sp.reports.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return report{}, io.EOF
		}
		return report{}, fmt.Errorf("read supervisor report: %w", err)
	}
	var r report
	if err := json.Unmarshal(line, &r); err != nil {
		return report{}, fmt.Errorf("bad supervisor report %q: %w", line, err)
	}
	return r, nil
}

// finish waits for the copied output, then for the supervisor if it is exiting, and
// releases the starter's ends.
func (sp *supervisorProc) finish(waitExit bool) {
	for i := 0; i < sp.nCopies; i++ {
		<-sp.copies
	}
	if sp.control != nil {
		sp.control.Close()
	}
	sp.reportR.Close()
	if waitExit {
		_ = sp.cmd.Wait()
	} else {
		go sp.cmd.Wait() // reap it if we outlive it
	}
}

// awaitStart waits for the supervisor's "started" or its start error.
func (sp *supervisorProc) awaitStart() (int, error) {
	r, err := sp.next()
	if err == io.EOF {
		_ = sp.cmd.Wait()
		return 0, fmt.Errorf("supervisor exited before starting the container (%v)", sp.cmd.ProcessState)
	}
	if err != nil {
		return 0, err
	}
	switch r.Event {
	case "started":
		return r.Pid, nil
	case "error":
		code := r.Code
		if code == 0 {
			code = 125
		}
		return 0, &ExitError{Code: code, Err: errors.New(r.Error)}
	}
	return 0, fmt.Errorf("unexpected supervisor report %q", r.Event)
}

// awaitExit waits for the exit code of the container's first run.
func (sp *supervisorProc) awaitExit() (int, error) {
	for {
		r, err := sp.next()
		if err == io.EOF {
			return 0, errors.New("supervisor exited without reporting the exit code")
		}
		if err != nil {
			return 0, err
		}
		if r.Event == "exited" {
			return r.Code, nil
		}
	}
}
