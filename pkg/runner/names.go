package runner

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Words for random names, docker style ("brave_turing"): adjectives and people who
// shaped computing.
var (
	adjectives = []string{
		"admiring", "affectionate", "amazing", "awesome", "blissful", "bold", "brave",
		"charming", "clever", "compassionate", "competent", "cool", "dazzling", "determined",
		"eager", "ecstatic", "elastic", "elegant", "epic", "exciting", "fervent", "festive",
		"focused", "friendly", "gallant", "gifted", "goofy", "gracious", "happy", "hopeful",
		"jolly", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "nice",
		"nifty", "optimistic", "peaceful", "pensive", "practical", "quirky", "relaxed",
		"romantic", "serene", "sharp", "stoic", "sweet", "tender", "trusting", "upbeat",
		"vibrant", "vigilant", "wizardly", "wonderful", "youthful", "zealous", "zen",
	}
	surnames = []string{
		"allen", "babbage", "backus", "bartik", "bell", "boole", "brattain", "cerf", "clarke",
		"curie", "dijkstra", "einstein", "engelbart", "euclid", "feynman", "floyd", "goldberg",
		"goodall", "hamilton", "hawking", "hellman", "hodgkin", "hopper", "hypatia", "johnson",
		"kahn", "keller", "kilby", "knuth", "lamarr", "lamport", "liskov", "lovelace",
		"mccarthy", "meitner", "merkle", "minsky", "morse", "noether", "noyce", "pascal",
		"perlman", "pike", "ritchie", "shannon", "shockley", "sinoussi", "thompson", "torvalds",
		"turing", "varahamihira", "wescoff", "wilbur", "wozniak", "yalow", "yonath",
	}
)

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func randomName() string {
	pick := func(words []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		return words[n.Int64()]
	}
	return pick(adjectives) + "_" + pick(surnames)
}

// newID returns 64 hex digits whose short form is not all digits, so that it can never be
// mistaken for a number (docker's rule).
func newID() string {
	for {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		if _, err := strconv.ParseUint(id[:12], 10, 64); err != nil {
			return id
		}
	}
}

var errNameInUse = errors.New("name already in use")

// claimName reserves name for id (a random one when name is ""), atomically: the name
// file is created with O_EXCL.
func (m *Manager) claimName(name, id string) (string, error) {
	if name != "" {
		name = strings.TrimPrefix(name, "/")
		if !validName.MatchString(name) {
			return "", fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
		}
		if err := m.createNameFile(name, id); err != nil {
			if errors.Is(err, fs.ErrExist) {
				owner, _ := os.ReadFile(filepath.Join(m.namesDir(), name))
				return "", fmt.Errorf("the container name %q is already in use by container %q: remove (or rename) that container to reuse the name: %w",
					name, strings.TrimSpace(string(owner)), errNameInUse)
			}
			return "", err
		}
		return name, nil
	}
	for i := 0; ; i++ {
		name = randomName()
		if i > 10 {
			name += strconv.Itoa(i) // docker's fallback once the words run out
		}
		err := m.createNameFile(name, id)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}

func (m *Manager) createNameFile(name, id string) error {
	f, err := os.OpenFile(filepath.Join(m.namesDir(), name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(id + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("claim name %s: %w", name, err)
	}
	return nil
}

func (m *Manager) releaseName(name, id string) {
	p := filepath.Join(m.namesDir(), name)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == id {
		os.Remove(p)
	}
}

// resolve finds a container by full id, name, or unambiguous id prefix, in docker's order.
func (m *Manager) resolve(ref string) (string, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return "", fmt.Errorf("container name or id: empty")
	}
	if _, err := os.Stat(m.configPath(ref)); err == nil && len(ref) == 64 {
		return ref, nil
	}
	if validName.MatchString(ref) {
		if b, err := os.ReadFile(filepath.Join(m.namesDir(), ref)); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	entries, err := os.ReadDir(m.containersDir())
	if err != nil {
		return "", fmt.Errorf("list containers: %w", err)
	}
	var matches []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ref) {
			matches = append(matches, e.Name())
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%w: %s", errNoSuchContainer, ref)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("container id prefix %s is ambiguous: it matches %d containers", ref, len(matches))
}

// get resolves ref and loads the container.
func (m *Manager) get(ref string) (*Container, error) {
	id, err := m.resolve(ref)
	if err != nil {
		return nil, err
	}
	return m.load(id)
}

func sortNewestFirst(cs []*Container) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Created.After(cs[j].Created) })
}
