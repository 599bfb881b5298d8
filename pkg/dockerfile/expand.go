package dockerfile

import (
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Expander expands ARG/ENV references the way BuildKit's dispatcher does, with shell.Lex
// and the Dockerfile's escape character. It is not safe for concurrent use.
type Expander struct {
	lex *shell.Lex
	// raw expands unquoted heredoc bodies of COPY/ADD: BuildKit uses the default escape
	// character there and keeps quotes, since the body is file content, not a word.
	raw *shell.Lex
}

// NewExpander returns an Expander for a Dockerfile whose escape character is escape
// (Dockerfile.Escape; 0 means '\\').
func NewExpander(escape rune) *Expander {
	if escape == 0 {
		escape = '\\'
	}
	raw := shell.NewLex('\\')
	raw.SkipProcessQuotes = true
	return &Expander{lex: shell.NewLex(escape), raw: raw}
}

// Word expands one word against env ("K=V" entries, a later entry wins). Quotes are
// processed as the shell would: `"a b"` becomes `a b`.
func (e *Expander) Word(word string, env []string) (string, error) {
	return e.word(word, shell.EnvsFromSlice(env))
}

func (e *Expander) word(word string, env shell.EnvGetter) (string, error) {
	s, _, err := e.lex.ProcessWord(word, env)
	return s, err
}

// Expand expands cmd in place against env ("K=V", a later entry wins), touching exactly
// what BuildKit touches:
//   - ADD, COPY: sources, destination, --chown, --chmod (ADD: --checksum), and the body of
//     a heredoc whose delimiter is unquoted; never --from or --exclude
//   - ENV, LABEL: keys and values; WORKDIR, USER, VOLUME, STOPSIGNAL: their argument
//   - EXPOSE: each port, split into words after expansion
//   - ARG: default values only (use Vars.Apply for the --build-arg and scope rules)
//   - RUN: only the --mount options; the command itself, shell or exec form, is left to
//     the shell, as are CMD and ENTRYPOINT; HEALTHCHECK, SHELL, ONBUILD, MAINTAINER: nothing
//
// Expansion also removes quotes, so every command must be expanded, once: expanding a
// command twice expands `\$x` twice.
func (e *Expander) Expand(cmd instructions.Command, env []string) error {
	return e.expand(cmd, shell.EnvsFromSlice(env))
}

func (e *Expander) expand(cmd instructions.Command, env shell.EnvGetter) error {
	word := func(w string) (string, error) { return e.word(w, env) }
	switch c := cmd.(type) {
	case *instructions.ArgCommand:
		return e.expandArgDefaults(c, env)
	case *instructions.ExposeCommand:
		return e.expandPorts(c, env)
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if err := ex.Expand(word); err != nil {
			return err
		}
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		return ex.ExpandRaw(func(w string) (string, error) {
			s, _, err := e.raw.ProcessWord(w, env)
			return s, err
		})
	}
	return nil
}

func (e *Expander) expandArgDefaults(c *instructions.ArgCommand, env shell.EnvGetter) error {
	for i, kv := range c.Args {
		if kv.Value == nil {
			continue
		}
		v, err := e.word(*kv.Value, env)
		if err != nil {
			return err
		}
		c.Args[i].Value = &v
	}
	return nil
}

// expandPorts splits after expanding, so `EXPOSE $PORTS` with PORTS="80 443" gives two.
func (e *Expander) expandPorts(c *instructions.ExposeCommand, env shell.EnvGetter) error {
	var ports []string
	for _, p := range c.Ports {
		words, err := e.lex.ProcessWords(p, env)
		if err != nil {
			return err
		}
		ports = append(ports, words...)
	}
	c.Ports = ports
	return nil
}
