package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/copier"
)

// cacheMountsDir holds the directories of RUN --mount=type=cache, by id, under the store
// root: they outlive builds, and never become part of an image.
const cacheMountsDir = "cache-mounts"

// cacheMount returns the persistent directory a type=cache mount shows, locked for the
// step as its sharing mode says: shared (concurrent steps use it together), locked (one
// step at a time), private (a concurrent step gets a fresh, throwaway directory).
func (s *stage) cacheMount(ctx context.Context, r *runMounts, m *instructions.Mount, target string) (string, error) {
	id := m.CacheID
	if id == "" {
		id = path.Clean(m.Target) // BuildKit's default: the target as written
	}
	sharing := m.CacheSharing
	if sharing == "" {
		sharing = instructions.MountSharingShared
	}
	r.key = append(r.key, "cache", target, id, string(sharing), strconv.FormatBool(m.ReadOnly), m.From, m.Source)
	base := filepath.Join(s.b.store.Root(), cacheMountsDir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("cache %s: %w", id, err)
	}
	sum := sha256.Sum256([]byte(id))
	name := filepath.Join(base, hex.EncodeToString(sum[:16]))
	if err := s.ensureCacheDir(ctx, m, name); err != nil {
		return "", fmt.Errorf("cache %s: %w", id, err)
	}
	dir := name
	how := unix.LOCK_SH
	switch sharing {
	case instructions.MountSharingLocked:
		how = unix.LOCK_EX
	case instructions.MountSharingPrivate:
		how = unix.LOCK_EX | unix.LOCK_NB
	}
	unlock, err := flock(name+".lock", how)
	if errors.Is(err, unix.EWOULDBLOCK) {
		// Private and busy: this step gets its own instance, gone when it ends.
		if dir, err = os.MkdirTemp(s.b.scratch, "cache-"); err != nil {
			return "", err
		}
		r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
		if err := s.fillCacheDir(ctx, m, dir); err != nil {
			return "", fmt.Errorf("cache %s: %w", id, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("cache %s: %w", id, err)
	} else {
		r.cleanup = append(r.cleanup, unlock)
	}
	src := path.Clean("/" + m.Source)
	if m.From != "" {
		src = "/" // the seed was copied from the source path to the top
	}
	return filepath.Join(dir, src), nil
}

// ensureCacheDir creates the cache directory name on first use, under an exclusive lock
// so that two builds never both fill it.
func (s *stage) ensureCacheDir(ctx context.Context, m *instructions.Mount, name string) error {
	unlock, err := flock(name+".init", unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(name); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(name), ".new-")
	if err != nil {
		return err
	}
	if err := s.fillCacheDir(ctx, m, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

// fillCacheDir gives a new cache directory its owner and mode (uid, gid, mode: 0:0 0755
// unless set) and its first content: from=, at source, when given.
func (s *stage) fillCacheDir(ctx context.Context, m *instructions.Mount, dir string) error {
	uid, gid, mode := mountOwner(m, 0o755)
	if m.From != "" {
		view := &runMounts{}
		defer view.release()
		root, err := s.mountFromRoot(ctx, view, m.From)
		if err != nil {
			return err
		}
		src := path.Clean("/" + m.Source)
		if err := copier.Copy(ctx, copier.Request{SrcRoot: root, Srcs: []string{src}, DstRoot: dir, Dest: "/"}, copier.Options{}); err != nil {
			return fmt.Errorf("from=%s source %s: %w", m.From, m.Source, err)
		}
	} else if src := path.Clean("/" + m.Source); src != "/" {
		if err := os.MkdirAll(filepath.Join(dir, src), 0o755); err != nil {
			return err
		}
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return err
	}
	return unix.Chmod(dir, mode)
}

// flock takes a lock on file (creating it); the returned func releases it.
func flock(file string, how int) (func(), error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// mountOwner is a --mount's uid, gid and mode options, 0:0 and def when unset.
func mountOwner(m *instructions.Mount, def uint32) (uid, gid int, mode uint32) {
	mode = def
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if m.Mode != nil {
		mode = uint32(*m.Mode)
	}
	return uid, gid, mode
}
