package runner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// The log is in CRI's "k8s-file" format, one record per line:
//
//	2024-05-01T10:00:00.123456789Z stdout F a complete line
//	2024-05-01T10:00:00.123456789Z stderr P the start of a longer line or one without \n
//
// F marks a record that ended in a newline (not stored), P one that did not.

const maxLogRecord = 16 << 10 // longer lines are split into P records

// logFile appends records from any number of streams; records are written whole. The
// file is created with the first record: a container that prints nothing costs no file
// (an inode is the dearest thing a container start makes on ext4).
type logFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	err  error // the open failed: records are dropped
}

func openLog(path string) *logFile { return &logFile{path: path} }

func (l *logFile) record(stream string, partial bool, msg []byte) {
	tag := "F"
	if partial {
		tag = "P"
	}
	var b bytes.Buffer
	b.WriteString(time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteString(" " + stream + " " + tag + " ")
	b.Write(msg)
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil && l.err == nil {
		l.f, l.err = os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	}
	if l.f != nil {
		_, _ = l.f.Write(b.Bytes()) // a full disk must not stop the container
	}
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// streamWriter turns one stream's writes into records, and copies them to an attached
// writer as they come. The attached writer is dropped on its first error (the user's
// terminal went away): the log must go on.
type streamWriter struct {
	log    *logFile
	stream string
	buf    []byte

	mu       sync.Mutex
	attached io.Writer
}

func newStreamWriter(l *logFile, stream string, attached io.Writer) *streamWriter {
	return &streamWriter{log: l, stream: stream, attached: attached}
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.attached != nil {
		if _, err := w.attached.Write(p); err != nil {
			w.attached = nil
		}
	}
	w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log.record(w.stream, false, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= maxLogRecord {
		w.log.record(w.stream, true, w.buf[:maxLogRecord])
		w.buf = w.buf[maxLogRecord:]
	}
	w.buf = append([]byte(nil), w.buf...) // do not pin the caller's slice
	return len(p), nil
}

// flush writes what is left of an unterminated line, at the end of a run.
func (w *streamWriter) flush() {
	if len(w.buf) > 0 {
		w.log.record(w.stream, true, w.buf)
		w.buf = nil
	}
}

// detach stops copying to the attached writer.
func (w *streamWriter) detach() {
	w.mu.Lock()
	w.attached = nil
	w.mu.Unlock()
}

// logRecord is one parsed line of the log.
type logRecord struct {
	Time    time.Time
	Stream  string
	Partial bool
	Msg     string
}

func parseRecord(line string) (logRecord, bool) {
	ts, rest, ok1 := strings.Cut(line, " ")
	stream, rest, ok2 := strings.Cut(rest, " ")
	tag, msg, ok3 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !ok3 {
		return logRecord{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return logRecord{}, false
	}
	return logRecord{Time: t, Stream: stream, Partial: tag == "P", Msg: msg}, true
}

// LogOptions are the flags of `runner logs`.
type LogOptions struct {
	Follow     bool
	Tail       int // last N lines; < 0 means all
	Timestamps bool
	Stdout     io.Writer
	Stderr     io.Writer
}

// Logs writes a container's output, stdout and stderr to their own writers. With Follow
// it keeps going until the container stops or ctx is done.
func (m *Manager) Logs(ctx context.Context, ref string, o LogOptions) error {
	c, err := m.get(ref)
	if err != nil {
		return err
	}
	f, err := os.Open(m.logPath(c.ID))
	if os.IsNotExist(err) {
		if !o.Follow {
			return nil
		}
		f, err = os.OpenFile(m.logPath(c.ID), os.O_RDONLY|os.O_CREATE, 0o600)
	}
	if err != nil {
		return fmt.Errorf("open log of %s: %w", c.Name, err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	lines, pending, err := readRecords(r, "")
	if err != nil {
		return err
	}
	if o.Tail >= 0 {
		lines = tailLines(lines, o.Tail)
	}
	out := &logPrinter{o: o}
	for _, rec := range lines {
		out.print(rec)
	}
	if !o.Follow {
		return nil
	}
	return m.follow(ctx, c.ID, r, pending, out)
}

// follow prints records as they are appended, until the supervisor is gone.
func (m *Manager) follow(ctx context.Context, id string, r *bufio.Reader, pending string, out *logPrinter) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		alive := m.supervised(id)
		recs, rest, err := readRecords(r, pending)
		if err != nil {
			return err
		}
		pending = rest
		for _, rec := range recs {
			out.print(rec)
		}
		if !alive { // read once more after it died: nothing can follow its last record
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// readRecords reads complete lines until EOF; an unterminated tail is returned to be
// completed by the next call.
func readRecords(r *bufio.Reader, pending string) ([]logRecord, string, error) {
	var recs []logRecord
	for {
		s, err := r.ReadString('\n')
		pending += s
		if err == io.EOF {
			return recs, pending, nil
		}
		if err != nil {
			return recs, "", fmt.Errorf("read log: %w", err)
		}
		if rec, ok := parseRecord(strings.TrimSuffix(pending, "\n")); ok {
			recs = append(recs, rec)
		}
		pending = ""
	}
}

// tailLines keeps the records of the last n lines; a line is a run of P records ended by
// an F record (or by the end of the log).
func tailLines(recs []logRecord, n int) []logRecord {
	var starts []int
	lineStart := true
	for i, r := range recs {
		if lineStart {
			starts = append(starts, i)
		}
		lineStart = !r.Partial
	}
	switch {
	case n == 0:
		return nil
	case n >= len(starts):
		return recs
	}
	return recs[starts[len(starts)-n]:]
}

type logPrinter struct {
	o LogOptions
	// midLine is set per stream after a P record, so a timestamp is printed only at the
	// start of a line.
	midLine map[string]bool
}

func (p *logPrinter) print(rec logRecord) {
	w := p.o.Stdout
	if rec.Stream == "stderr" {
		w = p.o.Stderr
	}
	if w == nil {
		return
	}
	if p.midLine == nil {
		p.midLine = map[string]bool{}
	}
	var b strings.Builder
	if p.o.Timestamps && !p.midLine[rec.Stream] {
		b.WriteString(rec.Time.Format(time.RFC3339Nano) + " ")
	}
	b.WriteString(rec.Msg)
	if !rec.Partial {
		b.WriteByte('\n')
	}
	p.midLine[rec.Stream] = rec.Partial
	_, _ = io.WriteString(w, b.String())
}
