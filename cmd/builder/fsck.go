package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newFsckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "fsck",
		Short: "Verify the local store: every blob's digest, every image's references, the layer dirs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.openStore() // cleans what killed builds left first
			if err != nil {
				return err
			}
			defer s.Close()
			r, err := s.Fsck(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, p := range r.Problems {
				fmt.Fprintln(out, "problem:", p)
			}
			fmt.Fprintf(out, "checked %d blobs, %d images, %d layer dirs (%d layers not extracted yet)\n",
				r.Blobs, r.Images, r.LayerDirs, r.NotExtracted)
			if !r.OK() {
				return fmt.Errorf("store %s: %d problems", s.Root(), len(r.Problems))
			}
			return nil
		},
	}
}
