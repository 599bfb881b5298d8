package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/internal/registrytest"
)

// TestSecretsNeverStored: a registry password, a proxy --build-arg carrying credentials
// (which RUN sees, as in docker, but history must not) and a --build-arg no ARG declares
// appear in no byte the store or the registry holds, layers decompressed, nor in any
// output.
func TestSecretsNeverStored(t *testing.T) {
	const (
		password = "SENTINEL-PASSWORD-7f3a"
		proxyPw  = "SENTINEL-PROXY-91c2"
		unused   = "SENTINEL-UNUSED-4d8e"
	)
	e := newEnv(t)
	regDir := t.TempDir()
	reg := registrytest.Start(t, registrytest.Options{Users: map[string]string{"ci": password}, Dir: regDir})
	t.Setenv("DOCKER_CONFIG", filepath.Join(e.dir, "docker-config"))
	var outputs []result
	outputs = append(outputs, e.must(e.run("builder", password+"\n", "login", "-u", "ci", "--password-stdin", reg.Host)))
	ref := reg.Host + "/team/secret:1"
	outputs = append(outputs, e.must(e.build(ref, "FROM busybox\nARG DECLARED=plain\nRUN test -n \"$HTTP_PROXY\" && echo built > /built\n", nil,
		"--push", "--build-arg", "HTTP_PROXY=http://u:"+proxyPw+"@127.0.0.1:9", "--build-arg", "UNDECLARED="+unused)))
	outputs = append(outputs, e.must(e.builder("push", ref)))
	outputs = append(outputs, e.must(e.builder("fsck")))
	sentinels := []string{password, proxyPw, unused, base64.StdEncoding.EncodeToString([]byte("ci:" + password))}
	for _, r := range outputs {
		for _, s := range sentinels {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("output shows %s:\n%s", s, r)
			}
		}
	}
	for _, dir := range []string{e.root, regDir} {
		n := grepTree(t, dir, sentinels)
		if n == 0 {
			t.Errorf("nothing read under %s", dir)
		}
	}
}

// grepTree reads every file under dir, gzip streams decompressed too, and fails the test
// for each sentinel found. It returns the number of files read.
func grepTree(t *testing.T, dir string, sentinels []string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("read %s: %v", p, err)
			return nil
		}
		n++
		contents := [][]byte{b}
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				contents = append(contents, plain)
			}
		}
		for _, c := range contents {
			for _, s := range sentinels {
				if bytes.Contains(c, []byte(s)) {
					t.Errorf("%s holds %s", p, s)
				}
			}
		}
		return nil
	})
	return n
}
