package dockerfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestMatcherExcluded(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		excluded []string
		kept     []string
	}{
		{"plain names", []string{"node_modules", "*.log"},
			[]string{"node_modules", "node_modules/a/b.js", "x.log"},
			[]string{"src/x.log", "node_modules2", "a/node_modules"}},
		{"double star", []string{"**/*.tmp", "build/**"},
			[]string{"a.tmp", "deep/er/b.tmp", "build/x", "build/x/y"},
			[]string{"a.tmp.keep", "build", "builds/x"}},
		{"double star in the middle", []string{"a/**/z"},
			[]string{"a/z", "a/b/z", "a/b/c/z", "a/b/z/file"},
			[]string{"a/b/zz", "b/a/z"}},
		{"exception", []string{"*.md", "!README.md"},
			[]string{"CHANGES.md"},
			[]string{"README.md", "docs/x.md"}},
		{"exception under excluded dir", []string{"docs", "!docs/keep.txt"},
			[]string{"docs/other.txt", "docs/sub/keep.txt"},
			[]string{"docs/keep.txt"}},
		{"exception of a dir re-includes its files", []string{"vendor", "!vendor/github.com/x"},
			[]string{"vendor/other/y.go"},
			[]string{"vendor/github.com/x/y.go", "vendor/github.com/x"}},
		{"last match wins", []string{"!keep", "*", "!keep", "keep/junk"},
			[]string{"other", "keep/junk", "keep/junk/deep"},
			[]string{"keep", "keep/file"}},
		{"leading slash and dot", []string{"/abs", "./rel/", "nested/./x/../y"},
			[]string{"abs", "rel", "rel/f", "nested/y"},
			[]string{"sub/abs", "nested/x"}},
		{"question mark and class", []string{"file?.txt", "[ab].c"},
			[]string{"file1.txt", "a.c", "b.c"},
			[]string{"file10.txt", "c.c"}},
		{"escaped wildcard", []string{`star\*`},
			[]string{"star*"},
			[]string{"stars"}},
		{"dockerfile itself", []string{"Dockerfile", ".dockerignore"},
			[]string{"Dockerfile", ".dockerignore"}, // hidden from COPY, as in BuildKit
			[]string{"sub/Dockerfile"}},
		{"no patterns", nil, nil, []string{"anything", "a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMatcher(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.excluded {
				if ex, err := m.Excluded(p); err != nil || !ex {
					t.Errorf("Excluded(%q) = %v, %v; want true", p, ex, err)
				}
			}
			for _, p := range tt.kept {
				if ex, err := m.Excluded(p); err != nil || ex {
					t.Errorf("Excluded(%q) = %v, %v; want false", p, ex, err)
				}
			}
		})
	}
}

func TestMatcherPathForms(t *testing.T) {
	m, err := NewMatcher([]string{"a/b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a/b", "./a/b", "/a/b", "a/b/", "a//b", "a/b/c"} {
		if ex, _ := m.Excluded(p); !ex {
			t.Errorf("Excluded(%q) = false", p)
		}
	}
	for _, p := range []string{"", ".", "/"} {
		if ex, _ := m.Excluded(p); ex {
			t.Errorf("the context root %q must never be excluded", p)
		}
	}
}

func TestMatcherCanSkipDir(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		skip     []string
		walk     []string
	}{
		{"no exceptions", []string{"node_modules", "build/**"}, []string{"node_modules", "build/x"}, []string{"src", "build"}},
		{"literal exception below", []string{"docs", "!docs/api/index.md"}, []string{"docs/img"}, []string{"docs", "docs/api"}},
		{"exception with glob", []string{"docs", "!**/*.md"}, nil, []string{"docs", "docs/img"}},
		{"exception with trailing glob", []string{"vendor", "!vendor/keep/**"}, []string{"vendor/drop"}, []string{"vendor", "vendor/keep"}},
		{"not excluded", []string{"x"}, nil, []string{"y", "y/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMatcher(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range tt.skip {
				if !m.CanSkipDir(d) {
					t.Errorf("CanSkipDir(%q) = false, want true", d)
				}
			}
			for _, d := range tt.walk {
				if m.CanSkipDir(d) {
					t.Errorf("CanSkipDir(%q) = true, want false", d)
				}
			}
		})
	}
}

func TestNewMatcherErrors(t *testing.T) {
	for _, bad := range [][]string{{"!"}, {"a[", "b"}, {"ok", "!["}} {
		if _, err := NewMatcher(bad); err == nil {
			t.Errorf("NewMatcher(%q) succeeded, want error", bad)
		}
	}
}

func TestMatcherConcurrent(t *testing.T) {
	m, err := NewMatcher([]string{"**/*.o", "!keep.o", "tmp"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if ex, _ := m.Excluded("a/b.o"); !ex {
					errs <- "a/b.o not excluded"
					return
				}
				if ex, _ := m.Excluded("keep.o"); ex {
					errs <- "keep.o excluded"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestReadIgnore(t *testing.T) {
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("context file", func(t *testing.T) {
		ctx := t.TempDir()
		write(t, filepath.Join(ctx, ".dockerignore"), "\ufeff# comment\n  *.log  \n\n/abs\n ! keep.log\n # not a comment\n./rel/../x\n")
		got, err := ReadIgnore(ctx, filepath.Join(ctx, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"*.log", "abs", "!keep.log", "# not a comment", "x"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("patterns = %q, want %q", got, want)
		}
	})
	t.Run("dockerfile-specific wins", func(t *testing.T) {
		ctx := t.TempDir()
		write(t, filepath.Join(ctx, ".dockerignore"), "from-context\n")
		df := filepath.Join(ctx, "build", "app.Dockerfile")
		write(t, df+".dockerignore", "from-dockerfile\n")
		got, err := ReadIgnore(ctx, df)
		if err != nil || !reflect.DeepEqual(got, []string{"from-dockerfile"}) {
			t.Errorf("patterns = %q, %v", got, err)
		}
		got, err = ReadIgnore(ctx, "")
		if err != nil || !reflect.DeepEqual(got, []string{"from-context"}) {
			t.Errorf("without a Dockerfile path: %q, %v", got, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		got, err := ReadIgnore(t.TempDir(), "/nonexistent/Dockerfile")
		if err != nil || got != nil {
			t.Errorf("patterns = %q, %v; want none", got, err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		ctx := t.TempDir()
		if err := os.Mkdir(filepath.Join(ctx, ".dockerignore"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := ReadIgnore(ctx, "")
		if err == nil || !strings.Contains(err.Error(), ".dockerignore") {
			t.Errorf("error = %v, want one naming .dockerignore", err)
		}
	})
}
