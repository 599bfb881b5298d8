package conformance

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// makeContext copies the case's context/ into dst with predictable metadata (git keeps
// only the executable bit: files become 0644 or 0755, directories 0755, all owned by
// root, mtimes fixed) and then applies the case's setup operations, all inside dst.
func makeContext(c *testCase, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	src := filepath.Join(c.dir, "context")
	fixed := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	if _, err := os.Stat(src); err == nil {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			to := filepath.Join(dst, rel)
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				l, err := os.Readlink(p)
				if err != nil {
					return err
				}
				return os.Symlink(l, to)
			case fi.IsDir():
				if err := os.MkdirAll(to, 0o755); err != nil {
					return err
				}
				return os.Chmod(to, 0o755)
			}
			mode := os.FileMode(0o644)
			if fi.Mode()&0o100 != 0 {
				mode = 0o755
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, data, mode); err != nil {
				return err
			}
			return os.Chmod(to, mode)
		})
		if err != nil {
			return fmt.Errorf("copy context: %w", err)
		}
	}
	for _, op := range c.setup {
		if err := setupOp(dst, op); err != nil {
			return fmt.Errorf("setup %s: %w", strings.Join(op, " "), err)
		}
	}
	// Fixed times for whatever setup did not date explicitly.
	return filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.ModTime().Year() < 2022 {
			return err
		}
		return os.Chtimes(p, fixed, fixed)
	})
}

// setupOp runs one setup operation; every path is resolved inside root.
func setupOp(root string, op []string) error {
	in := func(p string) (string, error) { return securejoin.SecureJoin(root, p) }
	need := func(n int) error {
		if len(op) != n+1 {
			return fmt.Errorf("want %d arguments", n)
		}
		return nil
	}
	switch op[0] {
	case "chmod":
		if err := need(2); err != nil {
			return err
		}
		m, err := strconv.ParseUint(op[1], 8, 32)
		if err != nil {
			return err
		}
		p, err := in(op[2])
		if err != nil {
			return err
		}
		return syscall.Chmod(p, uint32(m))
	case "chown":
		if err := need(2); err != nil {
			return err
		}
		u, g, _ := strings.Cut(op[1], ":")
		uid, err1 := strconv.Atoi(u)
		gid, err2 := strconv.Atoi(g)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("want UID:GID")
		}
		p, err := in(op[2])
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	case "mtime":
		if err := need(2); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339, op[1])
		if err != nil {
			return err
		}
		p, err := in(op[2])
		if err != nil {
			return err
		}
		return os.Chtimes(p, t, t)
	case "hardlink":
		if err := need(2); err != nil {
			return err
		}
		old, err := in(op[1])
		if err != nil {
			return err
		}
		p, err := in(op[2])
		if err != nil {
			return err
		}
		return os.Link(old, p)
	case "symlink":
		if err := need(2); err != nil {
			return err
		}
		p, err := in(op[2])
		if err != nil {
			return err
		}
		return os.Symlink(op[1], p)
	case "mkdir":
		if err := need(1); err != nil {
			return err
		}
		p, err := in(op[1])
		if err != nil {
			return err
		}
		return os.MkdirAll(p, 0o755)
	case "fifo":
		if err := need(1); err != nil {
			return err
		}
		p, err := in(op[1])
		if err != nil {
			return err
		}
		return syscall.Mkfifo(p, 0o644)
	case "tar":
		if err := need(3); err != nil {
			return err
		}
		return makeArchive(root, op[1], op[2], op[3])
	}
	return fmt.Errorf("unknown setup operation %q", op[0])
}

// makeArchive tars dir (inside root) as archive, compressed by the command-line tool.
func makeArchive(root, compression, archive, dir string) error {
	src, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		h.Name = filepath.ToSlash(rel)
		h.Uid, h.Gid, h.Uname, h.Gname = 1000, 1000, "", ""
		h.ModTime = time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	data := buf.Bytes()
	if compression != "none" {
		cmd := exec.Command(compression, "-c")
		cmd.Stdin = bytes.NewReader(data)
		if data, err = cmd.Output(); err != nil {
			return fmt.Errorf("%s: %w", compression, err)
		}
	}
	out, err := securejoin.SecureJoin(root, archive)
	if err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}
