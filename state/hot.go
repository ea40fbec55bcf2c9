package state

import (
	"fmt"
)

// HotValueState is the typed hot tier of a value state: one value per key,
// cached under the Go key itself (K, comparable) instead of its encoding,
// and changed in place through a pointer. A record that finds its key in
// the tier costs one Go map lookup — no key encoding, no hashing of bytes,
// no byte-string comparison, no copy of the value in and out, no decode and
// no encode.
//
// The tier is a write-back cache like the one behind ValueState and uses
// the same store layout (key group | operator | name | uvarint(len key)
// key uvarint(0)) and the same value encoding (codec), so a ValueState and
// a HotValueState of the same name and codec read each other's checkpoints:
// the on-disk format does not depend on which one an operator uses. Its
// entries count against the backend's cache budget (Options.CacheEntries);
// over it, entries are written to the store (dirty ones) and dropped, and
// read back and decoded on their next access, so state larger than the
// cache spills to the store. Checkpoints encode the dirty entries
// (FreezeDirty, AppendDirty) and leave them cached; restores drop the tier.
//
// The caller must have made key the backend's current key (the engine's
// Keys.SetCurrentKey) before each call: on a miss the tier reads the store
// under the backend's encoded current key and key group. The pointer that
// Ref returns is valid until the next call on any state of the backend
// (which may evict it). No TTL, no namespaces.
type HotValueState[K comparable, V any] struct {
	b      *Backend
	name   string
	prefix []byte
	codec  Codec[V]

	m     map[K]*hotEntry[K, V]
	dirty []*hotEntry[K, V] // exactly the dirty entries; hotEntry.didx is the index
	free  []*hotEntry[K, V] // entries evicted, for reuse
	slab  []hotEntry[K, V]  // entries allocated in chunks, not one by one

	last    *hotEntry[K, V] // the previous lookup's entry, valid while lastGen is the backend's keyGen
	lastGen uint64

	ck []byte // scratch: cache key
	sk []byte // scratch: store key
	vb []byte // scratch: encoded value
}

type hotEntry[K comparable, V any] struct {
	key     K
	v       V
	present bool
	dirty   bool
	kg      uint16
	didx    int32
	ck      string // uvarint(len key) key uvarint(0): the encoded key, for the store
}

const hotSlabChunk = 256

// NewHotValueState registers a value state named name in b with a typed
// hot tier (see HotValueState). It registers as a value state of V, as
// NewValueState does.
func NewHotValueState[K comparable, V any](b *Backend, name string, codec Codec[V]) (*HotValueState[K, V], error) {
	s := &HotValueState[K, V]{
		b: b, name: name, prefix: statePrefix(b.opts.OperatorID, name), codec: codec,
		m: map[K]*hotEntry[K, V]{},
	}
	if err := b.register(StateDesc{Name: name, Kind: "value", Type: typeName[V]()}, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *HotValueState[K, V]) alloc() *hotEntry[K, V] {
	if n := len(s.free); n > 0 {
		e := s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		return e
	}
	if len(s.slab) == 0 {
		s.slab = make([]hotEntry[K, V], hotSlabChunk)
	}
	e := &s.slab[0]
	s.slab = s.slab[1:]
	return e
}

// lookup returns key's entry, loading it from the store on a miss.
func (s *HotValueState[K, V]) lookup(key K) (*hotEntry[K, V], error) {
	b := s.b
	if !b.hasKey {
		return nil, ErrNoCurrentKey
	}
	if s.last != nil && s.lastGen == b.keyGen {
		return s.last, nil
	}
	if e := s.m[key]; e != nil {
		s.last, s.lastGen = e, b.keyGen
		return e, nil
	}
	s.ck = appendCacheKey(s.ck[:0], b.key, nil)
	s.sk = appendStoreKey(s.sk[:0], b.kg, s.prefix, s.ck)
	raw, found, err := b.store.Get(s.sk)
	if err != nil {
		return nil, fmt.Errorf("state: read %q: %w", s.name, err)
	}
	var v V
	if found {
		if v, err = s.codec.Decode(raw); err != nil {
			return nil, fmt.Errorf("state: decode %q: %w", s.name, err)
		}
	}
	// Make room before inserting, so that eviction never removes the entry
	// being returned.
	if err := b.entryAdded(); err != nil {
		return nil, err
	}
	e := s.alloc()
	*e = hotEntry[K, V]{key: key, v: v, present: found, kg: uint16(b.kg), didx: -1, ck: string(s.ck)}
	s.m[key] = e
	s.last, s.lastGen = e, b.keyGen
	return e, nil
}

// Get returns key's value and whether it is set.
func (s *HotValueState[K, V]) Get(key K) (V, bool, error) {
	e, err := s.lookup(key)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return e.v, e.present, nil
}

// Ref returns a pointer to key's value, to read and change in place, and
// whether it was set; the value counts as set (and changed) from now on. A
// value that was not set is the zero V.
func (s *HotValueState[K, V]) Ref(key K) (*V, bool, error) {
	e, err := s.lookup(key)
	if err != nil {
		return nil, false, err
	}
	was := e.present
	e.present = true
	s.markDirty(e)
	return &e.v, was, nil
}

// Update sets key's value.
func (s *HotValueState[K, V]) Update(key K, v V) error {
	e, err := s.lookup(key)
	if err != nil {
		return err
	}
	e.v, e.present = v, true
	s.markDirty(e)
	return nil
}

// Clear removes key's value.
func (s *HotValueState[K, V]) Clear(key K) error {
	e, err := s.lookup(key)
	if err != nil {
		return err
	}
	if e.present {
		var zero V
		e.v, e.present = zero, false
		s.markDirty(e)
	}
	return nil
}

func (s *HotValueState[K, V]) markDirty(e *hotEntry[K, V]) {
	if e.dirty {
		return
	}
	e.dirty = true
	e.didx = int32(len(s.dirty))
	s.dirty = append(s.dirty, e)
}

func (s *HotValueState[K, V]) undirty(e *hotEntry[K, V]) {
	if !e.dirty {
		return
	}
	e.dirty = false
	last := s.dirty[len(s.dirty)-1]
	s.dirty[e.didx] = last
	last.didx = e.didx
	s.dirty[len(s.dirty)-1] = nil
	s.dirty = s.dirty[:len(s.dirty)-1]
	e.didx = -1
}

func (s *HotValueState[K, V]) storeKey(e *hotEntry[K, V]) []byte {
	s.sk = appendStoreKey(s.sk[:0], int(e.kg), s.prefix, nil)
	return append(s.sk, e.ck...)
}

// write stores one entry (or deletes it) and marks it clean.
func (s *HotValueState[K, V]) write(e *hotEntry[K, V]) error {
	sk := s.storeKey(e)
	var err error
	if e.present {
		s.vb = s.codec.Append(s.vb[:0], e.v)
		err = s.b.store.Set(sk, s.vb)
	} else {
		err = s.b.store.Delete(sk)
	}
	if err != nil {
		return fmt.Errorf("state: write %q: %w", s.name, err)
	}
	s.undirty(e)
	return nil
}

func (s *HotValueState[K, V]) flush() error {
	for len(s.dirty) > 0 {
		if err := s.write(s.dirty[len(s.dirty)-1]); err != nil {
			return err
		}
	}
	return nil
}

func (s *HotValueState[K, V]) evict(n int) (int, error) {
	s.last = nil
	removed := 0
	for k, e := range s.m {
		if removed >= n {
			break
		}
		if e.dirty {
			if err := s.write(e); err != nil {
				return removed, err
			}
		}
		delete(s.m, k)
		*e = hotEntry[K, V]{}
		s.free = append(s.free, e)
		removed++
	}
	return removed, nil
}

func (s *HotValueState[K, V]) drop() {
	s.last = nil
	clear(s.m)
	clear(s.dirty)
	s.dirty = s.dirty[:0]
	s.free, s.slab = nil, nil
}

// appendDirty encodes the dirty entries into w; they stay dirty.
func (s *HotValueState[K, V]) appendDirty(w *OverlayWriter) error {
	for _, e := range s.dirty {
		sk := s.storeKey(e)
		if !e.present {
			w.Delete(sk)
			continue
		}
		s.vb = s.codec.Append(s.vb[:0], e.v)
		w.Set(sk, s.vb)
	}
	return nil
}

// freeze encodes the dirty entries at once: values change in place, so
// they cannot be frozen for a later encoding.
func (s *HotValueState[K, V]) freeze(w *OverlayWriter) func(*OverlayWriter) {
	s.appendDirty(w)
	return nil
}
