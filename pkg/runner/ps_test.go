package runner

import (
	"testing"
	"time"
)

func TestStatusText(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		st   State
		want string
	}{
		{State{Status: StatusCreated}, "Created"},
		{State{Status: StatusRunning, StartedAt: now.Add(-5 * time.Second)}, "Up 5 seconds"},
		{State{Status: StatusRunning, StartedAt: now.Add(-90 * time.Minute)}, "Up 2 hours"},
		{State{Status: StatusExited, ExitCode: 0, FinishedAt: now.Add(-2 * time.Minute)}, "Exited (0) 2 minutes ago"},
		{State{Status: StatusExited, ExitCode: 137, FinishedAt: now.Add(-time.Minute)}, "Exited (137) About a minute ago"},
		{State{Status: StatusRestarting, ExitCode: 1, FinishedAt: now.Add(-3 * time.Second)}, "Restarting (1) 3 seconds ago"},
	}
	for _, tt := range tests {
		if got := StatusText(&Container{State: tt.st}, now); got != tt.want {
			t.Errorf("StatusText(%+v) = %q, want %q", tt.st, got, tt.want)
		}
	}
}

func TestEllipsis(t *testing.T) {
	for in, want := range map[string]string{
		"short":                    "short",
		"httpd -f -p 8080 -h /www": "httpd -f -p 8080 -h…",
		"exactly twenty chars":     "exactly twenty chars",
		"ünïcödé ünïcödé ünïcödé ü!": "ünïcödé ünïcödé ünï…",
	} {
		if got := ellipsis(in, 20); got != want {
			t.Errorf("ellipsis(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewIDAndNames(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := newID()
		if len(id) != 64 || seen[id] {
			t.Fatalf("newID() = %q (len %d, repeated %v)", id, len(id), seen[id])
		}
		seen[id] = true
		if n := randomName(); !validName.MatchString(n) {
			t.Errorf("randomName() = %q, not a valid name", n)
		}
	}
}
