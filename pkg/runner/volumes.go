package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// volumeDir is a volume's directory; its content is in _data.
func (m *Manager) volumeDir(name string) string { return filepath.Join(m.volumesDir(), name) }

// resolveVolumes turns -v flags and the image's VOLUME entries into mounts: named volumes
// are created on first use, every VOLUME no flag covers gets an anonymous volume, and a
// missing host dir of a bind is created (docker's -v does so).
func (m *Manager) resolveVolumes(flags []string, imageVolumes map[string]struct{}) ([]Volume, error) {
	var vols []Volume
	covered := map[string]bool{}
	for _, f := range flags {
		v, err := ParseVolume(f)
		if err != nil {
			return nil, err
		}
		vols = append(vols, v)
		covered[filepath.Clean(v.Destination)] = true
	}
	var extra []string
	for dst := range imageVolumes {
		if !covered[filepath.Clean(dst)] {
			extra = append(extra, dst)
		}
	}
	sort.Strings(extra)
	for _, dst := range extra {
		vols = append(vols, Volume{Type: "volume", Destination: dst, Anonymous: true})
	}
	for i := range vols {
		v := &vols[i]
		v.Destination = filepath.Clean(v.Destination)
		switch v.Type {
		case "bind":
			abs, err := filepath.Abs(v.Source)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Source, err)
			}
			v.Source = abs
			if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(abs, 0o755); err != nil {
					return nil, fmt.Errorf("create bind source: %w", err)
				}
			}
		default:
			if v.Anonymous {
				v.Name = newID()
			}
			v.Source = filepath.Join(m.volumeDir(v.Name), "_data")
			if err := os.MkdirAll(v.Source, 0o755); err != nil {
				return nil, fmt.Errorf("create volume %s: %w", v.Name, err)
			}
		}
	}
	return vols, nil
}

// removeAnonymousVolumes removes the container's anonymous volumes (rm -v, --rm).
func (m *Manager) removeAnonymousVolumes(c *Container) error {
	var errs []error
	for _, v := range c.Volumes {
		if v.Type == "volume" && v.Anonymous && v.Name != "" {
			if err := os.RemoveAll(m.volumeDir(v.Name)); err != nil {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// copyUp fills an empty volume with what the image has at its mount point, as docker
// does the first time a volume is mounted.
func copyUp(root string, v Volume) error {
	if v.Type != "volume" {
		return nil
	}
	entries, err := os.ReadDir(v.Source)
	if err != nil || len(entries) > 0 {
		return err
	}
	src, err := securejoin.SecureJoin(root, v.Destination)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Destination, err)
	}
	fi, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Destination, err)
	}
	if err := copyTree(src, v.Source); err != nil {
		return fmt.Errorf("copy %s into volume: %w", v.Destination, err)
	}
	return copyMeta(src, v.Source, fi)
}

// copyTree copies the content of dir src into dst: files, dirs, symlinks, with owners
// and modes. Special files are skipped.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(p, target); err != nil {
				return err
			}
		default:
			return nil
		}
		return copyMeta(p, target, fi)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyMeta gives dst src's owner and mode (chown first: it clears setuid bits).
func copyMeta(src, dst string, fi fs.FileInfo) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	return unix.Chmod(dst, st.Mode&0o7777)
}
