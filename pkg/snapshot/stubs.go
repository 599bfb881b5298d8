package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// makeStubs creates in stubDir every stub target that view lacks. Parents that exist in view
// are recreated with their exact owner, mode and mtime: the stub layer sits on top of the
// image, so overlay takes a directory's attributes from it, and a copy-up into the diff
// must not see anything but the image's own metadata. It reports whether it made anything.
func makeStubs(view, stubDir string, stubs []Stub) (bool, error) {
	type dirTimes struct {
		path  string
		mtime time.Time
	}
	var copied []dirTimes
	made := false
	for _, s := range stubs {
		resolved, err := securejoin.SecureJoin(view, s.Path)
		if err != nil {
			return false, fmt.Errorf("stub %s: %w", s.Path, err)
		}
		if _, err := os.Lstat(resolved); err == nil {
			continue
		}
		rel, err := filepath.Rel(view, resolved)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		parts := strings.Split(rel, string(filepath.Separator))
		ok := true
		for i := 1; i < len(parts); i++ {
			p := filepath.Join(parts[:i]...)
			dst := filepath.Join(stubDir, p)
			if _, err := os.Lstat(dst); err == nil {
				continue
			}
			fi, err := os.Lstat(filepath.Join(view, p))
			switch {
			case err == nil && !fi.IsDir():
				ok = false // a file where a directory is needed: nothing can be mounted there
			case err == nil:
				if err := mkdirLike(dst, fi); err != nil {
					return false, err
				}
				copied = append(copied, dirTimes{dst, fi.ModTime()})
			default:
				if err := os.MkdirAll(dst, 0o755); err != nil {
					return false, fmt.Errorf("stub %s: %w", s.Path, err)
				}
			}
			if !ok {
				break
			}
		}
		if !ok {
			continue
		}
		leaf := filepath.Join(stubDir, rel)
		if s.Dir {
			err = os.MkdirAll(leaf, 0o755)
		} else {
			err = os.WriteFile(leaf, nil, 0o644)
		}
		if err != nil {
			return false, fmt.Errorf("stub %s: %w", s.Path, err)
		}
		made = true
	}
	// Children are in place; now the copied directories get their image mtimes back.
	for i := len(copied) - 1; i >= 0; i-- {
		if err := os.Chtimes(copied[i].path, copied[i].mtime, copied[i].mtime); err != nil {
			return false, fmt.Errorf("stub %s: %w", copied[i].path, err)
		}
	}
	return made, nil
}

func mkdirLike(dst string, fi os.FileInfo) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return fmt.Errorf("stub dir %s: %w", dst, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("stub dir %s: %w", dst, err)
	}
	// Chmod after chown: chown clears setgid, and the sticky bit of a /tmp must survive.
	if err := unix.Chmod(dst, st.Mode&07777); err != nil {
		return fmt.Errorf("stub dir %s: %w", dst, err)
	}
	return nil
}
