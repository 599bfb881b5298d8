package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestInsecure(t *testing.T) {
	c := &config{Options: Options{Insecure: []string{"reg.internal:5000", "plain.example"}}}
	cases := []struct {
		registry string
		want     bool
	}{
		{"localhost:5000", true},
		{"localhost", true},
		{"127.0.0.1:5000", true},
		{"127.1.2.3:80", true},
		{"[::1]:5000", true},
		{"reg.internal:5000", true},
		{"reg.internal:5001", false},
		{"plain.example:1234", true},
		{"plain.example", true},
		{"registry.example:5000", false},
		{"index.docker.io", false},
		{"10.0.0.1:5000", false},
	}
	for _, tc := range cases {
		if got := c.insecure(tc.registry); got != tc.want {
			t.Errorf("insecure(%q) = %v, want %v", tc.registry, got, tc.want)
		}
	}
}

func TestTransient(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Patch", URL: "http://r/v2/x", Err: err} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"eof", urlErr(io.EOF), true},
		{"unexpected eof", urlErr(io.ErrUnexpectedEOF), true},
		{"reset", urlErr(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), true},
		{"broken pipe", urlErr(&net.OpError{Op: "write", Err: syscall.EPIPE}), true},
		{"closed", urlErr(net.ErrClosed), true},
		{"timeout", urlErr(&net.OpError{Op: "dial", Err: timeoutErr{}}), true},
		{"refused", urlErr(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), false},
		{"canceled", urlErr(context.Canceled), false},
		{"deadline", fmt.Errorf("wrapped: %w", context.DeadlineExceeded), false},
		{"plain error", errors.New("manifest invalid"), false},
	}
	for _, tc := range cases {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRedact(t *testing.T) {
	cases := map[string]string{
		`Put "https://r/v2/a/blobs/uploads/1?_state=abc&digest=sha256:1": EOF`: `Put "https://r/v2/a/blobs/uploads/1?REDACTED": EOF`,
		`GET https://s3.example/blob?X-Amz-Signature=secret token`:             `GET https://s3.example/blob?REDACTED token`,
		`no url here`: `no url here`,
	}
	for in, want := range cases {
		if got := redactString(in); got != want {
			t.Errorf("redactString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	cases := map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 200 << 20: "200.0 MiB", 3 << 30: "3.0 GiB"}
	for n, want := range cases {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSplitBlobPath(t *testing.T) {
	cases := []struct{ path, repo, rest string }{
		{"/v2/team/app/blobs/sha256:abc", "team/app", "sha256:abc"},
		{"/v2/a/blobs/uploads/123", "a", "uploads/123"},
		{"/v2/a/manifests/1", "", ""},
		{"/v1/a/blobs/x", "", ""},
	}
	for _, tc := range cases {
		repo, rest, _ := splitBlobPath(tc.path)
		if repo != tc.repo || rest != tc.rest {
			t.Errorf("splitBlobPath(%q) = %q, %q; want %q, %q", tc.path, repo, rest, tc.repo, tc.rest)
		}
	}
}

// On a terminal the tracker redraws every blob in place: cursor up, clear line, bar.
func TestTrackerTerminalFrames(t *testing.T) {
	var out bytes.Buffer
	tr := &tracker{out: &out, tty: true, blobs: map[string]*blobState{}}
	a := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	b := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	tr.opened("r", a, 1000, "pushing")
	tr.opened("r", b, 2000, "pushing")
	tr.mu.Lock()
	tr.blobs[blobKey("r", a)].count = 500
	tr.redraw(true)
	tr.mu.Unlock()
	frame := out.String()
	if !strings.Contains(frame, "aaaaaaaaaaaa: pushing [===============>") || !strings.Contains(frame, "500 B / 1000 B") {
		t.Errorf("half-done bar missing:\n%q", frame)
	}
	out.Reset()
	tr.finish("r", a, 1000, "pushed")
	tr.finish("r", b, 2000, "exists")
	final := out.String()
	if !strings.HasPrefix(final, "\x1b[2A") {
		t.Errorf("final frame does not move back over the 2 drawn lines: %q", final)
	}
	if !strings.Contains(final, "aaaaaaaaaaaa: pushed 1000 B") || !strings.Contains(final, "bbbbbbbbbbbb: exists 2.0 KiB") {
		t.Errorf("final frame lacks outcomes:\n%q", final)
	}
}

func TestAuthKey(t *testing.T) {
	c := &config{}
	cases := map[string]string{
		"docker.io":                   "https://index.docker.io/v1/",
		"index.docker.io":             "https://index.docker.io/v1/",
		"https://index.docker.io/v1/": "https://index.docker.io/v1/",
		"registry.example:5000":       "registry.example:5000",
		"https://reg.example/":        "reg.example",
		"127.0.0.1:5000":              "127.0.0.1:5000",
	}
	for in, want := range cases {
		reg, err := c.parseRegistry(in)
		if err != nil {
			t.Errorf("parseRegistry(%q): %v", in, err)
			continue
		}
		if got := authKey(reg); got != want {
			t.Errorf("authKey(%q) = %q, want %q", in, got, want)
		}
	}
}
