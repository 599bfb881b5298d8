package build

import (
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/dockyard/dockyard/pkg/copier"
)

// contextHasher hashes what COPY and ADD read from the build context, remembering for each
// file its identity (device, inode, size, mtime, ctime) and digest, like git's index: a
// rebuild stats every selected file but reads only those that changed. The index lives
// in the store, one per context directory.
type contextHasher struct {
	root  string
	index string // file holding the records between builds

	mu      sync.Mutex
	records map[string]fileRecord // by path relative to root
	used    map[string]bool
	dirty   bool
	reads   int // files read (not answered from the index), for tests and benchmarks
}

// fileRecord is what the index remembers of a file. Digest covers its content and xattrs.
type fileRecord struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64
	Mode         uint32
	Digest       [32]byte
}

func newContextHasher(root, indexDir string) *contextHasher {
	id := sha256.Sum256([]byte(root))
	h := &contextHasher{
		root:    root,
		index:   filepath.Join(indexDir, hex.EncodeToString(id[:16])+".idx"),
		records: map[string]fileRecord{},
		used:    map[string]bool{},
	}
	if f, err := os.Open(h.index); err == nil {
		// A corrupt or old index only costs a full re-read.
		gob.NewDecoder(f).Decode(&h.records)
		f.Close()
	}
	return h
}

// save writes the index back, keeping only records this build used.
func (h *contextHasher) save() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.dirty && len(h.used) == len(h.records) {
		return nil
	}
	kept := make(map[string]fileRecord, len(h.used))
	for p := range h.used {
		kept[p] = h.records[p]
	}
	if err := os.MkdirAll(filepath.Dir(h.index), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(h.index), ".idx-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := gob.NewEncoder(tmp).Encode(kept); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), h.index)
}

// hashSources hashes what the patterns select: every entry's path, type, mode, size,
// link target and content (not its mtime or owner: context files are copied as root's,
// and a fresh checkout must hit the cache).
func (h *contextHasher) hashSources(srcs []string, opts copier.Options) (string, error) {
	k := newKeyWriter("context")
	var files []pendingFile
	var entries [][]string
	for _, src := range srcs {
		found, err := copier.ResolveSources(h.root, src, opts)
		if err != nil {
			return "", err
		}
		entries = append(entries, []string{"source", src, strconv.Itoa(len(found))})
		for _, s := range found {
			entries = append(entries, []string{"resolved", s.Rel, s.Name})
			if err := h.walk(s.Abs, s.Rel, ".", opts.Filter, &entries, &files); err != nil {
				return "", err
			}
		}
	}
	if err := h.digestFiles(files); err != nil {
		return "", err
	}
	for _, e := range entries {
		if len(e) == 2 && e[0] == "file" {
			r := h.records[e[1]]
			e = append(e, hex.EncodeToString(r.Digest[:]))
		}
		k.addList(e)
	}
	return k.sum(), nil
}

type pendingFile struct {
	abs, rel string
	st       *syscall.Stat_t
}

// walk lists one source's entries in copy order, queueing files whose record is stale.
func (h *contextHasher) walk(abs, rel, inSource string, filter copier.Filter, entries *[][]string, files *[]pendingFile) error {
	fi, err := os.Lstat(abs)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return nil
	}
	if filter != nil && rel != "." {
		hidden, err := filter.Excluded(rel, fi.IsDir())
		if err != nil {
			return err
		}
		if hidden && (!fi.IsDir() || filter.CanSkipDir(rel)) {
			return nil
		}
	}
	st := fi.Sys().(*syscall.Stat_t)
	e := []string{"entry", inSource, strconv.FormatUint(uint64(st.Mode), 8), strconv.FormatInt(fi.Size(), 10)}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(abs)
		if err != nil {
			return err
		}
		*entries = append(*entries, append(e, target))
	case fi.Mode().IsRegular():
		*entries = append(*entries, e, []string{"file", rel})
		h.mu.Lock()
		h.used[rel] = true
		r, ok := h.records[rel]
		h.mu.Unlock()
		if !ok || r.Dev != st.Dev || r.Ino != st.Ino || r.Size != st.Size || r.Mode != st.Mode ||
			r.Mtime != st.Mtim.Nano() || r.Ctime != st.Ctim.Nano() {
			*files = append(*files, pendingFile{abs: abs, rel: rel, st: st})
		}
	case fi.IsDir():
		*entries = append(*entries, e)
		names, err := readDirNames(abs)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := h.walk(filepath.Join(abs, n), path.Join(rel, n), path.Join(inSource, n), filter, entries, files); err != nil {
				return err
			}
		}
	default:
		*entries = append(*entries, append(e, strconv.FormatUint(st.Rdev, 10)))
	}
	return nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// digestFiles reads the stale files, a few at a time, and records their digests.
func (h *contextHasher) digestFiles(files []pendingFile) error {
	if len(files) == 0 {
		return nil
	}
	work := make(chan pendingFile)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				d, err := fileDigest(f.abs)
				if err != nil {
					select {
					case errs <- fmt.Errorf("hash %s: %w", f.rel, err):
					default:
					}
					continue
				}
				h.mu.Lock()
				h.reads++
				h.records[f.rel] = fileRecord{Dev: f.st.Dev, Ino: f.st.Ino, Size: f.st.Size, Mode: f.st.Mode,
					Mtime: f.st.Mtim.Nano(), Ctime: f.st.Ctim.Nano(), Digest: d}
				h.dirty = true
				h.mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// fileDigest is sha256 over a file's content and then its xattrs (which the copy keeps).
func fileDigest(p string) ([32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	if err := hashXattrs(h, p); err != nil {
		return [32]byte{}, err
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d, nil
}

func hashXattrs(w io.Writer, p string) error {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return err
	}
	var names []string
	for _, name := range splitNul(buf[:n]) {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "\x00xattr\x00%s\x00%d\x00", name, m)
		w.Write(v[:m])
	}
	return nil
}

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
