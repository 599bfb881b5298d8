package build

import (
	"context"
	"fmt"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/dockerfile"
)

// dispatch executes one instruction, already expanded.
func (s *stage) dispatch(ctx context.Context, cmd instructions.Command) error {
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return s.run(ctx, c)
	case *instructions.CopyCommand:
		return s.copy(ctx, c)
	case *instructions.AddCommand:
		return s.add(ctx, c)
	case *instructions.WorkdirCommand:
		return s.workdir(ctx, c)
	}
	v := s.b.progress.begin("%s", s.label(cmdText(cmd)))
	if err := s.configOnly(cmd); err != nil {
		err = s.errorAt(cmd, err)
		v.fail(err)
		return err
	}
	v.done()
	return nil
}

// configOnly applies an instruction that only changes the image config, with BuildKit's
// history text for it.
func (s *stage) configOnly(cmd instructions.Command) error {
	cfg := &s.cfg.Config
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		msg := "ENV"
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
			msg += " " + kv.String()
		}
		s.history(msg)
	case *instructions.ArgCommand:
		parts := make([]string, 0, len(c.Args))
		for _, a := range c.Args {
			p := a.Key
			if a.Value != nil {
				p += "=" + *a.Value
			}
			parts = append(parts, p)
		}
		s.history("ARG " + strings.Join(parts, " "))
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		msg := "LABEL"
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
			msg += " " + kv.String()
		}
		s.history(msg)
	case *instructions.MaintainerCommand:
		s.cfg.Author = c.Maintainer
		s.history("MAINTAINER " + c.Maintainer)
	case *instructions.ExposeCommand:
		ports, err := parseExposed(c.Ports)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
		s.history(fmt.Sprintf("EXPOSE %v", ports))
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, vol := range c.Volumes {
			if vol == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[vol] = struct{}{}
		}
		s.history(fmt.Sprintf("VOLUME %v", c.Volumes))
	case *instructions.UserCommand:
		cfg.User = c.User
		s.history("USER " + c.User)
	case *instructions.CmdCommand:
		cfg.Cmd = dockerfile.WithShell(cfg.Shell, s.cfg.OS, c.CmdLine, c.PrependShell)
		cfg.ArgsEscaped = true
		s.cmdSet = true
		s.history(fmt.Sprintf("CMD %q", cfg.Cmd))
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = dockerfile.WithShell(cfg.Shell, s.cfg.OS, c.CmdLine, c.PrependShell)
		if !s.cmdSet {
			cfg.Cmd = nil // an inherited CMD was written for the old entrypoint
		}
		s.history(fmt.Sprintf("ENTRYPOINT %q", cfg.Entrypoint))
	case *instructions.ShellCommand:
		cfg.Shell = append([]string(nil), c.Shell...)
		s.history(fmt.Sprintf("SHELL %v", c.Shell))
	case *instructions.StopSignalCommand:
		if err := checkSignal(c.Signal); err != nil {
			return err
		}
		cfg.StopSignal = c.Signal
		s.history("STOPSIGNAL " + c.Signal)
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &v1.HealthConfig{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries,
		}
		s.history(fmt.Sprintf("HEALTHCHECK %+v", healthText(cfg.Healthcheck)))
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	default:
		return fmt.Errorf("%s is not supported", strings.ToUpper(cmd.Name()))
	}
	return nil
}

// healthText prints a health check the way BuildKit's history does (the struct's fields).
func healthText(h *v1.HealthConfig) string {
	return fmt.Sprintf("{Test:%v Interval:%v Timeout:%v StartPeriod:%v StartInterval:0s Retries:%d}",
		h.Test, h.Interval, h.Timeout, h.StartPeriod, h.Retries)
}

// setEnv replaces or appends K=V, as BuildKit's addEnv.
func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if key, _, _ := strings.Cut(e, "="); key == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// checkSignal accepts what docker accepts for STOPSIGNAL: a name (with or without SIG,
// RTMIN+n) or a number.
func checkSignal(sig string) error {
	s := strings.ToUpper(sig)
	if n, err := parseUint(s); err == nil {
		if n == 0 || n > 64 {
			return fmt.Errorf("invalid signal: %s", sig)
		}
		return nil
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if unix.SignalNum(s) != 0 || strings.HasPrefix(s, "SIGRTMIN") || strings.HasPrefix(s, "SIGRTMAX") {
		return nil
	}
	return fmt.Errorf("invalid signal: %s", sig)
}

func parseUint(s string) (uint64, error) {
	var n uint64
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("not a number")
		}
		n = n*10 + uint64(r-'0')
	}
	return n, nil
}

// workdirPath is BuildKit's NormalizeWorkdir: relative to the previous WORKDIR.
func workdirPath(current, requested string) string {
	if !path.IsAbs(requested) {
		if current == "" {
			current = "/"
		}
		requested = path.Join(current, requested)
	}
	return path.Clean(requested)
}
