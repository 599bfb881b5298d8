package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"

	"github.com/dockyard/dockyard/pkg/copier"
)

// resolveOwner turns a --chown value (or a USER, for WORKDIR) into numeric ids, reading
// names from root's /etc/passwd and /etc/group the way BuildKit does: "name" takes the
// user's uid and primary gid, "uid" alone means uid:uid, ":group" overrides the gid.
func resolveOwner(root, spec string) (*copier.Owner, error) {
	if spec == "" {
		return nil, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	var o copier.Owner
	if id, err := strconv.Atoi(name); err == nil {
		o = copier.Owner{UID: id, GID: id}
	} else {
		u, err := lookup(root, "/etc/passwd", func(f *os.File) (int, int, bool, error) {
			us, err := user.ParsePasswdFilter(f, func(u user.User) bool { return u.Name == name })
			if err != nil || len(us) == 0 {
				return 0, 0, false, err
			}
			return us[0].Uid, us[0].Gid, true, nil
		})
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
		o = u
	}
	if hasGroup && group != "" {
		if id, err := strconv.Atoi(group); err == nil {
			o.GID = id
		} else {
			g, err := lookup(root, "/etc/group", func(f *os.File) (int, int, bool, error) {
				gs, err := user.ParseGroupFilter(f, func(g user.Group) bool { return g.Name == group })
				if err != nil || len(gs) == 0 {
					return 0, 0, false, err
				}
				return 0, gs[0].Gid, true, nil
			})
			if err != nil {
				return nil, fmt.Errorf("group %q: %w", group, err)
			}
			o.GID = g.GID
		}
	}
	return &o, nil
}

func lookup(root, file string, find func(*os.File) (int, int, bool, error)) (copier.Owner, error) {
	p, err := securejoin.SecureJoin(root, file)
	if err != nil {
		return copier.Owner{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return copier.Owner{}, fmt.Errorf("no %s in the image to look it up", file)
	}
	if err != nil {
		return copier.Owner{}, err
	}
	defer f.Close()
	uid, gid, ok, err := find(f)
	if err != nil {
		return copier.Owner{}, fmt.Errorf("read %s: %w", file, err)
	}
	if !ok {
		return copier.Owner{}, fmt.Errorf("not found in the image's %s", file)
	}
	return copier.Owner{UID: uid, GID: gid}, nil
}
