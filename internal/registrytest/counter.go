package registrytest

import (
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
)

// Routes of the distribution API the counters watch. A repository name may itself hold
// "blobs" or "manifests" as a component, so the patterns anchor at the end.
var (
	uploadRoute   = regexp.MustCompile(`^/v2/.+/blobs/uploads/[^/]*$`)
	manifestRoute = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)
)

// counter sits in front of distribution's app and counts what the registry committed,
// judged by the status it answered, not by what was asked. It also tracks the handlers
// running, which http.Server.Close does not wait for.
type counter struct {
	next      http.Handler
	uploads   atomic.Int64
	mounts    atomic.Int64
	manifests atomic.Int64

	gate    sync.RWMutex // closed and running.Add under RLock, so drain never races an Add
	closed  bool
	running sync.WaitGroup
}

// drain refuses new requests and waits for those running to finish.
func (c *counter) drain() {
	c.gate.Lock()
	c.closed = true
	c.gate.Unlock()
	c.running.Wait()
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.gate.RLock()
	if c.closed {
		c.gate.RUnlock()
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "registry is shutting down")
		return
	}
	c.running.Add(1)
	c.gate.RUnlock()
	defer c.running.Done()

	rec := &statusRecorder{ResponseWriter: w}
	c.next.ServeHTTP(rec, r)
	if rec.status != http.StatusCreated {
		return
	}
	switch {
	case r.Method == http.MethodPut && uploadRoute.MatchString(r.URL.Path):
		c.uploads.Add(1)
	case r.Method == http.MethodPost && uploadRoute.MatchString(r.URL.Path) && r.URL.Query().Get("mount") != "":
		c.mounts.Add(1)
	case r.Method == http.MethodPut && manifestRoute.MatchString(r.URL.Path):
		c.manifests.Add(1)
	}
}

// statusRecorder remembers the status of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush passes flushes on; distribution flushes blob downloads as it streams them.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection underneath.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
