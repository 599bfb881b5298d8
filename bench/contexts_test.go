package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockyard/dockyard/pkg/dockerfile"
)

func TestBuildCaseDockerfiles(t *testing.T) {
	for _, c := range buildCases {
		t.Run(c.name, func(t *testing.T) {
			if c.source != "" {
				dir := filepath.Join(t.TempDir(), "ctx")
				c.source = filepath.Join("..", c.source) // tests run in bench/
				if err := c.prepare(dir); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(dir, c.touch)); err != nil {
					t.Errorf("touched file: %v", err)
				}
				c.dockerfile = string(b)
			}
			d, err := dockerfile.Parse(strings.NewReader(c.dockerfile), dockerfile.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			steps := 0
			for _, s := range d.Stages {
				steps += len(s.Commands)
			}
			if c.name == "many-steps" && steps != 20 {
				t.Errorf("many-steps has %d steps after FROM, want 20", steps)
			}
			if c.touch == "" {
				t.Error("no file to touch")
			}
			if c.source != "" {
				return
			}
			if c.generate == nil {
				if _, ok := c.files[c.touch]; !ok {
					t.Errorf("touched file %s is not in the context", c.touch)
				}
			} else if want := fmt.Sprintf("src/d%03d/f%05d.txt", 12345%bigContext.dirs, 12345); c.touch != want {
				t.Errorf("touched file %s is not generated (file 12345 is %s)", c.touch, want)
			}
		})
	}
}

func TestTouchFile(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "a.txt"), []byte("base\n")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for run, who := range []string{"ours", "buildah", "ours"} {
		if err := touchFile(dir, "a.txt", who, run); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "a.txt"))
		seen = append(seen, string(b))
	}
	want := []string{"base\ntouched by ours, run 0\n", "base\ntouched by buildah, run 1\n", "base\ntouched by ours, run 2\n"}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("touch %d: %q, want %q (one touch line, replaced each time)", i, seen[i], want[i])
		}
	}
}

// smallBigContext shrinks the generated context for the test's sake.
func smallBigContext(t *testing.T) {
	saved := bigContext
	t.Cleanup(func() { bigContext = saved })
	bigContext.smallFiles, bigContext.dirs = 300, 20
	bigContext.large = map[string]int{"big/text1.txt": 64 << 10, "big/random.bin": 32 << 10, "big/halfzero.bin": 32 << 10}
	bigContext.ignoredModules, bigContext.ignoredLogs = 10, 5
}

func TestGenerateBigContextIsDeterministic(t *testing.T) {
	smallBigContext(t)
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := generateBigContext(d); err != nil {
			t.Fatal(err)
		}
	}
	if ha, hb := treeHash(t, a), treeHash(t, b); ha != hb {
		t.Error("two generations of the big context differ")
	}
	n := 0
	filepath.WalkDir(filepath.Join(a, "src"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".txt") {
			n++
		}
		return err
	})
	if n != 300 {
		t.Errorf("small files = %d, want 300", n)
	}
	half, _ := os.ReadFile(filepath.Join(a, "big/halfzero.bin"))
	if len(half) != 32<<10 || strings.Trim(string(half[:16<<10]), "\x00") != "" || strings.Count(string(half[16<<10:]), "\x00") > 1<<10 {
		t.Errorf("halfzero.bin: %d bytes, not 16 KiB of zeros then random bytes", len(half))
	}
}

func TestBigContextDockerignore(t *testing.T) {
	smallBigContext(t)
	dir := t.TempDir()
	if err := generateBigContext(dir); err != nil {
		t.Fatal(err)
	}
	patterns, err := dockerfile.ReadIgnore(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m, err := dockerfile.NewMatcher(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for rel, excluded := range map[string]bool{
		"node_modules/pkg0003/index.js": true,
		"build/output.bin":              true,
		"src/d002/debug.log":            true,
		"keep.log":                      false,
		"src/d001/f00001.txt":           false,
		"big/random.bin":                false,
	} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("%s was not generated: %v", rel, err)
			continue
		}
		got, err := m.Excluded(rel)
		if err != nil || got != excluded {
			t.Errorf("Excluded(%s) = %v, %v; want %v", rel, got, err, excluded)
		}
	}
}

func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
