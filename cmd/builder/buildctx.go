package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/dockyard/dockyard/pkg/build"
)

// addInputFlags registers the flags that bring more inputs to a build.
func (f *buildFlags) addInputFlags(fl *pflag.FlagSet) {
	fl.StringArrayVar(&f.secrets, "secret", nil,
		"secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR; repeatable")
}

// secretValues reads the --secret values, by id.
func (f *buildFlags) secretValues() (map[string][]byte, error) {
	if len(f.secrets) == 0 {
		return nil, nil
	}
	out := map[string][]byte{}
	for _, s := range f.secrets {
		id, v, err := build.ParseSecret(s, os.LookupEnv, os.ReadFile)
		if err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, nil
}

// stdinContext handles `builder build -`: the context (a tarball, or a bare Dockerfile)
// comes on stdin. It returns the directory to build in and a cleanup; for any other
// CONTEXT it returns it unchanged. -f then names a file inside the tarball, as in docker.
func (f *buildFlags) stdinContext(ctx context.Context, contextDir string, stdin io.Reader) (string, func(), error) {
	if contextDir != "-" {
		return contextDir, func() {}, nil
	}
	if f.file == "-" {
		return "", nil, fmt.Errorf("the context and the Dockerfile cannot both come from stdin (-f - with context -)")
	}
	tmp, err := os.MkdirTemp("", "dockyard-context-")
	if err != nil {
		return "", nil, fmt.Errorf("build context: %w", err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	dir := filepath.Join(tmp, "context")
	df, err := build.ReadContext(ctx, stdin, dir)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	switch {
	case df != nil:
		// A Dockerfile alone: kept beside the (empty) context, not in it.
		p := filepath.Join(tmp, "Dockerfile")
		if err := os.WriteFile(p, df, 0o600); err != nil {
			cleanup()
			return "", nil, err
		}
		f.file = p
	case f.file != "":
		f.file = filepath.Join(dir, filepath.Clean("/"+f.file))
	}
	return dir, cleanup, nil
}
