package runner

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockyard/dockyard/pkg/push"
	"github.com/dockyard/dockyard/pkg/store"
)

// DefaultRunDir holds runtime state that does not survive a reboot.
const DefaultRunDir = "/run/dockyard"

// cgroupParent is the cgroup every container's own cgroup is created under.
const cgroupParent = "/dockyard"

// Options locate a manager's state.
type Options struct {
	Root   string // the store root; "" means store.RootFromEnv()
	RunDir string // runtime state; "" means $DOCKYARD_RUN_DIR or DefaultRunDir
	// Exe is the program re-executed as the supervisor; "" means this one.
	Exe string
	// CgroupParent is where containers' cgroups go; "" means /dockyard.
	CgroupParent string
	// Registry configures pulls (credentials, insecure registries, progress).
	Registry push.Options
}

// Manager manages the containers of one store.
type Manager struct {
	opts  Options
	store *store.Store
}

// New opens the store and the state dirs.
func New(opts Options) (*Manager, error) {
	if opts.Root == "" {
		opts.Root = store.RootFromEnv()
	}
	if opts.RunDir == "" {
		opts.RunDir = os.Getenv("DOCKYARD_RUN_DIR")
	}
	if opts.RunDir == "" {
		opts.RunDir = DefaultRunDir
	}
	if opts.CgroupParent == "" {
		opts.CgroupParent = cgroupParent
	}
	if opts.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		opts.Exe = exe
	}
	var err error
	if opts.Root, err = filepath.Abs(opts.Root); err != nil {
		return nil, fmt.Errorf("store root: %w", err)
	}
	if opts.RunDir, err = filepath.Abs(opts.RunDir); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	s, err := store.Open(opts.Root)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, store: s}
	for _, d := range []string{m.containersDir(), m.namesDir(), m.volumesDir(), m.stateRoot()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			s.Close()
			return nil, fmt.Errorf("create state dir: %w", err)
		}
	}
	return m, nil
}

// Close releases the store.
func (m *Manager) Close() error { return m.store.Close() }

// Store is the image store the manager runs images from.
func (m *Manager) Store() *store.Store { return m.store }

func (m *Manager) containersDir() string { return filepath.Join(m.opts.Root, "containers") }
func (m *Manager) namesDir() string      { return filepath.Join(m.opts.Root, "names") }
func (m *Manager) volumesDir() string    { return filepath.Join(m.opts.Root, "volumes") }
func (m *Manager) stateRoot() string     { return filepath.Join(m.opts.RunDir, "libcontainer") }
func (m *Manager) dir(id string) string  { return filepath.Join(m.containersDir(), id) }
