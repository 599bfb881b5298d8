package run

import (
	"errors"
	"regexp"
	"strings"
)

// Exit codes for a command that could not be executed, as docker and POSIX shells use.
const (
	ExitNotExecutable = 126
	ExitNotFound      = 127
)

// ExecError reports that the container's process was set up but its command could
// not be executed. Code is ExitNotFound or ExitNotExecutable.
type ExecError struct {
	Code   int
	Reason string // e.g. `exec: "foo": executable file not found in $PATH`
	Err    error  // libcontainer's full error
}

func (e *ExecError) Error() string { return e.Reason }
func (e *ExecError) Unwrap() error { return e.Err }

// execFailure matches exec.LookPath's error, which is how libcontainer's init reports
// a missing or non-executable command. Init sends errors back as text, so the
// message is all there is to go on.
var execFailure = regexp.MustCompile(`exec: "[^"]*": [^:;]*(: [^;]*)?`)

// asExecError returns an *ExecError if err is a failure to exec the command, or err.
func asExecError(err error) error {
	if err == nil {
		return nil
	}
	reason := execFailure.FindString(err.Error())
	if reason == "" {
		return err
	}
	code := ExitNotExecutable
	switch {
	case strings.Contains(reason, "executable file not found"),
		strings.Contains(reason, "no such file or directory"),
		strings.Contains(reason, "not a directory"):
		code = ExitNotFound
	}
	return &ExecError{Code: code, Reason: reason, Err: err}
}

// exitCodeOf returns the exit code a failed start stands for: 126/127 for an
// ExecError, -1 otherwise.
func exitCodeOf(err error) int {
	var ee *ExecError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}
