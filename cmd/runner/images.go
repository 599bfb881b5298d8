package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/pkg/runner"
)

func inspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME|ID|IMAGE...",
		Short: "Show containers or images as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withManager(func(m *runner.Manager) error {
				objs, err := m.Inspect(cmd.Context(), args)
				if objs == nil {
					objs = []any{}
				}
				b, merr := json.MarshalIndent(objs, "", "    ")
				if merr != nil {
					return merr
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return err
			})
		},
	}
}

func imagesCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List the images of the local store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withManager(func(m *runner.Manager) error { return m.Images(cmd.Context(), cmd.OutOrStdout(), quiet) })
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	return cmd
}

func rmiCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [flags] IMAGE...",
		Short: "Remove image tags from the local store",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withManager(func(m *runner.Manager) error {
				failed := false
				for _, ref := range args {
					tags, err := m.RemoveImage(cmd.Context(), ref, force)
					for _, t := range tags {
						fmt.Fprintln(cmd.OutOrStdout(), "Untagged:", t)
					}
					if err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), "runner:", err)
						failed = true
					}
				}
				if failed {
					return exitCode(1)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove even if a container uses it or it has several tags")
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the runner's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			version, runc := "(devel)", "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				if bi.Main.Version != "" {
					version = bi.Main.Version
				}
				for _, d := range bi.Deps {
					if d.Path == "github.com/opencontainers/runc" {
						runc = d.Version
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "runner %s\n go: %s %s/%s\n libcontainer: runc %s\n",
				version, runtime.Version(), runtime.GOOS, runtime.GOARCH, runc)
		},
	}
}

func pullCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pull IMAGE",
		Short: "Pull an image from its registry into the local store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withManager(func(m *runner.Manager) error {
				d, err := m.Pull(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Digest: %s\n", d)
				return nil
			})
		},
	}
}
