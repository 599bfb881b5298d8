// Package registrytest runs a real OCI registry in-process on a loopback port, for tests
// and for `make demo`: distribution/distribution (the reference registry, as in the
// registry:3 image) with filesystem storage, optional htpasswd (bcrypt) basic auth and
// TLS (a CA made on the spot), counters tests assert on, and a fault-injecting proxy.
//
// Everything — blobs, repository links, manifests, tags — lives under Options.Dir in
// distribution's own layout, so a registry started again on the same directory serves
// what the last one stored.
package registrytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/handlers"
)

// Options configure a registry. The zero value is a plain-HTTP registry without auth.
type Options struct {
	TLS   bool              // serve HTTPS with a certificate from a fresh CA (see Registry.CAFile)
	Users map[string]string // user → password; when set every request needs basic auth
	Dir   string            // storage; Start defaults it to t.TempDir()
	Addr  string            // listen address, loopback only; default 127.0.0.1:0
	Log   io.Writer         // distribution's log (one line per request); nil discards it
}

// Registry is a running registry.
type Registry struct {
	Host    string // 127.0.0.1:PORT, the registry part of image references
	URL     string // http://Host or https://Host
	CAFile  string // PEM of the CA that signed the server certificate (TLS only)
	CertDir string // directory holding CAFile as ca.crt, for skopeo --cert-dir (TLS only)

	dir   string
	app   *handlers.App
	srv   *http.Server
	count *counter
	done  chan error

	closeOnce sync.Once
	closeErr  error
}

// Start runs a registry for the duration of the test.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	r, err := New(opts)
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("stop registry: %v", err)
		}
	})
	return r
}

// New starts a registry; Close stops it. opts.Dir is required.
func New(opts Options) (*Registry, error) {
	if opts.Dir == "" {
		return nil, errors.New("registry storage directory not set")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(opts.Addr); err != nil {
		return nil, err
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	ctx := withLogger(context.Background(), opts.Log)
	app, err := newApp(ctx, opts)
	if err != nil {
		return nil, err
	}
	r := &Registry{dir: opts.Dir, app: app, count: &counter{next: app}, done: make(chan error, 1)}
	r.srv = &http.Server{
		Handler:           r.count,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logw, "registry: ", 0),
		// Request contexts descend from ctx, so distribution logs them to our logger.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	scheme := "http"
	if opts.TLS {
		if err := r.makeCerts(); err != nil {
			app.Shutdown()
			return nil, err
		}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		app.Shutdown()
		return nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	r.Host = ln.Addr().String()
	r.URL = scheme + "://" + r.Host
	go func() {
		if opts.TLS {
			r.done <- r.srv.ServeTLS(ln, "", "")
		} else {
			r.done <- r.srv.Serve(ln)
		}
	}()
	return r, nil
}

// makeCerts writes a fresh CA under Dir/certs and has the server present a certificate
// it signed.
func (r *Registry) makeCerts() error {
	r.CertDir = filepath.Join(r.dir, "certs")
	if err := os.MkdirAll(r.CertDir, 0o755); err != nil {
		return fmt.Errorf("create cert dir %s: %w", r.CertDir, err)
	}
	var err error
	r.srv.TLSConfig, r.CAFile, err = newTLS(r.CertDir)
	return err
}

// checkLoopback refuses anything but a loopback address: this registry has no business
// on a real network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not a loopback address", addr)
}

// Close stops the server, waits for the requests it cut short to finish, then shuts
// distribution's app down. Calling it again returns the first result.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.shutdown() })
	return r.closeErr
}

func (r *Registry) shutdown() error {
	// Not srv.Shutdown: it waits up to 5s for connections that never sent a request.
	err := r.srv.Close()
	serr := <-r.done
	r.done <- serr // for Wait
	if !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	r.count.drain()
	if aerr := r.app.Shutdown(); aerr != nil && err == nil {
		err = fmt.Errorf("shut down registry app: %w", aerr)
	}
	return err
}

// Wait blocks until the server stops (for the standalone command).
func (r *Registry) Wait() error {
	err := <-r.done
	r.done <- err
	return err
}

// BlobUploads counts completed blob uploads: each upload PUT the registry answered 201.
func (r *Registry) BlobUploads() int { return int(r.count.uploads.Load()) }

// BlobMounts counts successful cross-repository mounts: each mount POST answered 201.
func (r *Registry) BlobMounts() int { return int(r.count.mounts.Load()) }

// ManifestPuts counts manifests stored: each manifest PUT answered 201.
func (r *Registry) ManifestPuts() int { return int(r.count.manifests.Load()) }
