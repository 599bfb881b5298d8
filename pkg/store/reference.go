package store

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ParseReference parses an image reference by Docker's rules: "busybox" is
// docker.io/library/busybox:latest.
func ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %w", s, err)
	}
	return ref, nil
}

// NormalName is the reference's fully qualified form, as tags are kept in the index:
// "docker.io/library/busybox:latest", "localhost:5000/app@sha256:…".
func NormalName(ref name.Reference) string {
	repo := ref.Context().RepositoryStr()
	reg := ref.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	sep := ":"
	if _, ok := ref.(name.Digest); ok {
		sep = "@"
	}
	return reg + "/" + repo + sep + ref.Identifier()
}

// Normalize parses s and returns its NormalName.
func Normalize(s string) (string, error) {
	ref, err := ParseReference(s)
	if err != nil {
		return "", err
	}
	return NormalName(ref), nil
}

// FamiliarName is the short form people type: "busybox:latest", "team/app:1",
// "localhost:5000/app:1".
func FamiliarName(normal string) string {
	if rest, ok := strings.CutPrefix(normal, "docker.io/"); ok {
		return strings.TrimPrefix(rest, "library/")
	}
	return normal
}
