package dockerfile

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// summarize renders a parsed Dockerfile as text for the golden tests: every field a
// consumer of this package reads, one instruction per line.
func summarize(d *Dockerfile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name=%q syntax=%q escape=%q\n", d.Name, d.Syntax, string(d.Escape))
	for _, a := range d.MetaArgs {
		fmt.Fprintf(&b, "meta %d %s\n", commandLine(a.Location()), describe(&a))
	}
	for _, s := range d.Stages {
		fmt.Fprintf(&b, "stage %d line=%d name=%q base=%q platform=%q\n", s.Index, s.Line, s.Name, s.BaseName, s.Platform)
		for _, c := range s.Commands {
			line := describe(c)
			if r, ok := c.(*instructions.RunCommand); ok {
				line = describeRun(r, false)
			}
			fmt.Fprintf(&b, "  %d %s\n", commandLine(c.Location()), line)
		}
	}
	return b.String()
}

func describe(c instructions.Command) string {
	switch c := c.(type) {
	case *instructions.RunCommand:
		return describeRun(c, true)
	case *instructions.CopyCommand:
		return fmt.Sprintf("COPY from=%q chown=%q chmod=%q link=%v parents=%v exclude=%q %s",
			c.From, c.Chown, c.Chmod, c.Link, c.Parents, c.ExcludePatterns, describeSources(c.SourcesAndDest))
	case *instructions.AddCommand:
		return fmt.Sprintf("ADD chown=%q chmod=%q link=%v checksum=%q keep-git-dir=%s unpack=%s exclude=%q %s",
			c.Chown, c.Chmod, c.Link, c.Checksum, optBool(c.KeepGitDir), optBool(c.Unpack), c.ExcludePatterns,
			describeSources(c.SourcesAndDest))
	case *instructions.EnvCommand:
		return "ENV " + describePairs(c.Env)
	case *instructions.LabelCommand:
		return "LABEL " + describePairs(c.Labels)
	case *instructions.ArgCommand:
		var parts []string
		for _, a := range c.Args {
			if a.Value == nil {
				parts = append(parts, a.Key)
			} else {
				parts = append(parts, fmt.Sprintf("%s=%q", a.Key, *a.Value))
			}
		}
		return "ARG " + strings.Join(parts, " ")
	case *instructions.CmdCommand:
		return fmt.Sprintf("CMD shell=%v %q", c.PrependShell, c.CmdLine)
	case *instructions.EntrypointCommand:
		return fmt.Sprintf("ENTRYPOINT shell=%v %q", c.PrependShell, c.CmdLine)
	case *instructions.HealthCheckCommand:
		h := c.Health
		return fmt.Sprintf("HEALTHCHECK test=%q interval=%v timeout=%v start-period=%v start-interval=%v retries=%d",
			h.Test, h.Interval, h.Timeout, h.StartPeriod, h.StartInterval, h.Retries)
	default:
		return describeSimple(c)
	}
}

func describeSimple(c instructions.Command) string {
	switch c := c.(type) {
	case *instructions.WorkdirCommand:
		return fmt.Sprintf("WORKDIR %q", c.Path)
	case *instructions.UserCommand:
		return fmt.Sprintf("USER %q", c.User)
	case *instructions.ExposeCommand:
		return fmt.Sprintf("EXPOSE %q", c.Ports)
	case *instructions.VolumeCommand:
		return fmt.Sprintf("VOLUME %q", c.Volumes)
	case *instructions.ShellCommand:
		return fmt.Sprintf("SHELL %q", c.Shell)
	case *instructions.StopSignalCommand:
		return fmt.Sprintf("STOPSIGNAL %q", c.Signal)
	case *instructions.OnbuildCommand:
		return fmt.Sprintf("ONBUILD %q", c.Expression)
	case *instructions.MaintainerCommand:
		return fmt.Sprintf("MAINTAINER %q", c.Maintainer)
	}
	return fmt.Sprintf("%T", c)
}

// describeRun shows all mount options only once expanded: before, BuildKit has parsed
// nothing but from=.
func describeRun(c *instructions.RunCommand, expanded bool) string {
	s := fmt.Sprintf("RUN shell=%v %q network=%s security=%s", c.PrependShell, c.CmdLine,
		instructions.GetNetwork(c), instructions.GetSecurity(c))
	for _, m := range instructions.GetMounts(c) {
		if !expanded {
			s += fmt.Sprintf(" mount{from=%q}", m.From)
			continue
		}
		s += fmt.Sprintf(" mount{type=%s from=%q source=%q target=%q id=%q ro=%v}",
			m.Type, m.From, m.Source, m.Target, m.CacheID, m.ReadOnly)
	}
	for _, f := range c.Files {
		s += fmt.Sprintf(" heredoc{name=%q chomp=%v data=%q}", f.Name, f.Chomp, f.Data)
	}
	return s
}

func describeSources(s instructions.SourcesAndDest) string {
	out := fmt.Sprintf("src=%q dest=%q", s.SourcePaths, s.DestPath)
	for _, c := range s.SourceContents {
		out += fmt.Sprintf(" heredoc{path=%q expand=%v data=%q}", c.Path, c.Expand, c.Data)
	}
	return out
}

func describePairs(kvs instructions.KeyValuePairs) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = fmt.Sprintf("%q=%q", kv.Key, kv.Value)
	}
	return strings.Join(parts, " ")
}

func optBool(b *bool) string {
	if b == nil {
		return "unset"
	}
	return fmt.Sprint(*b)
}
