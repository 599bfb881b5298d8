package dockerfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const (
	// MaxFileSize is the largest Dockerfile (and .dockerignore) accepted: BuildKit's limit,
	// one gRPC message. It also bounds the memory a hostile file can make us use.
	MaxFileSize = 16 << 20

	// maxLineLen is the longest physical line BuildKit's parser can scan: it uses a
	// bufio.Scanner with the default buffer, which must also hold the newline.
	maxLineLen = bufio.MaxScanTokenSize - 1

	defaultName = "Dockerfile"
)

// ParseOptions configures Parse.
type ParseOptions struct {
	// Name is the file name shown in errors, e.g. "Dockerfile" or "other/Dockerfile".
	// Empty means "Dockerfile".
	Name string
}

// Dockerfile is a parsed Dockerfile: its parser directives, the ARGs before the first FROM
// and the stages in file order. It is not modified by Plan and may be planned many times.
type Dockerfile struct {
	Name     string
	Syntax   string // image of the `# syntax=` directive; recorded, otherwise ignored
	Escape   rune   // from `# escape=` ('\\' by default); also what Expander needs
	MetaArgs []instructions.ArgCommand
	Stages   []*Stage
}

// Stage is one FROM and the instructions up to the next FROM, unexpanded.
type Stage struct {
	Index    int
	Name     string // AS name, lowercased as BuildKit does ("" if none)
	BaseName string // raw FROM argument, not expanded
	Platform string // raw --platform value, not expanded
	Commands []instructions.Command
	Line     int // line of the FROM

	nodes []*parser.Node // the AST of Commands, re-parsed to give every plan fresh copies
}

// escapeToken is the escape character, '\\' for a Dockerfile not made by Parse.
func (d *Dockerfile) escapeToken() rune {
	if d.Escape == 0 {
		return parser.DefaultEscapeToken
	}
	return d.Escape
}

// DisplayName is the name BuildKit uses for the stage in messages: its AS name, or
// "stage-N".
func (s *Stage) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("stage-%d", s.Index)
}

// Parse reads a Dockerfile with BuildKit's parser and turns it into typed stages. Parser
// lint warnings are not reported (a `# check=` directive is accepted and ignored).
func Parse(r io.Reader, opts ParseOptions) (*Dockerfile, error) {
	d := &Dockerfile{Name: opts.Name}
	if d.Name == "" {
		d.Name = defaultName
	}
	dt, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Name, err)
	}
	if len(dt) > MaxFileSize {
		return nil, &Error{File: d.Name, Err: fmt.Errorf("file exceeds maximum allowed size of %d bytes", MaxFileSize)}
	}
	if len(dt) == 0 {
		return nil, &Error{File: d.Name, Err: errors.New("the Dockerfile cannot be empty")}
	}
	if err := checkLines(d.Name, dt); err != nil {
		return nil, err
	}
	if err := checkDirectives(d.Name, dt); err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, locate(d.Name, 0, err)
	}
	d.Escape = res.EscapeToken
	d.Syntax, _, _, _ = parser.DetectSyntax(dt)
	if err := d.addInstructions(res.AST.Children); err != nil {
		return nil, err
	}
	return d, nil
}

// noLint is a linter that reports nothing. A nil *linter.Linter is not safe: BuildKit
// dereferences it when a comment above an instruction holds a `check=` directive.
func noLint() *linter.Linter { return linter.New(&linter.Config{}) }

func (d *Dockerfile) addInstructions(nodes []*parser.Node) error {
	lint := noLint()
	for _, node := range nodes {
		v, err := instructions.ParseInstructionWithLinter(node, lint)
		if err != nil {
			return locate(d.Name, node.StartLine, err)
		}
		switch c := v.(type) {
		case *instructions.Stage:
			d.Stages = append(d.Stages, &Stage{
				Index:    len(d.Stages),
				Name:     c.Name,
				BaseName: c.BaseName,
				Platform: c.Platform,
				Line:     node.StartLine,
			})
		case *instructions.ArgCommand:
			if len(d.Stages) == 0 {
				d.MetaArgs = append(d.MetaArgs, *c)
				continue
			}
			d.appendCommand(c, node)
		case instructions.Command:
			if len(d.Stages) == 0 {
				return &Error{File: d.Name, Line: node.StartLine, Err: fmt.Errorf(
					"%s before the first FROM: only ARG may come before FROM", strings.ToUpper(c.Name()))}
			}
			d.appendCommand(c, node)
		default:
			return &Error{File: d.Name, Line: node.StartLine, Err: fmt.Errorf("%T is not a command type", v)}
		}
	}
	if len(d.Stages) == 0 {
		return &Error{File: d.Name, Err: errors.New("no FROM instruction: the Dockerfile contains no stages to build")}
	}
	return nil
}

func (d *Dockerfile) appendCommand(c instructions.Command, node *parser.Node) {
	s := d.Stages[len(d.Stages)-1]
	s.Commands = append(s.Commands, c)
	s.nodes = append(s.nodes, node)
}

// freshCommands parses the stage's instructions again, so a plan can hand out commands the
// executor may expand in place without touching the Dockerfile or other plans.
func (s *Stage) freshCommands(file string) ([]instructions.Command, error) {
	lint := noLint()
	cmds := make([]instructions.Command, len(s.nodes))
	for i, n := range s.nodes {
		v, err := instructions.ParseInstructionWithLinter(n, lint)
		if err != nil {
			return nil, locate(file, n.StartLine, err)
		}
		c, ok := v.(instructions.Command)
		if !ok {
			return nil, &Error{File: file, Line: n.StartLine, Err: fmt.Errorf("%T is not a command type", v)}
		}
		cmds[i] = c
	}
	return cmds, nil
}

// ParseOnBuild parses one ONBUILD trigger (an image config OnBuild entry, or
// OnbuildCommand.Expression) the way BuildKit does when a child build runs it: as a
// one-instruction Dockerfile with the default escape character.
func ParseOnBuild(expr string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, fmt.Errorf("parse ONBUILD trigger %q: %w", expr, unlocated(err))
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("parse ONBUILD trigger %q: onbuild trigger should be a single expression", expr)
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, fmt.Errorf("parse ONBUILD trigger %q: %w", expr, unlocated(err))
	}
	return cmd, nil
}

// unlocated drops BuildKit's location wrapper, whose lines are meaningless for a trigger.
func unlocated(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && le.Unwrap() != nil {
		return le.Unwrap()
	}
	return err
}

// checkLines reports the first line too long for BuildKit's scanner. Without it the
// scanner stops silently and the parser blames an unrelated line, or the whole file.
func checkLines(file string, dt []byte) error {
	for line := 1; len(dt) > 0; line++ {
		n := bytes.IndexByte(dt, '\n')
		if n < 0 {
			n = len(dt)
		}
		if n > maxLineLen {
			return &Error{File: file, Line: line, Err: fmt.Errorf("line is %d bytes long; the maximum is %d", n, maxLineLen)}
		}
		dt = dt[min(n+1, len(dt)):]
	}
	return nil
}

// checkDirectives validates the parser directives at the top of the file, as BuildKit's
// parser does, but with correct line numbers (BuildKit reports them one line early).
func checkDirectives(file string, dt []byte) error {
	dt = bytes.TrimPrefix(dt, []byte{0xEF, 0xBB, 0xBF})
	var dp parser.DirectiveParser
	for line := 1; len(dt) > 0; line++ {
		raw, rest, _ := bytes.Cut(dt, []byte("\n"))
		dt = rest
		text := bytes.TrimLeftFunc(bytes.TrimRight(raw, "\r\n"), unicode.IsSpace)
		dir, err := dp.ParseLine(text)
		if err != nil {
			return &Error{File: file, Line: line, Err: err}
		}
		if dir == nil {
			return nil // the first line that is not a directive ends them
		}
		if dir.Name == "escape" && dir.Value != "`" && dir.Value != `\` {
			return &Error{File: file, Line: line, Err: fmt.Errorf("invalid escape token '%s' does not match ` or \\", dir.Value)}
		}
	}
	return nil
}
