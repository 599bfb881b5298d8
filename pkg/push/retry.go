package push

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// retryStatusCodes are the responses ggcr's transport retries for requests outside a
// blob upload (uploads are retried whole, by the predicate below).
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// backoff is RetryDelay doubled per attempt, Retries+1 attempts in all. ggcr uses the
// same schedule for single requests and for whole blob uploads.
func (c *config) backoff() remote.Backoff {
	return remote.Backoff{
		Duration: c.RetryDelay,
		Factor:   2,
		Jitter:   0.1,
		Steps:    c.Retries + 1,
	}
}

// retryable decides whether err is transient. It is ggcr's default predicate plus
// timeouts, minus cancellation, and it tells Warn about each retry.
func (c *config) retryable(err error) bool {
	if !transient(err) {
		return false
	}
	c.warn("retrying after a transient error: %s", redactErr(err))
	return true
}

func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.EPIPE, syscall.ECONNRESET, syscall.ECONNABORTED, net.ErrClosed} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
