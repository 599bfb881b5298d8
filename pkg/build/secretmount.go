package build

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/snapshot"
)

// secretMount shows a build secret to one RUN, BuildKit's dispatchSecret: as a read-only
// file (target, default /run/secrets/<id>; mode 0400 and 0:0 unless set) and/or as an
// environment variable (env=). The value lives in the build's scratch space only while
// the step runs: it is in no layer (the target is a stub), no history entry and no cache
// key. A missing secret is an error only with required=true.
func (s *stage) secretMount(r *runMounts, m *instructions.Mount) error {
	id := m.CacheID
	if m.Source != "" {
		id = m.Source
	}
	if id == "" {
		if m.Target == "" {
			return errors.New("one of source, target required")
		}
		id = path.Base(m.Target)
	}
	value, ok := s.b.opts.Secrets[id]
	if !ok {
		if m.Required {
			return fmt.Errorf("secret %s: not provided (builder build --secret id=%s,src=FILE)", id, id)
		}
		return nil
	}
	if m.Env != nil {
		name := *m.Env
		if name == "" {
			name = id
		}
		r.env = append(r.env, name+"="+string(value))
		if m.Target == "" {
			return nil
		}
	}
	target := m.Target
	if target == "" {
		target = "/run/secrets/" + path.Base(id)
	}
	target, err := s.mountTarget(target)
	if err != nil {
		return err
	}
	file, err := s.secretFile(r, value, m)
	if err != nil {
		return fmt.Errorf("secret %s: %w", id, err)
	}
	r.mounts = append(r.mounts, run.Mount{Source: file, Destination: target, ReadOnly: true})
	r.stubs = append(r.stubs, snapshot.Stub{Path: target})
	r.key = append(r.key, "secret", id, target) // the name, never the value
	return nil
}

// secretFile writes a secret to a private scratch file, removed when the step ends.
func (s *stage) secretFile(r *runMounts, value []byte, m *instructions.Mount) (string, error) {
	uid, gid, mode := mountOwner(m, 0o400)
	f, err := os.CreateTemp(s.b.scratch, "secret-")
	if err != nil {
		return "", err
	}
	r.cleanup = append(r.cleanup, func() { os.Remove(f.Name()) })
	_, err = f.Write(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Lchown(f.Name(), uid, gid); err != nil {
		return "", err
	}
	return f.Name(), unix.Chmod(f.Name(), mode)
}

// ParseSecret parses a --secret value: id=ID with src=FILE (or source=) or env=VAR; with
// neither, the variable named ID if set, else a file named ID (buildx's rule). lookupEnv
// and readFile are os.LookupEnv and os.ReadFile outside tests.
func ParseSecret(s string, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (string, []byte, error) {
	var id, src, env, typ string
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", nil, fmt.Errorf("--secret %s: %q is not key=value", s, kv)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "id":
			id = v
		case "src", "source":
			src = v
		case "env":
			env = v
		case "type":
			typ = v
		default:
			return "", nil, fmt.Errorf("--secret %s: unknown key %q", s, k)
		}
	}
	if id == "" {
		return "", nil, fmt.Errorf("--secret %s: id= is required", s)
	}
	switch {
	case typ != "" && typ != "file" && typ != "env":
		return "", nil, fmt.Errorf("--secret %s: type must be file or env", s)
	case src != "" && env != "":
		return "", nil, fmt.Errorf("--secret %s: src= and env= exclude each other", s)
	case env == "" && src == "" && typ == "env":
		env = id
	case env == "" && src == "" && typ == "":
		if _, ok := lookupEnv(id); ok {
			env = id
		} else {
			src = id
		}
	case src == "" && env == "":
		src = id
	}
	if env != "" {
		v, ok := lookupEnv(env)
		if !ok {
			return "", nil, fmt.Errorf("--secret %s: environment variable %s is not set", s, env)
		}
		return id, []byte(v), nil
	}
	data, err := readFile(src)
	if err != nil {
		return "", nil, fmt.Errorf("--secret %s: %w", s, err)
	}
	return id, data, nil
}
