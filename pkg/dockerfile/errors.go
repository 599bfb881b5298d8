package dockerfile

import (
	"errors"
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Error is a problem found in a Dockerfile. It prints as "NAME:LINE: message" so users can
// jump to the line; Line is 0 for problems that concern the whole file ("NAME: message").
// The executor can use it too (see Dockerfile.ErrorAt) so build failures read the same way.
type Error struct {
	File string // ParseOptions.Name
	Line int    // 1-based line of the instruction; 0 when no line applies
	Err  error  // the cause, without location
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorAt places err at line of this Dockerfile. An *Error is returned unchanged, so
// wrapping twice never prints two locations.
func (d *Dockerfile) ErrorAt(line int, err error) error {
	return locate(d.Name, line, err)
}

// locate turns err into an *Error. BuildKit's parser packages attach the source range to
// their errors (parser.LocationError) and prefix nothing useful, so the range wins over
// fallbackLine and the message is taken from the error the range wraps.
func locate(file string, fallbackLine int, err error) error {
	if err == nil {
		return nil
	}
	var ours *Error
	if errors.As(err, &ours) {
		return err
	}
	var le *parser.LocationError
	if errors.As(err, &le) {
		line := fallbackLine
		if l := firstLine(le.Locations); l > 0 {
			line = l
		}
		if inner := le.Unwrap(); inner != nil {
			err = inner
		}
		return &Error{File: file, Line: line, Err: err}
	}
	return &Error{File: file, Line: fallbackLine, Err: err}
}

// firstLine is the start of the innermost range: WithLocation appends outer locations.
func firstLine(locs [][]parser.Range) int {
	for _, rs := range locs {
		if len(rs) > 0 {
			return rs[0].Start.Line
		}
	}
	return 0
}

// commandLine is the line an instruction starts on (0 if unknown).
func commandLine(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}
