package run

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
)

// execUser is a resolved Spec.User.
type execUser struct {
	UID, GID int
	Groups   []int // supplementary groups
	Home     string
}

// resolveUser resolves spec ("", "name", "uid", "uid:gid", "name:group", ...) against
// root's /etc/passwd and /etc/group. Symlinks are followed as if root were "/", so an
// image cannot point us at host files. Numeric ids need no entry; names do.
func resolveUser(root, spec string) (execUser, error) {
	passwd, err := openInRoot(root, "/etc/passwd")
	if err != nil {
		return execUser{}, err
	}
	if passwd != nil {
		defer passwd.Close()
	}
	group, err := openInRoot(root, "/etc/group")
	if err != nil {
		return execUser{}, err
	}
	if group != nil {
		defer group.Close()
	}
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	u, err := user.GetExecUser(spec, defaults, readerOrNil(passwd), readerOrNil(group))
	if err != nil {
		return execUser{}, fmt.Errorf("resolve user %q in %s: %w", spec, root, err)
	}
	// The primary group is a supplementary group too, as docker (containerd's
	// ensureAdditionalGids) and BuildKit have it: `id` shows groups=33(www-data).
	groups := []int{u.Gid}
	for _, g := range u.Sgids {
		if g != u.Gid {
			groups = append(groups, g)
		}
	}
	return execUser{UID: u.Uid, GID: u.Gid, Groups: groups, Home: u.Home}, nil
}

// openInRoot opens name inside root, or returns nil if it does not exist.
func openInRoot(root, name string) (*os.File, error) {
	p, err := securejoin.SecureJoin(root, name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", name, root, err)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return f, nil
}

// readerOrNil avoids handing GetExecUser a non-nil interface holding a nil *os.File.
func readerOrNil(f *os.File) io.Reader {
	if f == nil {
		return nil
	}
	return f
}

// mkdirOwned creates the missing directories of dir (absolute, clean) inside root,
// each owned by uid:gid with mode 0755. Existing components, including symlinks,
// are left untouched and resolved inside root.
func mkdirOwned(root, dir string, uid, gid int) error {
	cur := "/"
	for _, part := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		p, err := securejoin.SecureJoin(root, cur)
		if err != nil {
			return fmt.Errorf("resolve %s in %s: %w", cur, root, err)
		}
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("working directory %s: %s is not a directory", dir, cur)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("create working directory: %w", err)
		}
		// Chmod because Mkdir's mode is filtered through our umask.
		if err := os.Chmod(p, 0o755); err != nil {
			return fmt.Errorf("chmod working directory: %w", err)
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown working directory: %w", err)
		}
	}
	return nil
}
