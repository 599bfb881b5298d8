package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/containerd/console"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/pkg/runner"
)

func runCmd() *cobra.Command {
	var o runner.RunOptions
	var entrypoint, memory string
	var labels []string
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Create and start a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Image, o.Args = args[0], args[1:]
			if cmd.Flags().Changed("entrypoint") {
				o.Entrypoint = &entrypoint
			}
			if memory != "" {
				n, err := units.RAMInBytes(memory)
				if err != nil {
					return fmt.Errorf("invalid --memory %q: %w", memory, err)
				}
				o.Limits.MemoryBytes = n
			}
			o.Labels = parseLabels(labels)
			o.Warn = func(msg string) { fmt.Fprintln(os.Stderr, "warning:", msg) }
			return withManager(func(m *runner.Manager) error { return run(cmd, m, o) })
		},
	}
	cmd.Flags().SetInterspersed(false) // flags after IMAGE belong to the command
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "container name (default: a random one)")
	f.BoolVarP(&o.Detach, "detach", "d", false, "run in the background and print the container ID")
	f.BoolVar(&o.AutoRemove, "rm", false, "remove the container when it exits")
	f.StringArrayVarP(&o.Publish, "publish", "p", nil, "publish a port: [IP:][HOST:]CONTAINER[/tcp|udp]")
	f.BoolVarP(&o.PublishAll, "publish-all", "P", false, "publish every exposed port to a free host port")
	f.StringArrayVarP(&o.Volumes, "volume", "v", nil, "mount HOST_DIR:DIR[:ro], NAME:DIR[:ro] or an anonymous volume DIR")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to copy it)")
	f.StringArrayVar(&o.EnvFiles, "env-file", nil, "read environment variables from a file")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&o.User, "user", "u", "", "user: name|uid[:group|gid]")
	f.StringVar(&entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	f.StringVarP(&o.Hostname, "hostname", "h", "", "container host name")
	f.StringVar(&o.Network, "network", "private", "network: private (own namespace, published ports), host or none")
	f.BoolVar(&o.ReadOnly, "read-only", false, "mount the container's root read-only")
	f.StringVarP(&memory, "memory", "m", "", "memory limit (e.g. 512m)")
	f.Float64Var(&o.Limits.CPUs, "cpus", 0, "number of CPUs")
	f.Int64Var(&o.Limits.Pids, "pids-limit", 0, "maximum number of processes")
	f.BoolVar(&o.Init, "init", false, "run an init inside the container that reaps zombies and forwards signals")
	f.StringVar(&o.Restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped")
	f.StringArrayVarP(&labels, "label", "l", nil, "set a label KEY=VALUE")
	f.StringVar(&o.Pull, "pull", "missing", "pull the image: missing, always or never")
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "keep STDIN open")
	f.BoolVarP(&o.TTY, "tty", "t", false, "allocate a pseudo-TTY")
	cmd.Flags().BoolP("help", "", false, "help for run") // -h is --hostname, as in docker
	return cmd
}

// run runs a container, attached to this terminal unless detached.
func run(cmd *cobra.Command, m *runner.Manager, o runner.RunOptions) error {
	if !o.Detach {
		o.Stdin, o.Stdout, o.Stderr = os.Stdin, os.Stdout, os.Stderr
		restore, err := setupTerminal(o.TTY, o.Interactive, &o.ConsoleSize, &o.Resize)
		if err != nil {
			return err
		}
		defer restore()
		if !o.TTY {
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
			defer signal.Stop(sigs)
			o.Signals = sigs
		}
	}
	res, err := m.Run(cmd.Context(), o)
	if err != nil {
		return err
	}
	if o.Detach {
		fmt.Fprintln(cmd.OutOrStdout(), res.ID)
		return nil
	}
	if res.ExitCode != 0 {
		return exitCode(res.ExitCode)
	}
	return nil
}

// setupTerminal puts a terminal stdin into raw mode for -t, and reports its size and
// its changes. It returns how to put the terminal back.
func setupTerminal(tty, interactive bool, size **[2]uint16, resize *<-chan [2]uint16) (func(), error) {
	if !tty {
		return func() {}, nil
	}
	cur, err := console.ConsoleFromFile(os.Stdout)
	if err != nil {
		return func() {}, nil // not a terminal: the pty still works, without sizes
	}
	if ws, err := cur.Size(); err == nil {
		*size = &[2]uint16{ws.Width, ws.Height}
	}
	ch := make(chan [2]uint16, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			if ws, err := cur.Size(); err == nil {
				select {
				case ch <- [2]uint16{ws.Width, ws.Height}:
				default:
				}
			}
		}
	}()
	*resize = ch
	restore := func() { signal.Stop(winch) }
	if interactive {
		in, err := console.ConsoleFromFile(os.Stdin)
		if err == nil {
			if err := in.SetRaw(); err != nil {
				return restore, fmt.Errorf("set terminal raw: %w", err)
			}
			return func() { restore(); _ = in.Reset() }, nil
		}
	}
	return restore, nil
}

func parseLabels(ls []string) map[string]string {
	if len(ls) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, l := range ls {
		k, v, _ := strings.Cut(l, "=")
		out[k] = v
	}
	return out
}
