package dockerfile

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultPlatform is the platform of this process, the default build platform.
func DefaultPlatform() v1.Platform {
	return normalizePlatform(v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH})
}

// FormatPlatform renders p as BuildKit's BUILDPLATFORM/TARGETPLATFORM do: os/arch[/variant].
func FormatPlatform(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// knownOS are the GOOS values containerd's platforms.Parse accepts on their own.
var knownOS = map[string]bool{
	"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true,
	"illumos": true, "ios": true, "js": true, "linux": true, "netbsd": true,
	"openbsd": true, "plan9": true, "solaris": true, "wasip1": true, "windows": true,
}

// ParsePlatform reads a --platform value as containerd's platforms.Parse (which BuildKit
// uses) does: os[/arch[/variant]], or an architecture alone, completed from this host and
// normalized, so "linux/aarch64" is linux/arm64 and "armhf" is linux/arm/v7.
func ParsePlatform(s string) (v1.Platform, error) {
	host := DefaultPlatform()
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	for _, part := range parts {
		if part == "" {
			return v1.Platform{}, fmt.Errorf("invalid platform %q: empty component", s)
		}
	}
	var p v1.Platform
	switch len(parts) {
	case 1:
		if knownOS[parts[0]] {
			p = v1.Platform{OS: parts[0], Architecture: host.Architecture, Variant: host.Variant}
		} else {
			p = v1.Platform{OS: host.OS, Architecture: parts[0]}
		}
	case 2:
		p = v1.Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = v1.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return v1.Platform{}, fmt.Errorf("invalid platform %q: want os[/arch[/variant]]", s)
	}
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	return normalizePlatform(p), nil
}

// normalizePlatform maps architecture aliases to their GOARCH names and default variants,
// following containerd's platforms.Normalize.
func normalizePlatform(p v1.Platform) v1.Platform {
	switch p.Architecture {
	case "i386":
		p.Architecture, p.Variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		p.Architecture = "amd64"
		if p.Variant == "v1" {
			p.Variant = ""
		}
	case "aarch64", "arm64":
		p.Architecture = "arm64"
		if p.Variant == "8" || p.Variant == "v8" || p.Variant == "v8.0" {
			p.Variant = ""
		}
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "arm":
		switch p.Variant {
		case "", "7":
			p.Variant = "v7"
		case "5", "6", "8":
			p.Variant = "v" + p.Variant
		}
	}
	return p
}
