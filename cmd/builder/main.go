// Command builder builds container images from Dockerfiles without a daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/pkg/build"
	_ "github.com/dockyard/dockyard/pkg/run" // the container init, for RUN steps
	"github.com/dockyard/dockyard/pkg/store"
)

// version is set at link time (-X main.version=...).
var version = "dev"

type globals struct {
	root string
}

func main() {
	g := &globals{}
	root := &cobra.Command{
		Use:           "builder",
		Short:         "Build container images from Dockerfiles, without a daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().StringVar(&g.root, "root", store.RootFromEnv(), "local image store (env DOCKYARD_ROOT)")
	root.AddCommand(newBuildCmd(g), newImportCmd(g), newPushCmd(g), newLoginCmd(), newLogoutCmd(), newPruneCmd(g), newFsckCmd(g))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// openStore opens the store and cleans what killed builds left in it.
func (g *globals) openStore() (*store.Store, error) {
	s, err := store.Open(g.root)
	if err != nil {
		return nil, err
	}
	if err := build.Recover(s); err != nil {
		fmt.Fprintln(os.Stderr, "warning: cleaning up after an earlier build:", err)
	}
	return s, nil
}
