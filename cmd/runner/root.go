package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/dockyard/dockyard/pkg/runner"
)

// global flags
var opts runner.Options

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "runner",
		Short:         "Run container images from the local store, without a daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&opts.Root, "root", "", "store root (default $DOCKYARD_ROOT or /var/lib/dockyard)")
	root.PersistentFlags().StringVar(&opts.RunDir, "run-dir", "", "runtime state dir (default $DOCKYARD_RUN_DIR or /run/dockyard)")
	root.AddCommand(
		runCmd(), psCmd(), stopCmd(), startCmd(), restartCmd(), killCmd(), rmCmd(), logsCmd(),
		execCmd(), inspectCmd(), imagesCmd(), rmiCmd(), portCmd(), versionCmd(), pruneCmd(), waitCmd(), pullCmd(),
	)
	root.SetOut(os.Stdout)
	root.SetErr(os.Stderr)
	return root
}

// manager opens the store for one command.
func manager() (*runner.Manager, error) {
	o := opts
	o.Registry.Progress = os.Stderr
	o.Registry.Warn = func(msg string) { fmt.Fprintln(os.Stderr, "warning:", msg) }
	return runner.New(o)
}

// withManager runs fn with an open manager.
func withManager(fn func(m *runner.Manager) error) error {
	m, err := manager()
	if err != nil {
		return err
	}
	defer m.Close()
	return fn(m)
}
