package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/registrytest"
	"github.com/dockyard/dockyard/pkg/push"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const (
	testUser = "ci"
	testPass = "correct-horse-battery"
)

func authRegistry(t *testing.T) *registrytest.Registry {
	return registrytest.Start(t, registrytest.Options{TLS: true, Users: map[string]string{testUser: testPass}})
}

func TestPushAuthFailures(t *testing.T) {
	cases := []struct {
		name     string
		keychain staticKeychain
		want     string
	}{
		{"wrong password", staticKeychain{testUser, "wrong-" + testPass}, "rejected the stored credentials"},
		{"no credentials", staticKeychain{}, "authentication required for"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateDockerConfig(t)
			r := authRegistry(t)
			ref := r.Host + "/team/app:1"
			_, err := push.Push(context.Background(), ociImage(t, 2, 1024), []string{ref}, push.Options{CAFile: r.CAFile, Keychain: tc.keychain})
			if !errors.Is(err, push.ErrUnauthorized) {
				t.Fatalf("Push: %v, want ErrUnauthorized", err)
			}
			msg := err.Error()
			for _, want := range []string{tc.want, r.Host + "/team/app", "401", "builder login " + r.Host} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if strings.Contains(msg, testPass) {
				t.Errorf("error shows the password: %s", msg)
			}
			if r.BlobUploads() != 0 || r.ManifestPuts() != 0 {
				t.Errorf("a refused push wrote %d blobs and %d manifests", r.BlobUploads(), r.ManifestPuts())
			}
		})
	}
}

func TestLoginPushLogout(t *testing.T) {
	cfgDir := isolateDockerConfig(t)
	r := authRegistry(t)
	ctx := context.Background()
	var warn warnings
	opts := push.Options{CAFile: r.CAFile, Warn: warn.add}
	cfgFile := filepath.Join(cfgDir, "config.json")

	err := push.Login(ctx, r.Host, testUser, "not-"+testPass, opts)
	if !errors.Is(err, push.ErrUnauthorized) || !strings.Contains(err.Error(), r.Host) {
		t.Fatalf("Login with a wrong password: %v, want ErrUnauthorized naming %s", err, r.Host)
	}
	if strings.Contains(err.Error(), testPass) {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := os.Stat(cfgFile); !os.IsNotExist(err) {
		t.Fatalf("failed login wrote %s (stat: %v)", cfgFile, err)
	}

	if err := push.Login(ctx, r.Host, testUser, testPass, opts); err != nil {
		t.Fatalf("Login: %v", err)
	}
	auths := readAuths(t, cfgFile)
	if _, ok := auths[r.Host]; !ok {
		t.Fatalf("config.json has no entry for %s: %v", r.Host, auths)
	}
	if !strings.Contains(warn.String(), "unencrypted") {
		t.Errorf("no warning about plain-text storage: %q", warn.String())
	}

	// Push and Pull with no explicit keychain: the docker config is used.
	img := ociImage(t, 1, 1024)
	ref := r.Host + "/team/app:1"
	if _, err := push.Push(ctx, img, []string{ref}, opts); err != nil {
		t.Fatalf("Push after login: %v", err)
	}
	if _, err := push.Pull(ctx, ref, v1.Platform{}, opts); err != nil {
		t.Fatalf("Pull after login: %v", err)
	}

	if err := push.Logout(r.Host); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, ok := readAuths(t, cfgFile)[r.Host]; ok {
		t.Errorf("Logout left the entry for %s", r.Host)
	}
	if err := push.Logout(r.Host); !errors.Is(err, push.ErrNotLoggedIn) {
		t.Errorf("second Logout: %v, want ErrNotLoggedIn", err)
	}
	if _, err := push.Push(ctx, img, []string{r.Host + "/team/app:2"}, opts); !errors.Is(err, push.ErrUnauthorized) {
		t.Errorf("Push after logout: %v, want ErrUnauthorized", err)
	}
	if strings.Contains(warn.String(), testPass) {
		t.Errorf("a warning shows the password: %q", warn.String())
	}
}

// A credsStore in the config sends the secret to docker-credential-<name>, never to the file.
func TestLoginCredentialHelper(t *testing.T) {
	cfgDir := isolateDockerConfig(t)
	helperDir, storeFile := fakeHelper(t)
	t.Setenv("PATH", helperDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfgFile := filepath.Join(cfgDir, "config.json")
	if err := os.WriteFile(cfgFile, []byte(`{"credsStore":"dockyardtest"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := authRegistry(t)
	ctx := context.Background()
	opts := push.Options{CAFile: r.CAFile}

	if err := push.Login(ctx, r.Host, testUser, testPass, opts); err != nil {
		t.Fatalf("Login: %v", err)
	}
	cfg, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), testPass) || strings.Contains(string(cfg), "auth\"") {
		t.Errorf("config.json holds the secret despite the helper:\n%s", cfg)
	}
	stored, err := os.ReadFile(storeFile)
	if err != nil || !strings.Contains(string(stored), testPass) {
		t.Fatalf("helper store %s does not hold the secret (%v): %s", storeFile, err, stored)
	}
	if _, err := push.Push(ctx, ociImage(t, 1, 1024), []string{r.Host + "/team/app:1"}, opts); err != nil {
		t.Fatalf("Push with helper credentials: %v", err)
	}
	if err := push.Logout(r.Host); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if stored, _ := os.ReadFile(storeFile); strings.Contains(string(stored), testPass) {
		t.Errorf("Logout left the secret in the helper: %s", stored)
	}
}

// fakeHelper writes docker-credential-dockyardtest, a credential helper keeping one
// secret in a file, following the helper protocol (store/get/erase on stdin).
func fakeHelper(t *testing.T) (dir, store string) {
	t.Helper()
	dir = t.TempDir()
	store = filepath.Join(dir, "store.json")
	script := `#!/bin/sh
store="` + store + `"
case "$1" in
store) cat > "$store" ;;
get) read -r server; if [ -s "$store" ] && grep -q "\"ServerURL\":\"$server\"" "$store"; then
       cat "$store"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) : > "$store" ;;
list) echo "{}" ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-dockyardtest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, store
}

func readAuths(t *testing.T, file string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read docker config: %v", err)
	}
	var cfg struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("parse docker config: %v", err)
	}
	return cfg.Auths
}
