package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/pkg/build"
)

func newImportCmd(g *globals) *cobra.Command {
	var changes []string
	var platform, message string
	cmd := &cobra.Command{
		Use:   "import [flags] SOURCE [REFERENCE]",
		Short: "Make an image from a root filesystem: a directory, a tarball, or - for stdin",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			opts := build.ImportOptions{
				Store: s, Source: args[0], Stdin: cmd.InOrStdin(), Changes: changes,
				Platform: platform, Message: message, Progress: cmd.ErrOrStderr(),
			}
			if len(args) == 2 {
				opts.Tags = []string{args[1]}
			}
			res, err := build.Import(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ImageID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, `apply a Dockerfile instruction to the image config, e.g. 'CMD ["sh"]'`)
	cmd.Flags().StringVar(&platform, "platform", "", "platform of the image (os/arch)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "history comment")
	return cmd
}
