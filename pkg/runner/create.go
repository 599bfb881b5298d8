package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/layers"
	"github.com/dockyard/dockyard/pkg/store"
)

// ExitError carries the exit code a command should end with: 125 for the runner's own
// errors, 126/127 when the container's command cannot be run.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the code an error stands for: the ExitError's, or 125.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 125
}

// pinName is the store pin that keeps a container's image (and its layer dirs, the
// container's lowers) from `builder prune`.
func pinName(id string) string { return "container-" + id }

// create makes a container's record from the image and the flags; nothing runs yet.
func (m *Manager) create(ctx context.Context, o RunOptions) (_ *Container, err error) {
	if o.AutoRemove && o.Restart != "" && o.Restart != "no" {
		return nil, errors.New("conflicting options: --restart and --rm")
	}
	restart, err := ParseRestart(o.Restart)
	if err != nil {
		return nil, err
	}
	network, err := parseNetwork(o.Network)
	if err != nil {
		return nil, err
	}
	if f := m.store.LayerFormat(); f != layers.DirOverlay {
		// Its layer dirs keep deletions as .wh. files, which an overlay mount would show
		// as files; and overlayfs cannot be the upper layer of a container's root anyway.
		return nil, fmt.Errorf("store %s keeps %s-format layers (it is on a filesystem that cannot hold overlay whiteouts, such as overlayfs): runner needs a store on ext4, xfs, btrfs or tmpfs; point --root or DOCKYARD_ROOT at one", m.opts.Root, f)
	}
	// Until the image is pinned for the container, garbage collection must wait.
	release, err := m.store.Use()
	if err != nil {
		return nil, err
	}
	defer release()
	img, digest, err := m.imageOrPull(ctx, o)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", o.Image, err)
	}
	ic := cf.Config
	ep, cmd := command(ic.Entrypoint, ic.Cmd, o.Entrypoint, o.Args)
	if len(ep)+len(cmd) == 0 {
		return nil, fmt.Errorf("no command specified: image %s has no CMD or ENTRYPOINT", o.Image)
	}
	env, err := buildEnv(ic.Env, o.EnvFiles, o.Env)
	if err != nil {
		return nil, err
	}
	ports, err := m.publishedPorts(o, ic.ExposedPorts, network)
	if err != nil {
		return nil, err
	}
	id := newID()
	c := &Container{Config: Config{
		ID: id, Created: time.Now().UTC(),
		Image: o.Image, ImageDigest: digest.String(),
		Args: append(append([]string(nil), ep...), cmd...), Entrypoint: ep, Cmd: cmd,
		Env: env, WorkingDir: firstOf(o.Workdir, ic.WorkingDir), User: firstOf(o.User, ic.User),
		Hostname: o.Hostname, TTY: o.TTY, OpenStdin: o.Interactive,
		StopSignal: firstOf(ic.StopSignal, "SIGTERM"),
		Network:    network, Ports: ports, ExposedPorts: sortedKeys(ic.ExposedPorts),
		Limits: o.Limits, ReadOnly: o.ReadOnly, Restart: restart, AutoRemove: o.AutoRemove,
		Labels: o.Labels,
	}}
	if cfgName, err := img.ConfigName(); err == nil {
		c.ImageID = cfgName.String()
	}
	if ref, err := store.Normalize(o.Image); err == nil {
		c.ImageRef = ref
	}
	if _, err := parseSignal(c.StopSignal); err != nil {
		return nil, fmt.Errorf("image %s: STOPSIGNAL: %w", o.Image, err)
	}
	if o.Init {
		if c.Init, err = findInit(); err != nil {
			return nil, err
		}
	}
	if c.Lowers, err = m.store.LayerDirs(ctx, img); err != nil {
		return nil, fmt.Errorf("image %s: %w", o.Image, err)
	}
	if err := m.store.Pin(pinName(id), digest); err != nil {
		return nil, fmt.Errorf("image %s: %w", o.Image, err)
	}
	defer func() {
		if err != nil {
			m.store.Unpin(pinName(id))
		}
	}()
	if c.Name, err = m.claimName(o.Name, id); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			m.releaseName(c.Name, id)
			os.RemoveAll(m.dir(id))
		}
	}()
	if c.Hostname == "" {
		c.Hostname = id[:12]
		if network == "host" {
			c.Hostname, _ = os.Hostname()
		}
	}
	if err := os.MkdirAll(m.dir(id), 0o700); err != nil {
		return nil, fmt.Errorf("create container dir: %w", err)
	}
	if c.Volumes, err = m.resolveVolumes(o.Volumes, ic.Volumes); err != nil {
		return nil, err
	}
	if err := m.writeEtcFiles(c); err != nil {
		return nil, err
	}
	// No state.json yet: a container without one is created (see load).
	if err := writeJSON(m.configPath(id), c.Config); err != nil {
		return nil, err
	}
	c.State = State{Status: StatusCreated}
	return c, nil
}

// imageOrPull finds the image locally, pulling it as o.Pull says: when missing (the
// default), always, or never.
func (m *Manager) imageOrPull(ctx context.Context, o RunOptions) (v1.Image, v1.Hash, error) {
	switch o.Pull {
	case "", "missing", "never":
		img, d, err := m.image(o.Image)
		if err == nil || !errors.Is(err, store.ErrNotFound) || o.Pull == "never" {
			return img, d, err
		}
		warn(o, fmt.Sprintf("unable to find image %q locally: pulling it", o.Image))
	case "always":
	default:
		return nil, v1.Hash{}, fmt.Errorf("invalid --pull %q: want missing, always or never", o.Pull)
	}
	if _, perr := m.Pull(ctx, o.Image); perr != nil {
		return nil, v1.Hash{}, fmt.Errorf("unable to find image %q locally, and pulling it failed: %w", o.Image, perr)
	}
	return m.image(o.Image)
}

// image finds a stored image by anything the store resolves.
func (m *Manager) image(ref string) (v1.Image, v1.Hash, error) {
	d, err := m.store.Resolve(ref)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, v1.Hash{}, fmt.Errorf("unable to find image %q locally: %w", ref, store.ErrNotFound)
		}
		return nil, v1.Hash{}, err
	}
	img, err := m.store.ImageByDigest(d)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	return img, d, nil
}

func parseNetwork(s string) (string, error) {
	switch s {
	case "", "private", "bridge", "default":
		return "private", nil
	case "host", "none":
		return s, nil
	}
	return "", fmt.Errorf("network %q: want private, host or none", s)
}

// publishedPorts parses -p and adds -P's bindings of every exposed port. Ports need the
// private network; elsewhere they are discarded with a warning, as docker does.
func (m *Manager) publishedPorts(o RunOptions, exposed map[string]struct{}, network string) ([]PortBinding, error) {
	var out []PortBinding
	for _, p := range o.Publish {
		b, err := ParsePublish(p)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if o.PublishAll {
		for _, key := range sortedKeys(exposed) {
			b, err := parseExposed(key)
			if err != nil {
				return nil, fmt.Errorf("image EXPOSE %s: %w", key, err)
			}
			out = append(out, b)
		}
	}
	if len(out) > 0 && network != "private" {
		warn(o, fmt.Sprintf("published ports are discarded when using %s network mode", network))
		return nil, nil
	}
	return out, nil
}

func warn(o RunOptions, msg string) {
	if o.Warn != nil {
		o.Warn(msg)
	}
}

// findInit looks for a static init for --init: tini's static build or catatonit, the
// ones docker and podman inject.
func findInit() (string, error) {
	for _, name := range []string{"docker-init", "tini-static", "catatonit"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	for _, p := range []string{"/usr/libexec/podman/catatonit", "/usr/libexec/docker/docker-init"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("--init needs a static init on the host: install Debian's tini (tini-static) or catatonit")
}

// writeEtcFiles writes the hosts, hostname and resolv.conf files the container gets
// bind-mounted, never copied into its root.
func (m *Manager) writeEtcFiles(c *Container) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	resolv := []byte{}
	switch c.Network {
	case "host":
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
		resolv, _ = os.ReadFile("/etc/resolv.conf")
	case "private":
		if slirpPath() != "" {
			hosts += slirpIP + "\t" + c.Hostname + "\n"
			resolv = []byte("nameserver " + slirpDNS + "\n")
		} else {
			hosts += "127.0.1.1\t" + c.Hostname + "\n"
		}
	default:
		hosts += "127.0.1.1\t" + c.Hostname + "\n"
	}
	files := map[string][]byte{"hosts": []byte(hosts), "hostname": []byte(c.Hostname + "\n"), "resolv.conf": resolv}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(m.dir(c.ID), name), b, 0o644); err != nil {
			return fmt.Errorf("write %s of container %s: %w", name, c.Name, err)
		}
	}
	return nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// parseSignal parses a STOPSIGNAL or kill -s value: "SIGTERM", "term", "15".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}
