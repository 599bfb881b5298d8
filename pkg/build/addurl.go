package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dockyard/dockyard/pkg/copier"
)

// remoteSources are the http(s) sources of an ADD, downloaded before the step as
// BuildKit's llb.HTTP fetches them: named after the URL's last path element, mode 0600,
// owned by root, mtime from Last-Modified (else the Unix epoch), never extracted unless
// --unpack=true says so.
type remoteSources struct {
	dir    string
	names  []string // paths inside dir, in source order
	local  []string // the instruction's other sources
	key    []string // URLs and content digests, for the step's cache key
	unpack bool
}

func (r *remoteSources) release() {
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// fetchRemote downloads the URL sources of p and checks --checksum. Git sources and
// --keep-git-dir are rejected: cloning is not supported.
func (s *stage) fetchRemote(ctx context.Context, p copyParams, dest string) (*remoteSources, error) {
	r := &remoteSources{unpack: p.unpackURL}
	var urls []string
	for _, src := range p.sd.SourcePaths {
		switch {
		case isGitSource(src):
			if p.name == "COPY" {
				return nil, errors.New("source can't be a git ref for COPY")
			}
			return nil, fmt.Errorf("%s: git sources are not supported (clone the repository into the build context instead)", src)
		case isHTTPSource(src):
			if p.name == "COPY" {
				return nil, errors.New("source can't be a URL for COPY")
			}
			urls = append(urls, src)
		default:
			r.local = append(r.local, src)
		}
	}
	if p.keepGitDir {
		return nil, errors.New("--keep-git-dir is not supported: git sources are not supported")
	}
	if n := len(p.sd.SourcePaths) + len(p.sd.SourceContents); n > 1 && !strings.HasSuffix(dest, "/") {
		return nil, errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	if p.checksum != "" {
		switch {
		case len(p.sd.SourcePaths) != 1:
			return nil, errors.New("checksum can't be specified for multiple sources")
		case len(urls) != 1:
			return nil, errors.New("checksum requires HTTP(S) or Git sources")
		}
	}
	if len(urls) == 0 {
		return r, nil
	}
	dir, err := os.MkdirTemp(s.b.scratch, "url-")
	if err != nil {
		return nil, err
	}
	r.dir = dir
	for i, u := range urls {
		name, sum, err := download(ctx, u, filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			r.release()
			return nil, err
		}
		if p.checksum != "" && p.checksum != sum {
			r.release()
			return nil, fmt.Errorf("digest mismatch for %s: %s (expected: %s)", redact(u), sum, p.checksum)
		}
		r.names = append(r.names, path.Join(strconv.Itoa(i), name))
		r.key = append(r.key, "url", u, sum)
	}
	return r, nil
}

// copyInto copies the downloaded files to dest in the image root.
func (r *remoteSources) copyInto(ctx context.Context, root, dest string, opts copier.Options) error {
	if len(r.names) == 0 {
		return nil
	}
	opts.Context, opts.Filter, opts.Unpack, opts.Parents = false, nil, r.unpack, false
	return copier.Copy(ctx, copier.Request{SrcRoot: r.dir, Srcs: r.names, DstRoot: root, Dest: dest}, opts)
}

// download fetches u into a new directory dir and returns the file's name and digest.
func download(ctx context.Context, u, dir string) (name, digest string, err error) {
	name = "__unnamed__"
	if parsed, err := url.Parse(u); err == nil {
		if base := path.Base(parsed.Path); base != "." && base != "/" {
			name = base
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", redact(u), err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("download %s: %w", redact(u), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", "", fmt.Errorf("download %s: invalid response status %d", redact(u), resp.StatusCode)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", "", err
	}
	file := filepath.Join(dir, name)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("download %s: %w", redact(u), err)
	}
	mtime := time.Unix(0, 0)
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mtime = t
		}
	}
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		return "", "", err
	}
	return name, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// redact hides the password of a URL in messages.
func redact(u string) string {
	if parsed, err := url.Parse(u); err == nil && parsed.User != nil {
		return parsed.Redacted()
	}
	return u
}

func isHTTPSource(src string) bool {
	return (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")) && !isGitSource(src)
}

// isGitSource follows BuildKit's dfgitutil.ParseGitRef for what ADD treats as a git
// repository: git://, ssh:// and scp-style git@host: URLs, and http(s) URLs whose path
// ends in .git (before any #ref fragment).
func isGitSource(src string) bool {
	for _, prefix := range []string{"git://", "ssh://", "git@"} {
		if strings.HasPrefix(src, prefix) {
			return true
		}
	}
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return false
	}
	u, err := url.Parse(src)
	return err == nil && strings.HasSuffix(u.Path, ".git")
}

// parseChmodFlag parses --chmod; "" means none.
func parseChmodFlag(s string) (*copier.Chmod, error) {
	if s == "" {
		return nil, nil
	}
	return copier.ParseChmod(s)
}

// copyFlagsKey is what COPY and ADD flags beyond the sources add to the cache key.
func copyFlagsKey(p copyParams, r *remoteSources) []string {
	key := append([]string{"exclude"}, p.exclude...)
	key = append(key, "parents", strconv.FormatBool(p.parents), "unpack-url", strconv.FormatBool(p.unpackURL))
	return append(key, r.key...)
}
