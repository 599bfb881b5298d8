package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
)

// PsOptions are the flags of `runner ps`.
type PsOptions struct {
	All     bool   // stopped ones too
	Quiet   bool   // ids only
	Format  string // "" (table) or "json"
	NoTrunc bool
}

// List returns the containers, newest first; running ones only unless all.
func (m *Manager) List(ctx context.Context, all bool) ([]*Container, error) {
	cs, err := m.list()
	if err != nil {
		return nil, err
	}
	if all {
		return cs, nil
	}
	out := cs[:0]
	for _, c := range cs {
		if c.Running() {
			out = append(out, c)
		}
	}
	return out, nil
}

// Ps writes `runner ps` output.
func (m *Manager) Ps(ctx context.Context, w io.Writer, o PsOptions) error {
	cs, err := m.List(ctx, o.All)
	if err != nil {
		return err
	}
	now := time.Now()
	switch {
	case o.Quiet:
		for _, c := range cs {
			fmt.Fprintln(w, idOf(c, o.NoTrunc))
		}
		return nil
	case o.Format == "json":
		enc := json.NewEncoder(w)
		for _, c := range cs {
			if err := enc.Encode(psJSON(c, now)); err != nil {
				return err
			}
		}
		return nil
	case o.Format != "" && o.Format != "table":
		return fmt.Errorf("ps: unknown format %q (want table or json)", o.Format)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for _, c := range cs {
		cmd := strings.Join(c.Args, " ")
		if !o.NoTrunc {
			cmd = ellipsis(cmd, 20)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", idOf(c, o.NoTrunc), c.Image, strconv.Quote(cmd),
			units.HumanDuration(now.Sub(c.Created))+" ago", StatusText(c, now), portsText(c), c.Name)
	}
	return tw.Flush()
}

func idOf(c *Container, full bool) string {
	if full {
		return c.ID
	}
	return c.ShortID()
}

// StatusText is docker's STATUS column: "Up 5 seconds", "Exited (0) 2 minutes ago",
// "Restarting (1) 3 seconds ago", "Created".
func StatusText(c *Container, now time.Time) string {
	st := c.State
	switch st.Status {
	case StatusRunning:
		return "Up " + units.HumanDuration(now.Sub(st.StartedAt))
	case StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	case StatusExited:
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	}
	return "Created"
}

// portsText is the PORTS column: "0.0.0.0:8000->8080/tcp, 127.0.0.1:9000->9000/udp".
// Only a running container's ports are bound.
func portsText(c *Container) string {
	if !c.Running() {
		return ""
	}
	var parts []string
	for _, p := range c.State.Ports {
		parts = append(parts, p.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// ellipsis shortens s to max runes, the last being "…".
func ellipsis(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// psJSON is one line of `ps --format json`, with docker's keys.
func psJSON(c *Container, now time.Time) map[string]string {
	return map[string]string{
		"ID":         c.ShortID(),
		"Image":      c.Image,
		"Command":    strconv.Quote(ellipsis(strings.Join(c.Args, " "), 20)),
		"CreatedAt":  c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		"RunningFor": units.HumanDuration(now.Sub(c.Created)) + " ago",
		"Status":     StatusText(c, now),
		"State":      string(c.State.Status),
		"Ports":      portsText(c),
		"Names":      c.Name,
		"Networks":   c.Network,
		"Labels":     labelsText(c.Labels),
		"Mounts":     mountsText(c.Volumes),
	}
}

func labelsText(l map[string]string) string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func mountsText(vs []Volume) string {
	var parts []string
	for _, v := range vs {
		if v.Type == "volume" {
			parts = append(parts, ellipsis(v.Name, 15))
		} else {
			parts = append(parts, v.Source)
		}
	}
	return strings.Join(parts, ",")
}

// Port returns a running container's published ports, as `runner port` prints them:
// "8080/tcp -> 0.0.0.0:8000".
func (m *Manager) Port(ctx context.Context, ref string) ([]string, error) {
	c, err := m.get(ref)
	if err != nil {
		return nil, err
	}
	var out []string
	if !c.Running() {
		return nil, nil
	}
	for _, p := range c.State.Ports {
		out = append(out, fmt.Sprintf("%d/%s -> %s", p.ContainerPort, p.Proto, strings.TrimSuffix(p.String(), fmt.Sprintf("->%d/%s", p.ContainerPort, p.Proto))))
	}
	sort.Strings(out)
	return out, nil
}
