package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestParseSecret(t *testing.T) {
	env := map[string]string{"TOKEN": "from-env", "s3": "id-named-env"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	files := map[string]string{"/run/key": "from-file", "plain": "id-named-file"}
	read := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, os.ErrNotExist
	}
	cases := []struct {
		in, id, value, err string
	}{
		{in: "id=s1,src=/run/key", id: "s1", value: "from-file"},
		{in: "id=s1,source=/run/key", id: "s1", value: "from-file"},
		{in: "id=s2,env=TOKEN", id: "s2", value: "from-env"},
		{in: "id=s3", id: "s3", value: "id-named-env"},
		{in: "id=plain", id: "plain", value: "id-named-file"},
		{in: "type=env,id=TOKEN", id: "TOKEN", value: "from-env"},
		{in: "src=/run/key", err: "id= is required"},
		{in: "id=x,env=NOPE", err: "not set"},
		{in: "id=x,src=/missing", err: "not exist"},
		{in: "id=x,src=/run/key,env=TOKEN", err: "exclude each other"},
		{in: "id=x,color=red", err: "unknown key"},
		{in: "id=x,type=ssh", err: "type must be"},
		{in: "idonly", err: "not key=value"},
	}
	for _, tc := range cases {
		id, v, err := ParseSecret(tc.in, lookup, read)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSecret(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || id != tc.id || string(v) != tc.value {
			t.Errorf("ParseSecret(%q) = %q, %q, %v; want %q, %q", tc.in, id, v, err, tc.id, tc.value)
		}
	}
}

func TestSourceKinds(t *testing.T) {
	for src, want := range map[string]string{
		"https://example.com/file.tar.gz":         "http",
		"http://127.0.0.1:8080/x":                 "http",
		"https://github.com/moby/buildkit.git":    "git",
		"https://github.com/moby/buildkit.git#v1": "git",
		"git@github.com:moby/buildkit.git":        "git",
		"git://example.com/repo":                  "git",
		"ssh://git@example.com/repo.git":          "git",
		"local/file.git":                          "local",
		"app.tar":                                 "local",
	} {
		got := "local"
		switch {
		case isGitSource(src):
			got = "git"
		case isHTTPSource(src):
			got = "http"
		}
		if got != want {
			t.Errorf("%s: %s source, want %s", src, got, want)
		}
	}
}

func TestDownload(t *testing.T) {
	modified := time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dated/file.txt":
			http.ServeContent(w, r, "", modified, strings.NewReader("content\n"))
		case "/undated":
			w.Write([]byte("no date\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()

	name, sum, err := download(t.Context(), srv.URL+"/dated/file.txt", filepath.Join(dir, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if name != "file.txt" || sum != "sha256:"+sha256Hex("content\n") {
		t.Errorf("download = %q, %q", name, sum)
	}
	fi, err := os.Stat(filepath.Join(dir, "1", "file.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(modified) {
		t.Errorf("downloaded file: mode %v mtime %v; want 0600 and Last-Modified %v", fi.Mode(), fi.ModTime(), modified)
	}

	if _, _, err := download(t.Context(), srv.URL+"/undated", filepath.Join(dir, "2")); err != nil {
		t.Fatal(err)
	}
	fi, err = os.Stat(filepath.Join(dir, "2", "undated"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(time.Unix(0, 0)) {
		t.Errorf("without Last-Modified the mtime is %v, want the Unix epoch (BuildKit)", fi.ModTime())
	}

	if name, _, err := download(t.Context(), srv.URL+"/", filepath.Join(dir, "3")); err == nil || name != "" {
		t.Errorf("a 404 gave %q, %v; want an error", name, err)
	} else if !strings.Contains(err.Error(), "404") {
		t.Errorf("error %v does not give the status", err)
	}
}

func TestFetchRemoteRules(t *testing.T) {
	s := &stage{b: &builder{}}
	sd := func(srcs ...string) instructions.SourcesAndDest {
		return instructions.SourcesAndDest{SourcePaths: srcs, DestPath: "/d/"}
	}
	cases := []struct {
		p    copyParams
		dest string
		err  string
	}{
		{p: copyParams{name: "ADD", sd: sd("https://h/r.git")}, dest: "/d/", err: "git sources are not supported"},
		{p: copyParams{name: "ADD", sd: sd("a"), keepGitDir: true}, dest: "/d/", err: "--keep-git-dir is not supported"},
		{p: copyParams{name: "COPY", sd: sd("https://h/f")}, dest: "/d/", err: "can't be a URL for COPY"},
		{p: copyParams{name: "ADD", sd: sd("a"), checksum: "sha256:00"}, dest: "/d/", err: "requires HTTP(S) or Git sources"},
		{p: copyParams{name: "ADD", sd: sd("https://h/f", "a"), checksum: "sha256:00"}, dest: "/d/", err: "multiple sources"},
		{p: copyParams{name: "ADD", sd: sd("a", "b")}, dest: "/file", err: "must be a directory"},
	}
	for _, tc := range cases {
		_, err := s.fetchRemote(t.Context(), tc.p, tc.dest)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s %v: err = %v, want %q", tc.p.name, tc.p.sd.SourcePaths, err, tc.err)
		}
	}
	r, err := s.fetchRemote(t.Context(), copyParams{name: "ADD", sd: sd("a", "b")}, "/d/")
	if err != nil || strings.Join(r.local, ",") != "a,b" || r.dir != "" {
		t.Errorf("local sources: %+v, %v", r, err)
	}
}

func TestReadContext(t *testing.T) {
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	for name, body := range map[string]string{"Dockerfile": "FROM scratch\n", "dir/f": "F"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()
	for name, in := range map[string][]byte{"tar": plain.Bytes(), "tar.gz": gz.Bytes()} {
		dir := filepath.Join(t.TempDir(), "ctx")
		df, err := ReadContext(t.Context(), bytes.NewReader(in), dir)
		if err != nil || df != nil {
			t.Fatalf("%s: ReadContext = %q, %v; want an extracted context", name, df, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "dir/f")); err != nil || string(b) != "F" {
			t.Errorf("%s: dir/f = %q, %v", name, b, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "ctx")
	df, err := ReadContext(t.Context(), strings.NewReader("FROM busybox\nRUN true\n"), dir)
	if err != nil || string(df) != "FROM busybox\nRUN true\n" {
		t.Fatalf("a bare Dockerfile: %q, %v", df, err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("a bare Dockerfile must leave an empty context: %v, %v", entries, err)
	}
	_, err = ReadContext(t.Context(), bytes.NewReader(plain.Bytes()[:700]), filepath.Join(t.TempDir(), "c"))
	if err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("a truncated tarball: err = %v, want a read error", err)
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
