package conformance

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A case is a directory under testdata/: a Dockerfile, its build context in context/
// (optional), and case.txt, which says what the case checks and how to build it:
//
//	doc: one line on what the case checks (required)
//	args: flags for both builders, e.g. --build-arg A=1 --target app; {case} is
//	        replaced by the case directory
//	ours-args: / buildah-args: flags for one builder only
//	ours-input: tar | dockerfile  ours reads the context as a tarball on stdin
//	        (builder build -), or the Dockerfile from stdin (-f -)
//	secret: id=ID,src=FILE (FILE relative to the case) for both builders
//	env: K=V  in the environment of both builders (for --build-arg K, --secret env=)
//	parent: FILE NAME  build the Dockerfile FILE as image NAME first (ONBUILD, FROM an image)
//	buildah-dockerfile: FILE REASON  buildah builds FILE instead: the same build spelt
//	        with what buildah 1.28 supports, so that it still checks ours
//	setup: OP ARGS  prepare the context: chmod MODE PATH, chown UID:GID PATH,
//	        mtime RFC3339 PATH, hardlink OLD NEW, symlink TARGET NEW, mkdir PATH,
//	        fifo PATH, tar COMPRESSION ARCHIVE DIR (none, gzip, bzip2, xz, zstd)
//	epoch: SECONDS  SOURCE_DATE_EPOCH for both builds; mtimes and Created are compared
//	mtime: PATH  compare this path's mtime too
//	www: serve the case's www/ directory over HTTP on 127.0.0.1; both builds get
//	        --build-arg WWW=http://127.0.0.1:PORT (Last-Modified is fixed)
//	differ: WHAT: REASON  (colon and space after WHAT) a difference allowed because buildah departs from Docker's
//	        documented behaviour; WHAT is "layers", "config FIELD" or "path /P" (any
//	        attribute, presence included). An allowance that no longer differs fails the
//	        case, so the list stays true.
type testCase struct {
	name, dir           string
	doc                 string
	args, ours, buildah []string
	secrets             []string
	env                 []string
	input               string
	parents             [][2]string // {file, name}
	buildahDockerfile   string
	setup               [][]string
	epoch               string
	mtimes              []string
	www                 bool
	differ              map[string]string // WHAT → reason
}

func loadCase(dir string) (*testCase, error) {
	c := &testCase{name: filepath.Base(dir), dir: dir, differ: map[string]string{}}
	f, err := os.Open(filepath.Join(dir, "case.txt"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok && line != "www" {
			return nil, fmt.Errorf("%s/case.txt:%d: want KEY: VALUE", c.name, n)
		}
		value = strings.TrimSpace(value)
		if err := c.set(strings.TrimSpace(key), value); err != nil {
			return nil, fmt.Errorf("%s/case.txt:%d: %w", c.name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if c.doc == "" {
		return nil, fmt.Errorf("%s/case.txt: doc: is required", c.name)
	}
	return c, nil
}

func (c *testCase) set(key, value string) error {
	switch key {
	case "doc":
		c.doc = value
	case "args":
		c.args = append(c.args, c.fields(value)...)
	case "ours-args":
		c.ours = append(c.ours, c.fields(value)...)
	case "buildah-args":
		c.buildah = append(c.buildah, c.fields(value)...)
	case "secret":
		c.secrets = append(c.secrets, value)
	case "env":
		c.env = append(c.env, value)
	case "ours-input":
		if value != "tar" && value != "dockerfile" {
			return fmt.Errorf("ours-input: want tar or dockerfile")
		}
		c.input = value
	case "parent":
		f := strings.Fields(value)
		if len(f) != 2 {
			return fmt.Errorf("parent: want FILE NAME")
		}
		c.parents = append(c.parents, [2]string{f[0], f[1]})
	case "buildah-dockerfile":
		file, reason, _ := strings.Cut(value, " ")
		if strings.TrimSpace(reason) == "" {
			return fmt.Errorf("buildah-dockerfile: a reason is required")
		}
		c.buildahDockerfile = file
	case "setup":
		c.setup = append(c.setup, strings.Fields(value))
	case "epoch":
		c.epoch = value
	case "mtime":
		c.mtimes = append(c.mtimes, value)
	case "www":
		c.www = true
	case "differ":
		what, reason, ok := strings.Cut(value, ": ") // paths may hold colons
		if !ok || strings.TrimSpace(reason) == "" {
			return fmt.Errorf("differ: want WHAT: REASON")
		}
		c.differ[strings.TrimSpace(what)] = strings.TrimSpace(reason)
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	return nil
}

func (c *testCase) fields(s string) []string {
	abs, err := filepath.Abs(c.dir)
	if err != nil {
		abs = c.dir
	}
	return strings.Fields(strings.ReplaceAll(s, "{case}", abs))
}
