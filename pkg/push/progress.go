package push

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// tracker renders per-blob progress. On a terminal it redraws one bar per blob at most a
// few times a second, from whichever goroutine reads or finishes a blob (so it needs no
// goroutine or Close of its own); elsewhere (CI logs) it prints one line when a blob is done. It only
// ever shows digests, sizes, repository names and outcomes. A nil *tracker does nothing.
type tracker struct {
	out   io.Writer
	tty   bool
	multi bool // several repositories: name the repository on each line
	mu    sync.Mutex
	blobs map[string]*blobState
	order []*blobState
	drawn int       // lines drawn by the last redraw (tty)
	last  time.Time // of the last redraw
}

type blobState struct {
	repo     string
	digest   v1.Hash
	size     int64
	count    int64
	state    string // "waiting", "pushing", "pulling" while live; the outcome once final
	final    bool
	started  time.Time
	finished time.Time
}

const redrawEvery = 150 * time.Millisecond

func newTracker(w io.Writer, multi bool) *tracker {
	if w == nil {
		return nil
	}
	return &tracker{out: w, tty: isTerminal(w), multi: multi, blobs: map[string]*blobState{}}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func blobKey(repo string, d v1.Hash) string { return repo + "@" + d.String() }

// entry returns the state for repo@digest, creating it; callers hold t.mu.
func (t *tracker) entry(repo string, d v1.Hash, size int64) *blobState {
	k := blobKey(repo, d)
	b, ok := t.blobs[k]
	if !ok {
		b = &blobState{repo: repo, digest: d, size: size, state: "waiting"}
		t.blobs[k] = b
		t.order = append(t.order, b)
	}
	if size > 0 {
		b.size = size
	}
	return b
}

// opened starts (or, after a retry, restarts) the byte count of a blob.
func (t *tracker) opened(repo string, d v1.Hash, size int64, verb string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.entry(repo, d, size)
	if b.final {
		return
	}
	b.count, b.state, b.started = 0, verb, time.Now()
	t.redraw(false)
}

func (t *tracker) add(repo string, d v1.Hash, n int) {
	if t == nil || n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.blobs[blobKey(repo, d)]; ok && !b.final {
		b.count += int64(n)
		t.redraw(false)
	}
}

// finish records a blob's outcome ("pushed", "exists", "mounted from x", "pulled").
// Only the first outcome counts: a blob HEADed again by a later tag stays "pushed".
func (t *tracker) finish(repo string, d v1.Hash, size int64, outcome string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.entry(repo, d, size)
	if b.final {
		return
	}
	b.final, b.state, b.finished = true, outcome, time.Now()
	if b.count < b.size && outcome != "pushed" && outcome != "pulled" {
		b.count = b.size
	}
	if !t.tty {
		fmt.Fprintln(t.out, t.line(b))
	}
	t.redraw(true)
}

func (t *tracker) line(b *blobState) string {
	var s strings.Builder
	if t.multi {
		fmt.Fprintf(&s, "%s ", b.repo)
	}
	fmt.Fprintf(&s, "%s: %s %s", shortDigest(b.digest), b.state, humanBytes(b.size))
	if b.final && (b.state == "pushed" || b.state == "pulled") {
		if secs := b.finished.Sub(b.started).Seconds(); secs > 0 && !b.started.IsZero() {
			fmt.Fprintf(&s, " in %.1fs (%s/s)", secs, humanBytes(int64(float64(b.count)/secs)))
		}
	}
	return s.String()
}

// bar is the live form of a line: [=====>    ] done/size rate.
func (t *tracker) bar(b *blobState, now time.Time) string {
	if b.final || b.state == "waiting" {
		return t.line(b)
	}
	const width = 30
	filled := width
	if b.size > 0 {
		filled = int(min(b.count, b.size) * width / b.size)
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	if filled < width {
		bar = bar[:filled] + ">" + bar[filled+1:]
	}
	rate := ""
	if secs := now.Sub(b.started).Seconds(); secs > 0 {
		rate = " " + humanBytes(int64(float64(b.count)/secs)) + "/s"
	}
	prefix := ""
	if t.multi {
		prefix = b.repo + " "
	}
	return fmt.Sprintf("%s%s: %s [%s] %s / %s%s", prefix, shortDigest(b.digest), b.state, bar, humanBytes(b.count), humanBytes(b.size), rate)
}

// redraw moves the cursor back over the last frame and draws every blob again; unless
// forced, at most once per redrawEvery. Callers hold t.mu.
func (t *tracker) redraw(force bool) {
	now := time.Now()
	if !t.tty || (!force && now.Sub(t.last) < redrawEvery) {
		return
	}
	t.last = now
	var s strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&s, "\x1b[%dA", t.drawn)
	}
	for _, b := range t.order {
		s.WriteString("\r\x1b[2K")
		s.WriteString(t.bar(b, now))
		s.WriteString("\n")
	}
	t.drawn = len(t.order)
	io.WriteString(t.out, s.String())
}

func shortDigest(d v1.Hash) string {
	if len(d.Hex) > 12 {
		return d.Hex[:12]
	}
	return d.Hex
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
