package push

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Sentinels for the failures a caller acts on; test with errors.Is.
var (
	ErrUnauthorized = errors.New("authentication required")
	ErrDenied       = errors.New("access denied")
	ErrNotFound     = errors.New("not found")
	ErrInvalid      = errors.New("rejected as invalid")
	ErrTLS          = errors.New("tls failure")
	ErrUnreachable  = errors.New("registry unreachable")
)

// Error is a registry failure that names what was asked of which registry and repository.
// It unwraps to one of the sentinels above and to the underlying error (often a ggcr
// *transport.Error carrying the HTTP status and the registry's diagnostics).
type Error struct {
	Op         string // "push", "pull", "login"
	Ref        string // the reference, repository or registry the call was about
	Registry   string
	Repository string // empty for registry-wide calls such as login
	StatusCode int    // HTTP status, 0 when no response came back
	Kind       error  // one of the sentinels, or nil
	Err        error

	detail string
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %s", e.Op, e.Ref, e.detail) }

// Unwrap lets errors.Is match the sentinel and errors.As reach the cause.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// describe turns a ggcr or net/http error into an *Error that says what happened and
// what to do about it. authSent tells a rejected login apart from a missing one.
func (c *config) describe(op, ref string, repo name.Repository, err error, authSent bool) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	reg := repo.RegistryStr()
	where := repo.Name()
	if repo.RepositoryStr() == "" {
		where = reg
	}
	e := &Error{Op: op, Ref: ref, Registry: reg, Repository: repo.RepositoryStr(), Err: err}
	// TLS first: ggcr's ping tries HTTPS and then HTTP for loopback and insecure
	// registries, and the HTTP attempt's 400 would hide the certificate problem.
	if kind, detail := describeTLS(err, reg); kind != nil {
		e.Kind, e.detail = kind, detail
		return e
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		e.StatusCode = terr.StatusCode
		e.Kind, e.detail = describeStatus(terr, where, reg, authSent)
		if terr.Temporary() && c.Retries > 0 {
			e.detail += fmt.Sprintf(" (still failing after %d retries)", c.Retries)
		}
		return e
	}
	e.Kind, e.detail = describeNetwork(err, reg)
	if transient(err) && c.Retries > 0 {
		e.detail += fmt.Sprintf(" (still failing after %d retries)", c.Retries)
	}
	return e
}

func describeStatus(terr *transport.Error, where, reg string, authSent bool) (error, string) {
	status := fmt.Sprintf("HTTP %d %s", terr.StatusCode, http.StatusText(terr.StatusCode))
	if codes := diagnosticCodes(terr); codes != "" {
		status += " " + codes
	}
	switch {
	case terr.StatusCode == http.StatusUnauthorized || hasCode(terr, transport.UnauthorizedErrorCode):
		if authSent {
			return ErrUnauthorized, fmt.Sprintf("authentication required for %s (%s): the registry rejected the stored credentials; run `builder login %s`", where, status, reg)
		}
		return ErrUnauthorized, fmt.Sprintf("authentication required for %s (%s): run `builder login %s`", where, status, reg)
	case terr.StatusCode == http.StatusForbidden || hasCode(terr, transport.DeniedErrorCode):
		return ErrDenied, fmt.Sprintf("access to %s denied (%s): the account lacks permission for this repository", where, status)
	case hasCode(terr, transport.NameUnknownErrorCode):
		return ErrNotFound, fmt.Sprintf("repository %s not found (%s)", where, status)
	case hasCode(terr, transport.ManifestUnknownErrorCode):
		return ErrNotFound, fmt.Sprintf("no such tag or digest in %s (%s)", where, status)
	case terr.StatusCode == http.StatusNotFound:
		return ErrNotFound, fmt.Sprintf("not found in %s (%s)", where, status)
	case hasCode(terr, transport.ManifestInvalidErrorCode), hasCode(terr, transport.ManifestBlobUnknownErrorCode),
		hasCode(terr, transport.DigestInvalidErrorCode), hasCode(terr, transport.SizeInvalidErrorCode),
		hasCode(terr, transport.BlobUploadInvalidErrorCode):
		return ErrInvalid, fmt.Sprintf("%s rejected the upload as invalid (%s): %s", reg, status, messages(terr))
	}
	return nil, fmt.Sprintf("%s answered %s: %s", where, status, redactErr(terr))
}

func describeTLS(err error, host string) (error, string) {
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &cve), errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci):
		return ErrTLS, fmt.Sprintf("TLS certificate of %s not trusted: %s; pass --ca-file with the registry's CA certificate, or --insecure-registry %s if it serves plain HTTP", host, tlsCause(err), host)
	case errors.As(err, &rh), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return ErrTLS, fmt.Sprintf("%s does not speak TLS: pass --insecure-registry %s to use plain HTTP", host, host)
	}
	return nil, ""
}

func describeNetwork(err error, host string) (error, string) {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrUnreachable, fmt.Sprintf("cannot connect to %s: connection refused", host)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return ErrUnreachable, fmt.Sprintf("connection to %s lost: %s", host, redactErr(err))
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return ErrUnreachable, fmt.Sprintf("cannot resolve %s: %s", host, dns.Err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrUnreachable, fmt.Sprintf("timed out talking to %s: %s", host, redactErr(err))
	}
	return nil, redactErr(err)
}

// tlsCause is the innermost certificate error, without the request line around it.
func tlsCause(err error) string {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && cve.Err != nil {
		return cve.Err.Error()
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	return err.Error()
}

func hasCode(terr *transport.Error, code transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

func diagnosticCodes(terr *transport.Error) string {
	codes := make([]string, 0, len(terr.Errors))
	for _, d := range terr.Errors {
		codes = append(codes, string(d.Code))
	}
	return strings.Join(codes, ",")
}

func messages(terr *transport.Error) string {
	if len(terr.Errors) == 0 {
		return redactErr(terr)
	}
	msgs := make([]string, 0, len(terr.Errors))
	for _, d := range terr.Errors {
		msgs = append(msgs, d.String())
	}
	return redactString(strings.Join(msgs, "; "))
}

var urlQuery = regexp.MustCompile(`(https?://[^\s?"']*)\?[^\s"']*`)

// redactErr is err's text with URL query strings removed: upload locations and
// pre-signed blob URLs carry state and tokens there.
func redactErr(err error) string { return redactString(err.Error()) }

func redactString(s string) string { return urlQuery.ReplaceAllString(s, "$1?REDACTED") }
