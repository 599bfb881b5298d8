package build

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheKeyVersion changes whenever what a key covers changes, so old entries stop matching.
const cacheKeyVersion = "dockyard-step-cache-v1"

// keyWriter builds a cache key from length-prefixed fields, so that no two different
// field lists can ever produce the same byte stream (Kaniko's "-"-joined keys could).
type keyWriter struct{ h hash.Hash }

func newKeyWriter(kind string) *keyWriter {
	k := &keyWriter{h: sha256.New()}
	k.add(cacheKeyVersion, kind)
	return k
}

func (k *keyWriter) add(fields ...string) {
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		k.h.Write(n[:])
		k.h.Write([]byte(f))
	}
}

func (k *keyWriter) addList(list []string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(list)))
	k.h.Write(n[:])
	k.add(list...)
}

func (k *keyWriter) sum() string { return hex.EncodeToString(k.h.Sum(nil)) }

// stepKey starts the key of a filesystem step of s: everything below the step (the
// layers, by content) and the build settings that shape every layer.
func (s *stage) stepKey(kind string) *keyWriter {
	k := newKeyWriter(kind)
	k.addList(diffIDStrings(s.cfg.RootFS.DiffIDs))
	k.add(s.cfg.OS, s.cfg.Architecture, s.cfg.Variant, string(s.b.opts.Compression))
	if e := s.b.epoch; e != nil {
		k.add("epoch", e.UTC().String())
	} else {
		k.add("no-epoch")
	}
	return k
}

func diffIDStrings(ids []v1.Hash) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
