package run

import (
	"errors"
	"fmt"
	"os"
)

// DestroyAll destroys every container whose state lives in stateRoot: the sweep after a
// process that started them was killed before it could (its containers outlive it, so
// their processes are killed and their cgroups removed here).
func DestroyAll(stateRoot string) error {
	entries, err := os.ReadDir(stateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep containers in %s: %w", stateRoot, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := Load(stateRoot, e.Name())
		if err != nil {
			// Created but never started: libcontainer wrote no state, nothing runs.
			continue
		}
		if err := c.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
