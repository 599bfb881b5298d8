package layers

import "io"

type noClose struct{}

func (noClose) Close() error { return nil }

// asyncWriter hands 1 MiB chunks to a goroutine that writes them to w, so that reading
// files and hashing the tar (the caller's goroutine) overlap with compressing (the other).
// The byte stream is unchanged, so the output stays deterministic.
type asyncWriter struct {
	w      io.Writer
	cur    []byte
	full   chan []byte
	free   chan []byte
	done   chan struct{} // closed when the drain goroutine has exited
	failed chan struct{} // closed on the first write error, after err is set
	err    error
}

const asyncChunk = 1 << 20

func newAsyncWriter(w io.Writer) *asyncWriter {
	const bufs = 4
	a := &asyncWriter{w: w, full: make(chan []byte, bufs), free: make(chan []byte, bufs),
		done: make(chan struct{}), failed: make(chan struct{})}
	for range bufs - 1 {
		a.free <- make([]byte, 0, asyncChunk)
	}
	a.cur = make([]byte, 0, asyncChunk)
	go a.drain()
	return a
}

// drain keeps consuming after an error so that the producer never blocks on it.
func (a *asyncWriter) drain() {
	defer close(a.done)
	for buf := range a.full {
		if a.err == nil {
			if _, err := a.w.Write(buf); err != nil {
				a.err = err
				close(a.failed)
			}
		}
		a.free <- buf[:0]
	}
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		select {
		case <-a.failed:
			return n, a.err
		default:
		}
		k := copy(a.cur[len(a.cur):cap(a.cur)], p)
		a.cur, p, n = a.cur[:len(a.cur)+k], p[k:], n+k
		if len(a.cur) == cap(a.cur) {
			a.full <- a.cur
			a.cur = <-a.free
		}
	}
	return n, nil
}

// Close flushes the last chunk, waits for the writer goroutine and returns its error.
func (a *asyncWriter) Close() error {
	if len(a.cur) > 0 {
		a.full <- a.cur
	}
	close(a.full)
	<-a.done
	return a.err
}

// readAhead decompresses on its own goroutine, 1 MiB ahead of the reader, so that a
// single-threaded decoder (gzip, bzip2) overlaps with extraction.
type readAhead struct {
	src    io.Reader
	closer io.Closer // the decoder, closed after the goroutine stopped
	full   chan chunk
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	cur    chunk
	off    int
}

type chunk struct {
	b   []byte
	err error
}

func newReadAhead(src io.Reader, closer io.Closer) *readAhead {
	const bufs = 3
	ra := &readAhead{src: src, closer: closer, full: make(chan chunk, bufs), free: make(chan []byte, bufs),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range bufs {
		ra.free <- make([]byte, asyncChunk)
	}
	go ra.fill()
	return ra
}

func (ra *readAhead) fill() {
	defer close(ra.done)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		// Not io.ReadFull: it would turn a truncated stream's ErrUnexpectedEOF into
		// nothing worse than a short chunk.
		n, err := 0, error(nil)
		for n < len(buf) && err == nil {
			var k int
			k, err = ra.src.Read(buf[n:])
			n += k
		}
		select {
		case ra.full <- chunk{b: buf[:n], err: err}:
		case <-ra.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	select {
	case <-ra.stop:
		return 0, io.ErrClosedPipe
	default:
	}
	for ra.off == len(ra.cur.b) {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.b != nil {
			ra.free <- ra.cur.b[:cap(ra.cur.b)]
		}
		ra.cur, ra.off = <-ra.full, 0
	}
	n := copy(p, ra.cur.b[ra.off:])
	ra.off += n
	return n, nil
}

// Close stops the goroutine (whether or not the stream was read to the end) and closes
// the decoder.
func (ra *readAhead) Close() error {
	select {
	case <-ra.stop:
	default:
		close(ra.stop)
	}
	<-ra.done
	return ra.closer.Close()
}
