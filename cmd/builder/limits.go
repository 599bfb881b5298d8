package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/dockyard/dockyard/pkg/run"
	"github.com/dockyard/dockyard/pkg/snapshot"
	"github.com/dockyard/dockyard/pkg/store"
)

// addRobustFlags adds the flags that choose the snapshotter and limit RUN steps.
func (f *buildFlags) addRobustFlags(fl *pflag.FlagSet) {
	def := os.Getenv("DOCKYARD_SNAPSHOTTER")
	if def == "" {
		def = snapshot.KindAuto
	}
	fl.StringVar(&f.snapshotter, "snapshotter", def, "how RUN and COPY roots are made: overlay, copy (where overlayfs cannot be mounted) or auto (env DOCKYARD_SNAPSHOTTER)")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit of each RUN step (e.g. 512m); past it the step is killed")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "maximum number of processes of each RUN step")
}

func (f *buildFlags) limits() (run.Limits, error) {
	var l run.Limits
	if f.memory != "" {
		n, err := units.RAMInBytes(f.memory)
		if err != nil || n <= 0 {
			return l, fmt.Errorf("invalid --memory %q: want a size such as 512m", f.memory)
		}
		l.MemoryBytes = n
	}
	if f.pidsLimit < 0 {
		return l, fmt.Errorf("invalid --pids-limit %d", f.pidsLimit)
	}
	l.Pids = f.pidsLimit
	return l, nil
}

// openSnapshotter makes the --snapshotter one in this process's scratch space.
func (f *buildFlags) openSnapshotter(s *store.Store) (snapshot.Snapshotter, error) {
	se, err := s.Scratch()
	if err != nil {
		return nil, err
	}
	sn, err := snapshot.Open(f.snapshotter, filepath.Join(se.Dir, "roots"), s.LayerFormat())
	if err != nil {
		return nil, fmt.Errorf("--snapshotter: %w", err)
	}
	return sn, nil
}
