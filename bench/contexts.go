package main

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// buildCase is a Dockerfile and its context. touch names the one source file a
// "touched" rebuild changes: a file a COPY near the end reads, as a code edit would.
type buildCase struct {
	name       string
	dockerfile string
	files      map[string]string // relative path → content
	touch      string
	debian     bool   // FROM the Debian minbase image
	source     string // a directory of the repository to copy the context from
	generate   func(dir string) error
}

var buildCases = []buildCase{
	{
		name: "tiny",
		dockerfile: `FROM busybox
COPY hello.txt /hello.txt
RUN cp /hello.txt /hello.copy
ENV GREETING=hello
CMD ["cat", "/hello.copy"]
`,
		files: map[string]string{"hello.txt": "hello, world\n"},
		touch: "hello.txt",
	},
	{
		// 20 steps: 10 RUN, 2 COPY, 8 config-only; the touched COPY is step 15.
		name: "many-steps",
		dockerfile: `FROM busybox
ENV STEP=0
RUN echo 1 > /s1
LABEL bench=many-steps
RUN echo 2 > /s2
WORKDIR /work
RUN echo 3 > s3
ENV PATH=/work/bin:$PATH
RUN mkdir -p bin && echo 4 > s4
COPY lib/ /work/lib/
RUN ls lib > lib.list
ARG FLAVOR=plain
RUN echo $FLAVOR > flavor
USER root
RUN echo 5 > s5
COPY app/ /work/app/
RUN cat app/main.txt > app.out
RUN echo 6 > s6
EXPOSE 8080
RUN echo 7 > s7
CMD ["sh"]
`,
		files: map[string]string{"lib/a.txt": "a\n", "lib/b.txt": "b\n", "app/main.txt": "main\n", "app/util.txt": "util\n"},
		touch: "app/main.txt",
	},
	{
		name: "big-context",
		dockerfile: `FROM busybox
COPY . /src/
RUN find /src -type f | wc -l > /file-count
`,
		touch:    "src/d145/f12345.txt", // file 12345 lives in dir 12345 % 200
		generate: generateBigContext,
	},
	{
		name: "small-base-small-run",
		dockerfile: `FROM busybox
COPY stamp.txt /stamp.txt
RUN touch /x
`,
		files: map[string]string{"stamp.txt": "stamp\n"},
		touch: "stamp.txt",
	},
	{
		name: "big-base-small-run",
		dockerfile: `FROM debian:bookworm
COPY stamp.txt /stamp.txt
RUN touch /x
`,
		files:  map[string]string{"stamp.txt": "stamp\n"},
		touch:  "stamp.txt",
		debian: true,
	},
	{
		// The demo's app, a copy of examples/hello (two stages, COPY --from --chown, USER).
		name:   "examples-hello",
		source: "examples/hello",
		touch:  "site/index.html",
	},
	{
		name: "multistage",
		dockerfile: `FROM busybox AS build
COPY src/ /src/
RUN mkdir -p /out && cat /src/*.txt > /out/app && wc -c /out/app > /out/size

FROM busybox AS test
COPY --from=build /out/app /app
RUN test -s /app && echo ok > /ok

FROM busybox
COPY --from=build /out/ /app/
COPY --from=test /ok /ok
CMD ["cat", "/app/size"]
`,
		files: map[string]string{"src/a.txt": "a\n", "src/b.txt": "b\n", "src/c.txt": "c\n"},
		touch: "src/a.txt",
	},
}

// prepare writes the case's context under dir: its Dockerfile and files every time, the
// generated part only when missing (or made by an older generator).
func (c *buildCase) prepare(dir string) error {
	if c.source != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("context %s: %w", c.name, err)
		}
		if err := os.CopyFS(dir, os.DirFS(c.source)); err != nil {
			return fmt.Errorf("context %s from %s: %w", c.name, c.source, err)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("context %s: %w", c.name, err)
	}
	files := map[string]string{"Dockerfile": c.dockerfile}
	for k, v := range c.files {
		files[k] = v
	}
	for rel, content := range files {
		if err := writeFile(filepath.Join(dir, rel), []byte(content)); err != nil {
			return fmt.Errorf("context %s: %w", c.name, err)
		}
	}
	if c.generate == nil {
		return nil
	}
	stamp := filepath.Join(dir, ".generated")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == generatorVersion {
		return nil
	}
	if err := c.generate(dir); err != nil {
		return fmt.Errorf("context %s: %w", c.name, err)
	}
	return os.WriteFile(stamp, []byte(generatorVersion), 0o644)
}

// generatorVersion changes whenever generateBigContext makes different files.
const generatorVersion = "big-context v2\n"

// Sizes of the big context: 20k small files (~100 MB) in 200 dirs, four large ones
// (~100 MB: text-like, random, half zeros), and what .dockerignore leaves out.
var bigContext = struct {
	smallFiles, dirs, minSmall, maxSmall int
	large                                map[string]int
	ignoredModules, ignoredLogs          int
}{
	smallFiles: 20000, dirs: 200, minSmall: 1 << 10, maxSmall: 9 << 10,
	large:          map[string]int{"big/text1.txt": 32 << 20, "big/text2.txt": 32 << 20, "big/random.bin": 20 << 20, "big/halfzero.bin": 20 << 20},
	ignoredModules: 2000, ignoredLogs: 50,
}

const bigDockerignore = `# dependencies and build output are not part of the image
node_modules
build/
**/*.log
!keep.log
`

// generateBigContext writes the big context, the same bytes on every machine (seeded).
func generateBigContext(dir string) error {
	r := rand.New(rand.NewPCG(20, 26))
	bc := bigContext
	if err := writeFile(filepath.Join(dir, ".dockerignore"), []byte(bigDockerignore)); err != nil {
		return err
	}
	text := textLike(r, 1<<20)
	for i := range bc.smallFiles {
		n := bc.minSmall + r.IntN(bc.maxSmall-bc.minSmall)
		off := r.IntN(len(text) - n)
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("src/d%03d/f%05d.txt", i%bc.dirs, i)), text[off:off+n]); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(bc.large)) { // in order: one random stream
		if err := writeFile(filepath.Join(dir, name), largeContent(r, name, bc.large[name])); err != nil {
			return err
		}
	}
	for i := range bc.ignoredModules {
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("node_modules/pkg%04d/index.js", i)), text[i:i+4096]); err != nil {
			return err
		}
	}
	for i := range bc.ignoredLogs {
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("src/d%03d/debug.log", i)), text[:2048]); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, "build/output.bin"), largeContent(r, "random", 8<<20)); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "keep.log"), []byte("kept by the ! exception\n"))
}

func largeContent(r *rand.Rand, name string, size int) []byte {
	switch {
	case strings.Contains(name, "text"):
		return textLike(r, size)
	case strings.Contains(name, "halfzero"):
		b := make([]byte, size)
		fillRandom(r, b[size/2:])
		return b
	default:
		b := make([]byte, size)
		fillRandom(r, b)
		return b
	}
}

// textLike is words from a small vocabulary, compressing about as well as source code.
func textLike(r *rand.Rand, size int) []byte {
	words := strings.Fields("func return if else for range var const type struct package import error nil " +
		"string int byte err ctx context fmt Errorf path file dir layer image build cache " +
		"{ } ( ) := == != && || // the of to and a in is it that")
	b := make([]byte, 0, size+16)
	for len(b) < size {
		b = append(b, words[r.IntN(len(words))]...)
		if r.IntN(12) == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, ' ')
		}
	}
	return b[:size]
}

func fillRandom(r *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// touchFile gives the case's touched file new content, the same size class as before.
func touchFile(dir, rel, who string, run int) error {
	p := filepath.Join(dir, rel)
	old, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("touch %s: %w", p, err)
	}
	line := fmt.Sprintf("touched by %s, run %d\n", who, run)
	if i := strings.Index(string(old), "\ntouched by "); i >= 0 {
		old = old[:i+1]
	} else if strings.HasPrefix(string(old), "touched by ") {
		old = nil
	}
	return os.WriteFile(p, append(old, line...), 0o644)
}
