package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/dockyard/dockyard/pkg/store"
)

// Images writes `runner images`: one line per tag. SIZE is the sum of the compressed
// layers, what a pull transfers.
func (m *Manager) Images(ctx context.Context, w io.Writer, quiet bool) error {
	records, err := m.store.Images()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	if !quiet {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	now := time.Now()
	for _, r := range records {
		img, err := m.store.ImageByDigest(r.Digest)
		if err != nil {
			continue
		}
		id, _ := img.ConfigName()
		if quiet {
			fmt.Fprintln(tw, id.Hex[:12])
			continue
		}
		created := "N/A"
		if cf, err := img.ConfigFile(); err == nil && !cf.Created.IsZero() {
			created = units.HumanDuration(now.Sub(cf.Created.Time)) + " ago"
		}
		size, _ := imageSize(img)
		repo, tag := splitTag(store.FamiliarName(r.Ref))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, id.Hex[:12], created, units.HumanSize(float64(size)))
	}
	return tw.Flush()
}

func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}

// splitTag splits "repo:tag" (the last colon after the last slash).
func splitTag(ref string) (string, string) {
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], "<none>"
	}
	return ref, "<none>"
}

// RemoveImage untags an image: ref names a tag, or an image id (then every tag of that
// image goes, which needs force when there are several). An image a container uses
// needs force too. It returns the tags removed; the blobs stay until garbage collection.
func (m *Manager) RemoveImage(ctx context.Context, ref string, force bool) ([]string, error) {
	digest, err := m.store.Resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("no such image: %s", ref)
	}
	if !force {
		if users := m.imageUsers(digest); len(users) > 0 {
			return nil, fmt.Errorf("unable to remove image %s: container %s uses it (remove the container first, or force)", ref, users[0])
		}
	}
	records, err := m.store.Images()
	if err != nil {
		return nil, err
	}
	var tags []string
	if normal, err := store.Normalize(ref); err == nil {
		for _, r := range records {
			if r.Ref == normal {
				tags = []string{r.Ref}
			}
		}
	}
	if len(tags) == 0 { // an id
		for _, r := range records {
			if r.Digest == digest {
				tags = append(tags, r.Ref)
			}
		}
		if len(tags) > 1 && !force {
			return nil, fmt.Errorf("unable to remove image %s: it is tagged %d times (remove the tags, or force)", ref, len(tags))
		}
	}
	var out []string
	for _, t := range tags {
		if err := m.store.Untag(t); err != nil {
			return out, err
		}
		out = append(out, store.FamiliarName(t))
	}
	return out, nil
}

func (m *Manager) imageUsers(digest v1.Hash) []string {
	cs, _ := m.list()
	var out []string
	for _, c := range cs {
		if c.ImageDigest == digest.String() {
			out = append(out, c.Name)
		}
	}
	return out
}
