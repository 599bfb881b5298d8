package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/dockyard/dockyard/pkg/dockerfile"
	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/snapshot"
)

// buildHostname is what `hostname` prints inside a RUN step.
const buildHostname = "dockyard"

// run executes a RUN instruction in a container on the stage's root.
func (s *stage) run(ctx context.Context, c *instructions.RunCommand) error {
	label := s.label(c.String())
	v := s.b.progress.begin("%s", label)
	cached, err := s.runStep(ctx, c, v)
	if err != nil {
		err = s.errorAt(c, fmt.Errorf("step %s: %w", stepName(label), err))
	}
	return v.end(cached, err)
}

func (s *stage) runStep(ctx context.Context, c *instructions.RunCommand, v *vertex) (cached bool, err error) {
	if sec := instructions.GetSecurity(c); sec != "" && sec != "sandbox" {
		return false, fmt.Errorf("RUN --security=%s is not supported", sec)
	}
	network, err := s.runNetwork(c)
	if err != nil {
		return false, err
	}
	args, script, err := dockerfile.RunArgs(c, s.cfg.Config.Shell, s.cfg.OS)
	if err != nil {
		return false, err
	}
	files, err := s.b.runFiles()
	if err != nil {
		return false, err
	}
	rm, err := s.runMounts(ctx, c)
	if err != nil {
		return false, err
	}
	defer rm.release()
	mounts := []run.Mount{
		{Source: files.hosts, Destination: "/etc/hosts", ReadOnly: true},
		{Source: files.resolv, Destination: "/etc/resolv.conf", ReadOnly: true},
		{Source: files.hostname, Destination: "/etc/hostname", ReadOnly: true},
	}
	mounts = append(mounts, rm.mounts...)
	if script != nil {
		p, err := s.b.writeScratch("script-", script.Data, 0o755)
		if err != nil {
			return false, err
		}
		defer os.Remove(p)
		mounts = append(mounts, run.Mount{Source: p, Destination: script.Path, ReadOnly: true})
	}
	createdBy := "RUN " + strings.Join(append(argsPrefix(s.vars.Args()), args...), " ")
	key := s.stepKey("RUN")
	key.addList(args)
	if script != nil {
		key.add(script.Path, script.Data)
	}
	// What the process sees, but the proxy settings, which BuildKit keeps out of keys.
	key.addList(s.vars.Env())
	key.add(s.cfg.Config.User, s.cfg.Config.WorkingDir, string(network))
	key.addList(rm.key)
	stubs := append(slices.Clone(snapshot.DefaultStubs), rm.stubs...)
	return s.fsStep(ctx, key.sum(), createdBy, stubs, func(root string) error {
		id, err := s.b.containerID()
		if err != nil {
			return err
		}
		profile, err := runSeccomp()
		if err != nil {
			return err
		}
		code, err := run.Run(ctx, run.Spec{
			ID:        id,
			Root:      root,
			Args:      args,
			Env:       append(s.env(), rm.env...),
			Cwd:       s.cfg.Config.WorkingDir,
			User:      s.cfg.Config.User,
			Hostname:  buildHostname,
			Mounts:    mounts,
			Network:   network,
			Stdio:     run.Stdio{Stdout: v, Stderr: v},
			StateRoot: filepath.Join(s.b.scratch, "containers"),
			Limits:    s.b.opts.Limits,
			Seccomp:   profile,
		})
		v.flush()
		switch {
		case err != nil && code < 0:
			return err
		case code != 0:
			return fmt.Errorf("process %q did not complete successfully: exit code: %d", strings.Join(args, " "), code)
		}
		return nil
	})
}

// argsPrefix is how BuildKit shows the ARGs a RUN sees in its history: "|2 A=1 B=2".
func argsPrefix(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	return append([]string{fmt.Sprintf("|%d", len(args))}, args...)
}

func (s *stage) runNetwork(c *instructions.RunCommand) (run.NetworkMode, error) {
	switch mode := instructions.GetNetwork(c); mode {
	case instructions.NetworkDefault:
		if s.b.opts.Network == "" {
			return run.NetworkHost, nil
		}
		return s.b.opts.Network, nil
	case instructions.NetworkNone:
		return run.NetworkNone, nil
	case instructions.NetworkHost:
		return run.NetworkHost, nil
	default:
		return "", fmt.Errorf("RUN --network=%s is not supported", mode)
	}
}

// stepName pulls "2/5" out of a progress label, for error messages.
func stepName(label string) string {
	if i := strings.Index(label, "]"); i > 0 {
		f := strings.Fields(label[1:i])
		return f[len(f)-1]
	}
	return label
}

// runFiles are the generated /etc/hosts, /etc/resolv.conf and /etc/hostname every RUN
// mounts read-only: copies, so a step can never write to the host's own files.
type runFiles struct{ hosts, resolv, hostname string }

func (b *builder) runFiles() (*runFiles, error) {
	if b.files != nil {
		return b.files, nil
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read /etc/resolv.conf: %w", err)
	}
	// The host's names, as a RUN on the host network resolves them, plus the step's own.
	hostsFile, err := os.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read /etc/hosts: %w", err)
	}
	f := &runFiles{}
	hosts := string(hostsFile)
	if hosts != "" && !strings.HasSuffix(hosts, "\n") {
		hosts += "\n"
	}
	hosts += "127.0.0.1\tlocalhost " + buildHostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	for _, x := range []struct {
		dst  *string
		data string
	}{{&f.hosts, hosts}, {&f.resolv, string(resolv)}, {&f.hostname, buildHostname + "\n"}} {
		if *x.dst, err = b.writeScratch("etc-", x.data, 0o644); err != nil {
			return nil, err
		}
	}
	b.files = f
	return f, nil
}

func (b *builder) writeScratch(prefix, data string, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(b.scratch, prefix)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		return "", err
	}
	return f.Name(), f.Chmod(mode)
}

// containerID names a RUN step's container: unique across concurrent builds.
func (b *builder) containerID() (string, error) {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	b.step++
	return fmt.Sprintf("build-%s-%d", hex.EncodeToString(r[:]), b.step), nil
}

// runSeccomp is the system call filter of RUN steps: Docker's default profile, as
// BuildKit and Buildah apply to RUN, wherever this binary can load one (built with the
// seccomp tag); nil otherwise. Unlike the runner's containers, RUN keeps setuid
// privileges (no no_new_privs), as in docker build: `USER app` then `RUN sudo ...` works.
var runSeccomp = sync.OnceValues(func() (*specs.LinuxSeccomp, error) {
	if !run.SeccompSupported() {
		return nil, nil
	}
	return run.DefaultSeccomp(nil)
})
