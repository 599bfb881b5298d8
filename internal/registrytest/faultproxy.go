package registrytest

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Fault describes requests to break. A request matches when its method and path match;
// the first Skip matches pass, the next Count (all, when Count <= 0) are broken.
type Fault struct {
	Method     string // "" matches any method
	Path       string // regular expression on the URL path; "" matches any
	Skip       int
	Count      int
	Drop       bool  // close the connection without an answer, else answer Status
	Status     int   // default 500
	AfterBytes int64 // with Drop: read this much of the request body first (a cut upload)
	// Hang holds the request unanswered until the client goes away: a stalled registry,
	// for tests that interrupt a client in the middle of a transfer.
	Hang bool
}

type faultState struct {
	Fault
	path *regexp.Regexp
	seen int
}

// FaultProxy is a reverse proxy in front of a plain-HTTP registry that breaks the
// requests its faults match. Point clients at Host.
type FaultProxy struct {
	Host string
	URL  string

	mu       sync.Mutex
	faults   []*faultState
	injected int
	srv      *httptest.Server
	stop     chan struct{} // ends hung requests
}

// NewFaultProxy starts a proxy to target ("127.0.0.1:PORT" or an http:// URL) for the
// duration of the test.
func NewFaultProxy(t testing.TB, target string, faults ...Fault) *FaultProxy {
	t.Helper()
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("fault proxy target %q: %v", target, err)
	}
	p := &FaultProxy{}
	for _, f := range faults {
		fs := &faultState{Fault: f}
		if f.Path != "" {
			if fs.path, err = regexp.Compile(f.Path); err != nil {
				t.Fatalf("fault path %q: %v", f.Path, err)
			}
		}
		p.faults = append(p.faults, fs)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := p.match(r); f != nil {
			inject(w, r, f, p.stop)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	p.stop = make(chan struct{})
	t.Cleanup(func() { close(p.stop) }) // before Close, which waits for hung requests
	p.URL = p.srv.URL
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p
}

// match returns the fault to inject into r, if any, counting r against every fault it matches.
func (p *FaultProxy) match(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if (f.Method != "" && f.Method != r.Method) || (f.path != nil && !f.path.MatchString(r.URL.Path)) {
			continue
		}
		f.seen++
		if f.seen <= f.Skip || (f.Count > 0 && f.seen > f.Skip+f.Count) {
			continue
		}
		p.injected++
		return &f.Fault
	}
	return nil
}

func inject(w http.ResponseWriter, r *http.Request, f *Fault, stop <-chan struct{}) {
	if f.Hang {
		// The server notices a client gone only once the request body is read.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
		return
	}
	if !f.Drop {
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		io.Copy(io.Discard, r.Body)
		writeError(w, status, "UNKNOWN", "injected fault")
		return
	}
	if f.AfterBytes > 0 {
		io.CopyN(io.Discard, r.Body, f.AfterBytes)
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fault proxy: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// writeError answers in the registry's error format, so clients treat an injected fault
// like one from the registry itself.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

// Injected counts the requests broken so far.
func (p *FaultProxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// Clear removes every fault: from now on the proxy only forwards.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}
