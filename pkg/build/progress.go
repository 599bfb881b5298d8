package build

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints a build the way `docker build --progress=plain` does: each step is a
// numbered vertex whose output lines carry the time since it started.
//
//	#3 [app 2/5] RUN make
//	#3 0.214 cc -o app main.c
//	#3 DONE 1.3s
type progress struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w}
}

type vertex struct {
	p     *progress
	id    int
	start time.Time
	buf   []byte // an unfinished output line
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// begin starts a vertex and prints its name.
func (p *progress) begin(format string, args ...any) *vertex {
	p.mu.Lock()
	p.n++
	v := &vertex{p: p, id: p.n, start: time.Now()}
	fmt.Fprintf(p.w, "#%d %s\n", v.id, fmt.Sprintf(format, args...))
	p.mu.Unlock()
	return v
}

func (v *vertex) elapsed() float64 { return time.Since(v.start).Seconds() }

// log prints one line under the vertex.
func (v *vertex) log(format string, args ...any) {
	v.p.printf("#%d %.3f %s\n", v.id, v.elapsed(), fmt.Sprintf(format, args...))
}

// Write takes a step's raw output and prints it line by line.
func (v *vertex) Write(b []byte) (int, error) {
	n := len(b)
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.buf = append(v.buf, b...)
	for {
		i := bytes.IndexByte(v.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(v.p.w, "#%d %.3f %s\n", v.id, v.elapsed(), bytes.TrimRight(v.buf[:i], "\r"))
		v.buf = v.buf[i+1:]
	}
	return n, nil
}

func (v *vertex) flush() {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	if len(v.buf) > 0 {
		fmt.Fprintf(v.p.w, "#%d %.3f %s\n", v.id, v.elapsed(), v.buf)
		v.buf = nil
	}
}

func (v *vertex) done() {
	v.flush()
	v.p.printf("#%d DONE %.1fs\n", v.id, v.elapsed())
}

func (v *vertex) cached() {
	v.flush()
	v.p.printf("#%d CACHED\n", v.id)
}

func (v *vertex) fail(err error) {
	v.flush()
	v.p.printf("#%d ERROR: %v\n", v.id, err)
}

// end closes the vertex of a step that may have been served from the cache; a failure
// is returned as it is, already printed.
func (v *vertex) end(cached bool, err error) error {
	switch {
	case err != nil:
		v.fail(err)
	case cached:
		v.cached()
	default:
		v.done()
	}
	return err
}
