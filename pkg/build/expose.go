package build

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// parseExposed turns EXPOSE arguments ([ip:][hostPort:]port[-end][/proto]) into the
// "port/proto" keys of the image config, one per port of a range, as BuildKit does.
func parseExposed(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		ports, err := parseExposedPort(spec)
		if err != nil {
			return nil, fmt.Errorf("invalid port: %q: %w", spec, err)
		}
		out = append(out, ports...)
	}
	return out, nil
}

func parseExposedPort(spec string) ([]string, error) {
	ip, hostPort, ctrPort := splitPortParts(spec)
	port, proto, _ := strings.Cut(ctrPort, "/")
	if port == "" {
		return nil, errors.New("no port specified")
	}
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	if ip != "" && net.ParseIP(strings.Trim(ip, "[]")) == nil {
		return nil, fmt.Errorf("invalid IP address: %s", ip)
	}
	start, end, err := portRange(port)
	if err != nil {
		return nil, err
	}
	if hostPort != "" {
		hs, he, err := portRange(hostPort)
		if err != nil {
			return nil, fmt.Errorf("invalid hostPort: %s", hostPort)
		}
		if end-start != he-hs && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", port, hostPort)
		}
	}
	ports := make([]string, 0, end-start+1)
	for p := start; p <= end; p++ {
		ports = append(ports, strconv.Itoa(p)+"/"+proto)
	}
	return ports, nil
}

// splitPortParts splits [ip:][hostPort:]containerPort, with IPv6 addresses in brackets.
func splitPortParts(spec string) (ip, host, ctr string) {
	if i := strings.LastIndex(spec, "]"); i >= 0 && strings.HasPrefix(spec, "[") {
		ip, spec = spec[:i+1], strings.TrimPrefix(spec[i+1:], ":")
		parts := strings.Split(spec, ":")
		if len(parts) == 2 {
			return ip, parts[0], parts[1]
		}
		return ip, "", spec
	}
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	default:
		return parts[0], parts[1], parts[len(parts)-1]
	}
}

func portRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := portNumber(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange || a == b {
		return start, start, nil
	}
	end, err := portNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("invalid port range: %s", s)
	}
	return start, end, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range (0-65535)", n)
	}
	return n, nil
}
