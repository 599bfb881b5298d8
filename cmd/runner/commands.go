package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/pkg/runner"
)

func psCmd() *cobra.Command {
	var o runner.PsOptions
	cmd := &cobra.Command{
		Use:     "ps [flags]",
		Aliases: []string{"ls"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withManager(func(m *runner.Manager) error { return m.Ps(cmd.Context(), cmd.OutOrStdout(), o) })
		},
	}
	cmd.Flags().BoolVarP(&o.All, "all", "a", false, "show all containers (default shows just running)")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "only display container IDs")
	cmd.Flags().StringVar(&o.Format, "format", "", "output format: table or json")
	cmd.Flags().BoolVar(&o.NoTrunc, "no-trunc", false, "do not truncate output")
	return cmd
}

// eachContainer runs fn for every argument, prints the argument on success as docker
// does, and reports the failures together.
func eachContainer(cmd *cobra.Command, args []string, fn func(m *runner.Manager, ref string) error) error {
	return withManager(func(m *runner.Manager) error {
		failed := 0
		for _, ref := range args {
			if err := fn(m, ref); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "runner:", err)
				failed++
				continue
			}
			fmt.Fprintln(cmd.OutOrStdout(), ref)
		}
		if failed > 0 {
			return exitCode(1)
		}
		return nil
	})
}

func stopCmd() *cobra.Command {
	var secs int
	cmd := &cobra.Command{
		Use:   "stop [flags] CONTAINER...",
		Short: "Stop running containers: the stop signal, then SIGKILL",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, args, func(m *runner.Manager, ref string) error {
				return m.Stop(cmd.Context(), ref, time.Duration(secs)*time.Second)
			})
		},
	}
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}

func startCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER...",
		Short: "Start stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, args, func(m *runner.Manager, ref string) error {
				return m.Start(cmd.Context(), ref)
			})
		},
	}
}

func restartCmd() *cobra.Command {
	var secs int
	cmd := &cobra.Command{
		Use:   "restart [flags] CONTAINER...",
		Short: "Restart containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, args, func(m *runner.Manager, ref string) error {
				return m.Restart(cmd.Context(), ref, time.Duration(secs)*time.Second)
			})
		},
	}
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}

func killCmd() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [flags] CONTAINER...",
		Short: "Send a signal to running containers (SIGKILL by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, args, func(m *runner.Manager, ref string) error {
				return m.Kill(cmd.Context(), ref, sig)
			})
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send")
	return cmd
}

func rmCmd() *cobra.Command {
	var o runner.RemoveOptions
	cmd := &cobra.Command{
		Use:   "rm [flags] CONTAINER...",
		Short: "Remove containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, args, func(m *runner.Manager, ref string) error {
				return m.Remove(cmd.Context(), ref, o)
			})
		},
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "kill and remove a running container")
	cmd.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "remove the container's anonymous volumes")
	return cmd
}

func waitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER",
		Short: "Wait for a container to stop and print its exit code",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withManager(func(m *runner.Manager) error {
				code, err := m.Wait(cmd.Context(), args[0])
				if err == nil {
					fmt.Fprintln(cmd.OutOrStdout(), code)
				}
				return err
			})
		},
	}
}

func logsCmd() *cobra.Command {
	o := runner.LogOptions{Stdout: os.Stdout, Stderr: os.Stderr}
	var tail string
	cmd := &cobra.Command{
		Use:   "logs [flags] CONTAINER",
		Short: "Show a container's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Tail = -1
			if tail != "all" {
				if _, err := fmt.Sscanf(tail, "%d", &o.Tail); err != nil || o.Tail < 0 {
					return fmt.Errorf("invalid --tail %q: want a number or all", tail)
				}
			}
			return withManager(func(m *runner.Manager) error { return m.Logs(cmd.Context(), args[0], o) })
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "follow the output")
	cmd.Flags().StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end")
	cmd.Flags().BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	return cmd
}

func execCmd() *cobra.Command {
	var o runner.ExecOptions
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = args[1:]
			o.Stdin, o.Stdout, o.Stderr = os.Stdin, os.Stdout, os.Stderr
			restore, err := setupTerminal(o.TTY, o.Interactive, &o.ConsoleSize, &o.Resize)
			if err != nil {
				return err
			}
			defer restore()
			return withManager(func(m *runner.Manager) error {
				code, err := m.Exec(cmd.Context(), args[0], o)
				if err != nil {
					return err
				}
				if code != 0 {
					return exitCode(code)
				}
				return nil
			})
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVarP(&o.Interactive, "interactive", "i", false, "keep STDIN open")
	cmd.Flags().BoolVarP(&o.TTY, "tty", "t", false, "allocate a pseudo-TTY")
	cmd.Flags().StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable")
	cmd.Flags().StringVarP(&o.User, "user", "u", "", "user: name|uid[:group|gid]")
	cmd.Flags().StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	return cmd
}

func portCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER",
		Short: "List a container's published ports",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withManager(func(m *runner.Manager) error {
				lines, err := m.Port(cmd.Context(), args[0])
				for _, l := range lines {
					fmt.Fprintln(cmd.OutOrStdout(), l)
				}
				return err
			})
		},
	}
}

func pruneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withManager(func(m *runner.Manager) error {
				ids, err := m.Prune(cmd.Context())
				if len(ids) > 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "Deleted Containers:")
					for _, id := range ids {
						fmt.Fprintln(cmd.OutOrStdout(), id)
					}
				}
				return err
			})
		},
	}
}
