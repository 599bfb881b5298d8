// Command registry runs the test registry (internal/registrytest: distribution/distribution
// in-process) as a standalone process for `make demo`: plain HTTP on a loopback address,
// images stored under -dir, where a later run on the same -dir finds them again.
//
//	go run ./hack/registry -addr 127.0.0.1:5000 -dir /tmp/registry
//
// It refuses non-loopback addresses and stops on SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dockyard/dockyard/internal/registrytest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "loopback address to listen on")
	dir := flag.String("dir", "", "storage directory (default: a new temporary directory)")
	verbose := flag.Bool("v", false, "log every request to stderr")
	flag.Parse()
	if err := run(*addr, *dir, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func run(addr, dir string, verbose bool) error {
	r, dir, err := start(addr, dir, verbose)
	if err != nil {
		return err
	}
	fmt.Printf("registry listening on %s (storage %s)\n", r.URL, dir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	stopped := make(chan error, 1)
	go func() { stopped <- r.Wait() }()
	select {
	case <-sig:
		return r.Close()
	case err := <-stopped:
		return err
	}
}

// start runs the registry on dir, a new temporary directory when dir is empty.
func start(addr, dir string, verbose bool) (*registrytest.Registry, string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "dockyard-registry-")
		if err != nil {
			return nil, "", fmt.Errorf("create storage dir: %w", err)
		}
		dir = d
	}
	opts := registrytest.Options{Addr: addr, Dir: dir}
	if verbose {
		opts.Log = os.Stderr
	}
	r, err := registrytest.New(opts)
	if err != nil {
		return nil, "", err
	}
	return r, dir, nil
}
