package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// Registered by name with distribution's factories: storage "filesystem", auth "htpasswd".
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// newApp builds distribution's registry application on filesystem storage under
// opts.Dir, with htpasswd auth when opts.Users is set. It is the handler the registry
// binary serves, minus what the binary adds around it (its own listener, signal
// handling, process-wide logging and health checks, OpenTelemetry).
func newApp(ctx context.Context, opts Options) (app *handlers.App, err error) {
	cfg, err := config(opts)
	if err != nil {
		return nil, err
	}
	// NewApp reports a bad configuration by panicking.
	defer func() {
		if p := recover(); p != nil {
			app, err = nil, fmt.Errorf("configure registry in %s: %v", opts.Dir, p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

func config(opts Options) (*configuration.Configuration, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate upload secret: %w", err)
	}
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": opts.Dir},
			// The purger is a background walk that logs to logrus's global logger; a test
			// registry does not live long enough to leave uploads worth purging.
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
	}
	// Upload URLs carry state signed with this; set, so distribution does not warn.
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	if len(opts.Users) > 0 {
		file := filepath.Join(opts.Dir, "htpasswd")
		if err := writeHtpasswd(file, opts.Users); err != nil {
			return nil, err
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "registrytest", "path": file}}
	}
	return cfg, nil
}

// writeHtpasswd writes users in the htpasswd format distribution reads: bcrypt only.
// It uses bcrypt's minimum cost because the registry checks the password on every
// request, and at the default cost a push would spend most of its time hashing.
func writeHtpasswd(file string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for u := range users {
		if u == "" || strings.ContainsAny(u, ":\n") {
			return fmt.Errorf("htpasswd user %q: empty or holds ':' or a newline", u)
		}
		names = append(names, u)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, u := range names {
		hash, err := bcrypt.GenerateFromPassword([]byte(users[u]), bcrypt.MinCost)
		if err != nil {
			return fmt.Errorf("hash password of %s: %w", u, err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, hash)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write htpasswd: %w", err)
	}
	return nil
}

// dcontextPkg holds distribution's logger lookup key, an unexported type.
const dcontextPkg = "github.com/distribution/distribution/v3/internal/dcontext"

// loggerContext gives one registry a logger of its own. distribution finds its logger
// with ctx.Value(dcontext.loggerKey{}), a key no other package can set, and falls back
// to logrus's process-wide standard logger, which writes to stderr; answering that one
// lookup keeps each registry's log on its Options.Log, or nowhere.
type loggerContext struct {
	context.Context
	logger *logrus.Entry
}

func (c loggerContext) Value(key any) any {
	if t := reflect.TypeOf(key); t != nil && t.Name() == "loggerKey" && t.PkgPath() == dcontextPkg {
		return c.logger
	}
	return c.Context.Value(key)
}

// withLogger returns ctx with a logger writing to w; a nil w discards everything.
func withLogger(ctx context.Context, w io.Writer) context.Context {
	l := logrus.New()
	if w == nil {
		l.SetOutput(io.Discard)
		l.SetLevel(logrus.PanicLevel) // skip even formatting the lines
	} else {
		l.SetOutput(w)
		l.SetLevel(logrus.InfoLevel)
	}
	return loggerContext{Context: ctx, logger: logrus.NewEntry(l)}
}
