package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/pkg/store"
)

func newPruneCmd(g *globals) *cobra.Command {
	var all bool
	var keep string
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove build cache, and every blob and layer no image or cache entry uses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := store.PruneOptions{All: all}
			if keep != "" {
				n, err := units.RAMInBytes(keep)
				if err != nil {
					return fmt.Errorf("--keep-storage %s: %w", keep, err)
				}
				opts.KeepStorage = n
			}
			for _, f := range filters {
				v, ok := strings.CutPrefix(f, "until=")
				if !ok {
					return fmt.Errorf("--filter %s: only until=DURATION is supported", f)
				}
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("--filter %s: %w", f, err)
				}
				opts.UnusedFor = d
			}
			s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			rep, err := s.Prune(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted %d cache entries, %d blobs, %d layer dirs\nTotal reclaimed space: %s\n",
				rep.CacheEntries, rep.Blobs, rep.LayerDirs, units.HumanSize(float64(rep.Bytes)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all build cache, not only what no image uses")
	cmd.Flags().StringVar(&keep, "keep-storage", "", "keep the most recently used cache up to this size (e.g. 5GB)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "until=DURATION: only cache unused for this long")
	return cmd
}
