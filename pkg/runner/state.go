package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dockyard/dockyard/pkg/run"
)

// Config is what a container was created with; it never changes afterwards.
type Config struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`

	Image       string `json:"image"`       // as the user typed it
	ImageRef    string `json:"imageRef"`    // normalized, "" when run by ID
	ImageDigest string `json:"imageDigest"` // manifest digest
	ImageID     string `json:"imageId"`     // config digest

	Args       []string `json:"args"` // entrypoint + cmd, by docker's rules
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	Hostname   string   `json:"hostname"`
	TTY        bool     `json:"tty,omitempty"`
	OpenStdin  bool     `json:"openStdin,omitempty"`
	StopSignal string   `json:"stopSignal,omitempty"`

	Network      string            `json:"network"`
	Ports        []PortBinding     `json:"ports,omitempty"` // as asked for; HostPort 0 = any
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Volumes      []Volume          `json:"volumes,omitempty"`
	Limits       run.Limits        `json:"limits"`
	ReadOnly     bool              `json:"readOnly,omitempty"`
	Init         string            `json:"init,omitempty"` // host path of the init binary
	Restart      RestartPolicy     `json:"restart"`
	AutoRemove   bool              `json:"autoRemove,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`

	Lowers []string `json:"lowers"` // the image's layer dirs, top first
}

// Status is a container's life-cycle state, in docker's words.
type Status string

const (
	StatusCreated    Status = "created"
	StatusRunning    Status = "running"
	StatusRestarting Status = "restarting"
	StatusExited     Status = "exited"
)

// State is what happened to a container; its supervisor keeps it up to date.
type State struct {
	Status        Status        `json:"status"`
	Pid           int           `json:"pid,omitempty"`
	SupervisorPid int           `json:"supervisorPid,omitempty"`
	StartedAt     time.Time     `json:"startedAt"`
	FinishedAt    time.Time     `json:"finishedAt"`
	ExitCode      int           `json:"exitCode"`
	RestartCount  int           `json:"restartCount"`
	Error         string        `json:"error,omitempty"`
	Ports         []PortBinding `json:"ports,omitempty"` // bound, with the actual host ports
	Offline       bool          `json:"offline,omitempty"`
	// Inline: the supervisor is the attached `run` command itself (see runInline), which
	// takes no SIGUSR1 notices: it forwards its signals to the container.
	Inline bool `json:"inline,omitempty"`
}

// Container is one container's config and current state.
type Container struct {
	Config
	State State
}

// ShortID is the 12-character form of the id.
func (c *Container) ShortID() string { return c.ID[:12] }

// Running reports whether the container's init is alive (or about to be restarted).
func (c *Container) Running() bool {
	return c.State.Status == StatusRunning || c.State.Status == StatusRestarting
}

var errNoSuchContainer = errors.New("no such container")

func (m *Manager) configPath(id string) string { return filepath.Join(m.dir(id), "config.json") }
func (m *Manager) statePath(id string) string  { return filepath.Join(m.dir(id), "state.json") }
func (m *Manager) logPath(id string) string    { return filepath.Join(m.dir(id), "ctr.log") }
func (m *Manager) stopPath(id string) string   { return filepath.Join(m.dir(id), "stop-requested") }
func (m *Manager) rootDir(id string) string    { return filepath.Join(m.dir(id), "rootfs") }

// load reads a container's files and corrects a stale state: a container whose
// supervisor died has exited, unless libcontainer still sees its init running. A
// container without state.json was never started: it is created.
//
// An --rm container whose supervisor died is removed once it has exited, by whichever
// command looks at it next, as its supervisor would have done; for load's caller it
// does not exist. One that was never started is left alone: it may be being created
// (the lock is taken after config.json is written), and `runner rm` removes it.
func (m *Manager) load(id string) (*Container, error) {
	c := &Container{State: State{Status: StatusCreated}}
	if err := readJSON(m.configPath(id), &c.Config); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", errNoSuchContainer, id)
		}
		return nil, err
	}
	if err := readJSON(m.statePath(id), &c.State); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	orphan := (c.Running() || c.AutoRemove) && c.State.Status != StatusCreated && !m.supervised(id)
	if !orphan {
		return c, nil
	}
	if c.Running() {
		m.settleOrphan(c)
	}
	if c.AutoRemove && !c.Running() {
		if err := m.removeStopped(c, true); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s (removed: it ran with --rm)", errNoSuchContainer, id)
	}
	return c, nil
}

// settleOrphan fixes the state of a container whose supervisor is gone.
func (m *Manager) settleOrphan(c *Container) {
	if rc, err := run.Load(m.stateRoot(), c.ID); err == nil {
		if st, err := rc.Status(); err == nil && st.State == run.StateRunning {
			c.State.Status, c.State.Pid = StatusRunning, st.Pid
			return
		}
	}
	c.State.Status, c.State.Pid = StatusExited, 0
	if c.State.FinishedAt.IsZero() {
		// Nobody saw it exit: docker's code for a container whose daemon died.
		c.State.ExitCode, c.State.FinishedAt = 255, time.Now()
	}
}

func (m *Manager) saveState(id string, st State) error {
	return writeJSON(m.statePath(id), st)
}

// list returns every container, newest first.
func (m *Manager) list() ([]*Container, error) {
	entries, err := os.ReadDir(m.containersDir())
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []*Container
	for _, e := range entries {
		c, err := m.load(e.Name())
		if errors.Is(err, errNoSuchContainer) {
			continue // being created or removed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sortNewestFirst(out)
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path atomically, so readers never see half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
