package runner

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogRoundTrip writes two interleaved streams with partial and long lines and reads
// them back with and without --tail.
func TestLogRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	l := openLog(path)
	var attached strings.Builder
	out := newStreamWriter(l, "stdout", &attached)
	errw := newStreamWriter(l, "stderr", nil)
	long := strings.Repeat("x", maxLogRecord+10)
	out.Write([]byte("one\ntw"))
	errw.Write([]byte("oops\n"))
	out.Write([]byte("o\n" + long + "\nno newline"))
	out.flush()
	errw.flush()
	l.Close()
	if attached.String() != "one\ntwo\n"+long+"\nno newline" {
		t.Errorf("attached copy differs: %q", attached.String()[:20])
	}
	tests := []struct {
		tail           int
		stdout, stderr string
	}{
		{-1, "one\ntwo\n" + long + "\nno newline", "oops\n"},
		{2, long + "\nno newline", ""},
		{1, "no newline", ""},
		{0, "", ""},
	}
	for _, tt := range tests {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, pending, err := readRecords(bufio.NewReader(f), "")
		f.Close()
		if err != nil || pending != "" {
			t.Fatalf("readRecords: %v, pending %q", err, pending)
		}
		if tt.tail >= 0 {
			recs = tailLines(recs, tt.tail)
		}
		var so, se strings.Builder
		p := &logPrinter{o: LogOptions{Stdout: &so, Stderr: &se}}
		for _, r := range recs {
			p.print(r)
		}
		if so.String() != tt.stdout || se.String() != tt.stderr {
			t.Errorf("tail %d: stdout %d bytes %q…, stderr %q; want %d bytes, %q", tt.tail,
				len(so.String()), first(so.String(), 12), se.String(), len(tt.stdout), tt.stderr)
		}
	}
}

func first(s string, n int) string { return s[:min(n, len(s))] }

func TestParseRecord(t *testing.T) {
	rec, ok := parseRecord("2024-05-01T10:00:00.5Z stderr P a b ")
	if !ok || rec.Stream != "stderr" || !rec.Partial || rec.Msg != "a b " || rec.Time.Nanosecond() != 5e8 {
		t.Errorf("parseRecord = %+v, %v", rec, ok)
	}
	for _, bad := range []string{"", "garbage", "notatime stdout F x"} {
		if _, ok := parseRecord(bad); ok {
			t.Errorf("parseRecord(%q) accepted", bad)
		}
	}
}
