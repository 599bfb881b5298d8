package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotLoggedIn is returned by Logout when no credentials were stored for the registry.
var ErrNotLoggedIn = errors.New("not logged in")

// Login checks user and password against registry (the same handshake a push makes:
// basic auth, or a bearer token from the registry's token service) and, when they are
// accepted, stores them in the docker config ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json) like `docker login`: through the credsStore or credHelpers entry
// when one is configured, else base64 in "auths", with a warning through Warn. Nothing is
// written when the registry rejects them. The password never appears in errors.
func Login(ctx context.Context, registry, user, password string, opts Options) error {
	c, err := opts.resolve()
	if err != nil {
		return fmt.Errorf("login %s: %w", registry, err)
	}
	reg, err := c.parseRegistry(registry)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if user == "" || password == "" {
		return fmt.Errorf("login %s: username and password required", reg)
	}
	if err := c.checkLogin(ctx, reg, user, password); err != nil {
		return scrub(err, password)
	}
	return scrub(c.storeLogin(reg, user, password), password)
}

// checkLogin makes an authenticated GET /v2/, which only succeeds with valid credentials.
func (c *config) checkLogin(ctx context.Context, reg name.Registry, user, password string) error {
	retrying := transport.NewRetry(c.base,
		transport.WithRetryBackoff(c.backoff()),
		transport.WithRetryPredicate(c.retryable),
		transport.WithRetryStatusCodes(retryStatusCodes...))
	auth := &authn.Basic{Username: user, Password: password}
	repo := reg.Repo("")
	rt, err := transport.NewWithContext(ctx, reg, auth, retrying, nil)
	if err != nil {
		return c.loginError(reg, repo, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return fmt.Errorf("login %s: %w", reg, err)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return c.loginError(reg, repo, err)
	}
	defer resp.Body.Close()
	return c.loginError(reg, repo, transport.CheckError(resp, http.StatusOK))
}

func (c *config) loginError(reg name.Registry, repo name.Repository, err error) error {
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusUnauthorized {
		return &Error{Op: "login", Ref: reg.String(), Registry: reg.RegistryStr(), StatusCode: terr.StatusCode,
			Kind: ErrUnauthorized, Err: err,
			detail: fmt.Sprintf("%s rejected the username or password (HTTP 401 Unauthorized)", reg.RegistryStr())}
	}
	return c.describe("login", reg.String(), repo, err, true)
}

func (c *config) storeLogin(reg name.Registry, user, password string) error {
	key := authKey(reg)
	cf, err := loadDockerConfig()
	if err != nil {
		return err
	}
	ac := types.AuthConfig{ServerAddress: key, Username: user, Password: password}
	if helperFor(cf, key) != "" {
		// The helper keeps the secret; the config file keeps only the server name.
		if err := cf.GetCredentialsStore(key).Store(ac); err != nil {
			return fmt.Errorf("login %s: store credentials with docker-credential-%s: %w", reg, helperFor(cf, key), err)
		}
		return nil
	}
	// Written directly rather than through docker/cli's file store, which prints its
	// plain-text warning to stderr itself.
	cf.AuthConfigs[key] = ac
	if err := cf.Save(); err != nil {
		return fmt.Errorf("login %s: save %s: %w", reg, cf.Filename, err)
	}
	c.warn("credentials for %s are stored unencrypted in %s; configure a credential helper (credsStore) to avoid this", reg, cf.Filename)
	return nil
}

// Logout forgets the credentials stored for registry, from the credential helper and the
// docker config. It returns ErrNotLoggedIn (wrapped) when there were none.
func Logout(registry string) error {
	c := &config{}
	reg, err := c.parseRegistry(registry)
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	key := authKey(reg)
	cf, err := loadDockerConfig()
	if err != nil {
		return err
	}
	if h := helperFor(cf, key); h != "" {
		if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
			if strings.Contains(err.Error(), "not found") {
				return fmt.Errorf("logout %s: %w", reg, ErrNotLoggedIn)
			}
			return fmt.Errorf("logout %s: erase credentials with docker-credential-%s: %w", reg, h, err)
		}
		return nil
	}
	found := false
	for k := range cf.AuthConfigs {
		if k == key || credentials.ConvertToHostname(k) == key {
			delete(cf.AuthConfigs, k)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("logout %s: %w", reg, ErrNotLoggedIn)
	}
	if err := cf.Save(); err != nil {
		return fmt.Errorf("logout %s: save %s: %w", reg, cf.Filename, err)
	}
	return nil
}

// authKey is the config.json key for a registry: "host[:port]", except Docker Hub's
// historical URL.
func authKey(reg name.Registry) string {
	if reg.RegistryStr() == name.DefaultRegistry {
		return authn.DefaultAuthKey
	}
	return reg.RegistryStr()
}

// loadDockerConfig reads $DOCKER_CONFIG/config.json (else ~/.docker/config.json) afresh.
// The directory is resolved here because docker/cli's own lookup is cached for the life
// of the process.
func loadDockerConfig() (*configfile.ConfigFile, error) {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find docker config: %w", err)
		}
		dir = filepath.Join(home, ".docker")
	}
	cf, err := dockerconfig.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load docker config in %s: %w", dir, err)
	}
	if cf.AuthConfigs == nil {
		cf.AuthConfigs = map[string]types.AuthConfig{}
	}
	return cf, nil
}

func helperFor(cf *configfile.ConfigFile, key string) string {
	if h := cf.CredentialHelpers[key]; h != "" {
		return h
	}
	return cf.CredentialsStore
}

// scrub keeps secret out of err's text, whatever a helper or server echoed back.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "REDACTED"))
}
