package runner

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/dockyard/dockyard/pkg/run"
)

// RunOptions are the flags of `runner run`.
type RunOptions struct {
	Image string
	Args  []string // CMD override

	Name       string
	Detach     bool
	AutoRemove bool
	Publish    []string // [IP:]HOST:CONTAINER[/tcp|udp]
	PublishAll bool     // -P: every EXPOSE to a free port
	Volumes    []string // HOST:CTR[:ro], NAME:CTR[:ro], CTR
	Env        []string // K=V, or K to copy it from this environment
	EnvFiles   []string
	Workdir    string
	User       string
	Entrypoint *string // nil: the image's; "" clears it
	Hostname   string
	Network    string // private (default), host, none
	ReadOnly   bool
	Limits     run.Limits
	Init       bool
	Restart    string // no, on-failure[:N], always, unless-stopped
	Labels     map[string]string
	Pull       string // missing (the default), always, never

	Interactive bool // -i: stdin open
	TTY         bool // -t: a pty
	// Attached streams (not detached): Stdin is read only with Interactive; with TTY,
	// Stdout carries everything. Resize delivers the terminal's new size.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	ConsoleSize    *[2]uint16
	Resize         <-chan [2]uint16
	// Signals are forwarded to the container while attached (docker's --sig-proxy).
	Signals <-chan os.Signal
	// Warn receives notes for the user (ports discarded, no outbound network, ...).
	Warn func(string)
}

// PortBinding is one published port.
type PortBinding struct {
	HostIP        string `json:"hostIp"`
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Proto         string `json:"proto"` // tcp or udp
}

func (p PortBinding) String() string {
	return fmt.Sprintf("%s->%d/%s", net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort)), p.ContainerPort, p.Proto)
}

// ParsePublish parses docker's -p syntax: [IP:][HOST:]CONTAINER[/PROTO]. A missing host
// port means any free one; a missing IP means every address (0.0.0.0).
func ParsePublish(s string) (PortBinding, error) {
	spec, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return PortBinding{}, fmt.Errorf("publish %q: unsupported protocol %q (want tcp or udp)", s, proto)
	}
	var ip, host, ctr string
	if strings.HasPrefix(spec, "[") { // [::1]:8000:80
		end := strings.Index(spec, "]")
		if end < 0 {
			return PortBinding{}, fmt.Errorf("publish %q: unterminated IPv6 address", s)
		}
		ip, spec = spec[1:end], strings.TrimPrefix(spec[end+1:], ":")
	}
	parts := strings.Split(spec, ":")
	switch {
	case len(parts) == 1:
		ctr = parts[0]
	case len(parts) == 2 && ip == "":
		host, ctr = parts[0], parts[1]
	case len(parts) == 2:
		host, ctr = parts[0], parts[1]
	case len(parts) == 3 && ip == "":
		ip, host, ctr = parts[0], parts[1], parts[2]
	default:
		return PortBinding{}, fmt.Errorf("publish %q: want [IP:][HOST:]CONTAINER[/tcp|udp]", s)
	}
	b := PortBinding{HostIP: ip, Proto: proto}
	if b.HostIP == "" {
		b.HostIP = "0.0.0.0"
	} else if net.ParseIP(b.HostIP) == nil {
		return PortBinding{}, fmt.Errorf("publish %q: invalid IP address %q", s, b.HostIP)
	}
	var err error
	if b.ContainerPort, err = parsePort(ctr, false); err != nil {
		return PortBinding{}, fmt.Errorf("publish %q: container port: %w", s, err)
	}
	if host != "" {
		if b.HostPort, err = parsePort(host, true); err != nil {
			return PortBinding{}, fmt.Errorf("publish %q: host port: %w", s, err)
		}
	}
	return b, nil
}

func parsePort(s string, zeroOK bool) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return n, nil
}

// parseExposed turns an image's ExposedPorts key ("8080/tcp", "53/udp", "80") into a
// binding to any free host port.
func parseExposed(key string) (PortBinding, error) {
	return ParsePublish(key)
}

// Volume is a mount of a host dir or a volume into the container.
type Volume struct {
	Type        string `json:"type"` // bind or volume
	Name        string `json:"name,omitempty"`
	Source      string `json:"source"` // host path (for volumes: its _data dir)
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	Anonymous   bool   `json:"anonymous,omitempty"`
}

// ParseVolume parses -v: HOST:CTR[:ro|rw], NAME:CTR[:ro|rw], or CTR (an anonymous volume).
// A source starting with "/" or "." is a host path.
func ParseVolume(s string) (Volume, error) {
	parts := strings.Split(s, ":")
	var v Volume
	switch len(parts) {
	case 1:
		v = Volume{Type: "volume", Destination: parts[0], Anonymous: true}
	case 2, 3:
		v = Volume{Type: "volume", Name: parts[0], Destination: parts[1]}
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				v.ReadOnly = true
			case "rw":
			default:
				return Volume{}, fmt.Errorf("volume %q: unknown mode %q (want ro or rw)", s, parts[2])
			}
		}
	default:
		return Volume{}, fmt.Errorf("volume %q: want SOURCE:DEST[:ro]", s)
	}
	if !strings.HasPrefix(v.Destination, "/") {
		return Volume{}, fmt.Errorf("volume %q: destination %q is not an absolute path", s, v.Destination)
	}
	if strings.HasPrefix(v.Name, "/") || strings.HasPrefix(v.Name, ".") {
		v.Type, v.Source, v.Name = "bind", v.Name, ""
	} else if v.Name != "" && !validName.MatchString(v.Name) {
		return Volume{}, fmt.Errorf("volume %q: invalid volume name %q", s, v.Name)
	}
	return v, nil
}

// RestartPolicy is --restart.
type RestartPolicy struct {
	Name       string `json:"name"` // no, on-failure, always, unless-stopped
	MaxRetries int    `json:"maxRetries,omitempty"`
}

// ParseRestart parses no | on-failure[:N] | always | unless-stopped.
func ParseRestart(s string) (RestartPolicy, error) {
	name, max, hasMax := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 {
				return p, fmt.Errorf("restart policy %q: invalid maximum retry count %q", s, max)
			}
			p.MaxRetries = n
		}
		return p, nil
	default:
		return p, fmt.Errorf("invalid restart policy %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if hasMax {
		return p, fmt.Errorf("restart policy %q: a retry count is only valid with on-failure", s)
	}
	return p, nil
}

// shouldRestart applies the policy to an exit; count is the restarts so far.
func (p RestartPolicy) shouldRestart(code, count int) bool {
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaxRetries == 0 || count < p.MaxRetries)
	}
	return false
}

// buildEnv merges, in order: the image's Env, the env files, and -e flags. A later
// definition of a key replaces an earlier one in place; "-e KEY" copies KEY from this
// process's environment, or drops it when unset (docker's rules).
func buildEnv(image []string, files, flags []string) ([]string, error) {
	out := append([]string(nil), image...)
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i] = kv
				return
			}
		}
		out = append(out, kv)
	}
	add := func(kv string) error {
		if kv == "" || strings.HasPrefix(kv, "=") {
			return fmt.Errorf("invalid environment variable %q", kv)
		}
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				return nil
			}
			kv += "=" + v
		}
		set(kv)
		return nil
	}
	for _, path := range files {
		lines, err := readEnvFile(path)
		if err != nil {
			return nil, err
		}
		for _, kv := range lines {
			if err := add(kv); err != nil {
				return nil, fmt.Errorf("env file %s: %w", path, err)
			}
		}
	}
	for _, kv := range flags {
		if err := add(kv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readEnvFile reads KEY=VALUE lines; blank lines and lines starting with # are skipped.
// Values are taken literally, quotes included, as docker does.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file %s: %w", path, err)
	}
	return out, nil
}

// command applies docker's ENTRYPOINT/CMD rules: --entrypoint replaces the image's
// entrypoint and drops its CMD; arguments replace CMD.
func command(imgEntrypoint, imgCmd []string, entrypoint *string, args []string) (ep, cmd []string) {
	ep, cmd = imgEntrypoint, imgCmd
	if entrypoint != nil {
		ep, cmd = nil, nil
		if *entrypoint != "" {
			ep = []string{*entrypoint}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	return ep, cmd
}
