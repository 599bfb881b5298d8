package dockerfile

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// InlineScript is a file BuildKit mounts read-only for a RUN whose only argument is a
// heredoc starting with "#!": the heredoc is written to Path (mode 0755) and run.
type InlineScript struct {
	Path string // always under /dev/pipes/
	Data string
}

// DefaultShell is the shell BuildKit prepends to shell-form commands when the image
// config sets none.
func DefaultShell(os string) []string {
	if os == "windows" {
		return []string{"cmd", "/S", "/C"}
	}
	return []string{"/bin/sh", "-c"}
}

// WithShell is BuildKit's rule for shell-form RUN, CMD and ENTRYPOINT: the shell (the
// image config's Shell, else DefaultShell(os)) followed by the command line as one word.
// Exec form (prependShell false) is returned unchanged.
func WithShell(shell []string, os string, cmdline []string, prependShell bool) []string {
	if !prependShell {
		return slices.Clone(cmdline)
	}
	if len(shell) == 0 {
		shell = DefaultShell(os)
	}
	return append(slices.Clone(shell), strings.Join(cmdline, " "))
}

// RunArgs is the argv of a RUN as BuildKit builds it, heredocs included (BuildKit
// dispatchRun): `RUN <<EOF` runs the body with the shell, or, when the body starts with
// "#!" (not on Windows), as the returned script; a heredoc among other words is handed to
// the shell as a here-document. shell and os come from the image config.
func RunArgs(c *instructions.RunCommand, shell []string, os string) ([]string, *InlineScript, error) {
	args := c.CmdLine
	var script *InlineScript
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return nil, nil, fmt.Errorf("parsing produced an invalid run command: %v", args)
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if os != "windows" && strings.HasPrefix(data, "#!") {
				script = &InlineScript{Path: path.Join("/dev/pipes", c.Files[0].Name), Data: data}
				args = []string{script.Path}
			} else {
				args = []string{data}
			}
		} else {
			var b strings.Builder
			b.WriteString(args[0])
			for _, f := range c.Files {
				b.WriteByte('\n')
				b.WriteString(f.Data)
				b.WriteString(f.Name)
			}
			args = []string{b.String()}
		}
	}
	return WithShell(shell, os, args, c.PrependShell), script, nil
}
