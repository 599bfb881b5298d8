package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dockyard/dockyard/pkg/store"
)

// Inspect returns what `runner inspect` prints for each ref: a container (by name or
// id) or else an image, in docker's shape.
func (m *Manager) Inspect(ctx context.Context, refs []string) ([]any, error) {
	var out []any
	var errs []error
	for _, ref := range refs {
		if c, err := m.get(ref); err == nil {
			out = append(out, inspectContainer(c))
			continue
		} else if !errors.Is(err, errNoSuchContainer) {
			errs = append(errs, err)
			continue
		}
		img, err := m.inspectImage(ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("no such object: %s", ref))
			continue
		}
		out = append(out, img)
	}
	return out, errors.Join(errs...)
}

func inspectContainer(c *Container) map[string]any {
	st := c.State
	ports := map[string][]map[string]string{}
	for _, p := range st.Ports {
		key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		ports[key] = append(ports[key], map[string]string{"HostIp": p.HostIP, "HostPort": fmt.Sprint(p.HostPort)})
	}
	var mounts []map[string]any
	for _, v := range c.Volumes {
		mounts = append(mounts, map[string]any{
			"Type": v.Type, "Name": v.Name, "Source": v.Source, "Destination": v.Destination, "RW": !v.ReadOnly,
		})
	}
	var args []string
	if len(c.Args) > 1 {
		args = c.Args[1:]
	}
	return map[string]any{
		"Id":      c.ID,
		"Created": c.Created.Format(time.RFC3339Nano),
		"Path":    c.Args[0],
		"Args":    args,
		"State": map[string]any{
			"Status": string(st.Status), "Running": st.Status == StatusRunning,
			"Restarting": st.Status == StatusRestarting, "Pid": st.Pid, "ExitCode": st.ExitCode,
			"Error": st.Error, "StartedAt": st.StartedAt.Format(time.RFC3339Nano),
			"FinishedAt": st.FinishedAt.Format(time.RFC3339Nano),
		},
		"Image":        c.ImageID,
		"Name":         "/" + c.Name,
		"RestartCount": st.RestartCount,
		"Mounts":       mounts,
		"HostConfig": map[string]any{
			"NetworkMode": c.Network, "PortBindings": c.Ports, "AutoRemove": c.AutoRemove,
			"RestartPolicy":  map[string]any{"Name": c.Restart.Name, "MaximumRetryCount": c.Restart.MaxRetries},
			"ReadonlyRootfs": c.ReadOnly, "Memory": c.Limits.MemoryBytes,
			"NanoCpus": int64(c.Limits.CPUs * 1e9), "PidsLimit": c.Limits.Pids, "Init": c.Init != "",
		},
		"Config": map[string]any{
			"Hostname": c.Hostname, "User": c.User, "Env": c.Env, "Cmd": c.Cmd, "Entrypoint": c.Entrypoint,
			"Image": c.Image, "WorkingDir": c.WorkingDir, "Tty": c.TTY, "OpenStdin": c.OpenStdin,
			"StopSignal": c.StopSignal, "ExposedPorts": c.ExposedPorts, "Labels": c.Labels,
		},
		"NetworkSettings": map[string]any{"Ports": ports, "Offline": st.Offline},
	}
}

func (m *Manager) inspectImage(ref string) (map[string]any, error) {
	img, digest, err := m.image(ref)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	id, _ := img.ConfigName()
	size, _ := imageSize(img)
	var tags []string
	records, _ := m.store.Images()
	for _, r := range records {
		if r.Digest == digest {
			tags = append(tags, store.FamiliarName(r.Ref))
		}
	}
	var diffIDs []string
	for _, d := range cf.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.String())
	}
	return map[string]any{
		"Id":           id.String(),
		"RepoTags":     tags,
		"Digest":       digest.String(),
		"Created":      cf.Created.Format(time.RFC3339Nano),
		"Architecture": cf.Architecture,
		"Os":           cf.OS,
		"Config":       cf.Config,
		"RootFS":       map[string]any{"Type": "layers", "Layers": diffIDs},
		"Size":         size,
	}, nil
}
