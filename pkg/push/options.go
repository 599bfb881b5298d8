package push

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options are the registry settings shared by Push, Pull and Login. The zero value works:
// docker config credentials, TLS with the system roots, four parallel blobs, five retries.
type Options struct {
	// Keychain finds credentials; nil means authn.DefaultKeychain (the docker config in
	// $DOCKER_CONFIG or ~/.docker, with its credsStore and credHelpers).
	Keychain authn.Keychain
	// Insecure names registries ("host:port", or "host" for any port) reached over plain
	// HTTP. localhost, 127.0.0.0/8 and ::1 always may be.
	Insecure []string
	// SkipTLSVerify accepts any certificate; Warn is told once per call.
	SkipTLSVerify bool
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
	// Jobs is how many blobs go up in parallel (default 4).
	Jobs int
	// Retries is how often a transient failure (5xx, 429, connection reset, EOF, timeout)
	// is retried, with exponential back-off (default 5; negative means none).
	Retries int
	// RetryDelay is the first back-off delay, doubled on every retry (default 500ms).
	RetryDelay time.Duration
	// Format rewrites media types before a push: "oci" or "docker" (Docker v2 schema 2).
	// Empty keeps the image's own media types, so the pushed digest is the stored one.
	Format string
	// MountFrom is a repository ("registry/repo") that may already hold the image's blobs,
	// typically where its base image was pulled from. Blobs missing in the target are
	// mounted from it instead of uploaded when it is in the same registry.
	MountFrom string
	// Progress receives per-blob progress: live bars on a terminal, one line per blob
	// otherwise. Nil means none.
	Progress io.Writer
	// Warn receives warnings (retries, disabled TLS verification). Nil drops them. It is
	// never called concurrently.
	Warn func(string)
}

const (
	defaultJobs       = 4
	defaultRetries    = 5
	defaultRetryDelay = 500 * time.Millisecond
)

// config is Options with defaults applied and the pieces every call needs built once.
type config struct {
	Options
	warnMu   sync.Mutex
	keychain authn.Keychain
	base     http.RoundTripper // TLS settings; ggcr adds auth and retries on top
}

func (o Options) resolve() (*config, error) {
	c := &config{Options: o, keychain: o.Keychain}
	if c.Jobs <= 0 {
		c.Jobs = defaultJobs
	}
	switch {
	case c.Retries == 0:
		c.Retries = defaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = defaultRetryDelay
	}
	if c.keychain == nil {
		c.keychain = authn.DefaultKeychain
	}
	switch c.Format {
	case "", "oci", "docker":
	default:
		return nil, fmt.Errorf("unknown image format %q: want oci or docker", c.Format)
	}
	t, err := c.transport()
	if err != nil {
		return nil, err
	}
	c.base = t
	return c, nil
}

// warn serialises calls so a caller's Warn need not be safe for concurrent use.
func (c *config) warn(format string, args ...any) {
	if c.Warn == nil {
		return
	}
	c.warnMu.Lock()
	defer c.warnMu.Unlock()
	c.Warn(fmt.Sprintf(format, args...))
}

// transport is ggcr's default transport with our TLS settings.
func (c *config) transport() (http.RoundTripper, error) {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := loadCAs(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if c.SkipTLSVerify {
		tc.InsecureSkipVerify = true
		c.warn("TLS certificate verification is disabled: the registry's identity is not checked")
	}
	t.TLSClientConfig = tc
	return t, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read CA file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// insecure reports whether registry may be reached over plain HTTP. ggcr still tries
// HTTPS first for these and falls back to HTTP, as Docker does.
func (c *config) insecure(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, r := range c.Insecure {
		if r == registry || r == host {
			return true
		}
	}
	return false
}

// parseRef parses a Docker-style reference, marking its registry insecure when allowed.
func (c *config) parseRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse reference %q: %w", ref, err)
	}
	if c.insecure(r.Context().RegistryStr()) {
		r, err = name.ParseReference(ref, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("parse reference %q: %w", ref, err)
		}
	}
	return r, nil
}

func (c *config) parseRepo(repo string) (name.Repository, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return r, fmt.Errorf("parse repository %q: %w", repo, err)
	}
	if c.insecure(r.RegistryStr()) {
		return name.NewRepository(repo, name.Insecure)
	}
	return r, nil
}

func (c *config) parseRegistry(registry string) (name.Registry, error) {
	registry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	if registry == "index.docker.io/v1" {
		registry = name.DefaultRegistry
	}
	var opts []name.Option
	if c.insecure(registry) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRegistry(registry, opts...)
	if err != nil {
		return r, fmt.Errorf("parse registry %q: %w", registry, err)
	}
	return r, nil
}

// remoteOptions are the ggcr options for one call. base is the innermost transport.
func (c *config) remoteOptions(ctx context.Context, base http.RoundTripper) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(base),
		remote.WithJobs(c.Jobs),
		remote.WithRetryBackoff(c.backoff()),
		remote.WithRetryPredicate(c.retryable),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithUserAgent("dockyard"),
	}
}
