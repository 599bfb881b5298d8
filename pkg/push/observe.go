package push

import (
	"io"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// observer sits under ggcr's auth and retry transports and reads each blob's outcome off
// the registry protocol: a HEAD answered 200 means the registry had it, a mount POST
// answered 201 means it was mounted, an upload PUT answered 201 means it was pushed.
// Watching the wire costs no extra request, unlike asking the registry ourselves.
type observer struct {
	inner http.RoundTripper
	t     *tracker
	sizes map[v1.Hash]int64 // the blobs of the image being pushed
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.inner.RoundTrip(req)
	if err == nil {
		o.note(req, resp.StatusCode)
	}
	return resp, err
}

func (o *observer) note(req *http.Request, status int) {
	repo, rest, ok := splitBlobPath(req.URL.Path)
	if !ok {
		return
	}
	q := req.URL.Query()
	var d string
	var outcome string
	switch {
	case req.Method == http.MethodHead && status == http.StatusOK && strings.HasPrefix(rest, "sha256:"):
		d, outcome = rest, "exists"
	case req.Method == http.MethodPost && status == http.StatusCreated && q.Get("mount") != "":
		d, outcome = q.Get("mount"), "mounted from "+q.Get("from")
	case req.Method == http.MethodPut && status == http.StatusCreated && q.Get("digest") != "":
		d, outcome = q.Get("digest"), "pushed"
	default:
		return
	}
	h, err := v1.NewHash(d)
	if err != nil {
		return
	}
	if size, ok := o.sizes[h]; ok {
		o.t.finish(repo, h, size, outcome)
	}
}

// splitBlobPath splits /v2/<repo>/blobs/<rest> into repo and rest.
func splitBlobPath(p string) (repo, rest string, ok bool) {
	p, ok = strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(p, "/blobs/")
	if i < 0 {
		return "", "", false
	}
	return p[:i], p[i+len("/blobs/"):], true
}

// trackedLayer counts the bytes read from a layer into the tracker.
type trackedLayer struct {
	v1.Layer
	t    *tracker
	repo string
	verb string // "pushing" or "pulling"
	done string // outcome at EOF, "" to leave it to the observer
}

func (l *trackedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, err := l.Digest()
	if err != nil {
		return rc, nil
	}
	size, _ := l.Size()
	l.t.opened(l.repo, d, size, l.verb)
	return &countingReader{rc: rc, l: l, digest: d, size: size}, nil
}

// Uncompressed decompresses the counted stream, so a caller that only asks for the
// uncompressed bytes (the store extracting a layer) still shows download progress.
func (l *trackedLayer) Uncompressed() (io.ReadCloser, error) {
	cl, err := partial.CompressedToLayer(compressedOnly{l})
	if err != nil {
		return nil, err
	}
	return cl.Uncompressed()
}

// compressedOnly hides every method but the compressed ones, so partial builds
// Uncompressed on top of trackedLayer.Compressed.
type compressedOnly struct{ l *trackedLayer }

func (c compressedOnly) Digest() (v1.Hash, error)            { return c.l.Digest() }
func (c compressedOnly) Compressed() (io.ReadCloser, error)  { return c.l.Compressed() }
func (c compressedOnly) Size() (int64, error)                { return c.l.Size() }
func (c compressedOnly) MediaType() (types.MediaType, error) { return c.l.MediaType() }

type countingReader struct {
	rc     io.ReadCloser
	l      *trackedLayer
	digest v1.Hash
	size   int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.l.t.add(r.l.repo, r.digest, n)
	if err == io.EOF && r.l.done != "" {
		r.l.t.finish(r.l.repo, r.digest, r.size, r.l.done)
	}
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }
