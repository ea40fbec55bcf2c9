package state

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// valueCore is the write-back cache shared by the value-like states: one
// decoded value per (key, namespace).
type valueCore[V any] struct {
	b      *Backend
	name   string
	prefix []byte
	enc    func(dst []byte, v V) []byte
	dec    func(src []byte) (V, error)
	ttl    TTL
	ns     []byte
	nsHash uint64

	// m maps the hash of (key, namespace) to the entries with that hash
	// (a chain, for the rare collision). A uint64-keyed map is markedly
	// faster than one keyed by the byte strings.
	m         map[uint64]*entry[V]
	dirty     []*entry[V] // exactly the dirty entries; entry.didx is the index
	maxCached int         // 0: only the backend's budget applies

	// Copy-on-write for checkpoints (see freeze): entries made dirty in
	// generation <= frozen.gen belong to a pending snapshot and are copied
	// before they change.
	cowSafe bool // V holds no mutable references
	gen     uint32
	frozen  *frozenSet[V]

	// last is the entry of the previous lookup, valid while the backend's
	// key generation is lastGen and no eviction or namespace change
	// happened since: a read followed by a write of the same key (the
	// common pattern) looks the cache up once.
	last    *entry[V]
	lastGen uint64
	lastH   uint64
	ck      []byte // scratch: cache key
	sk      []byte // scratch: store key
	vb      []byte // scratch: encoded value
}

type entry[V any] struct {
	v       V
	present bool
	dirty   bool
	kg      uint16
	didx    int32  // index in valueCore.dirty while dirty
	gen     uint32 // generation in which the entry became dirty
	touched int64  // TTL: last write (or read) time in ms
	ck      string // cache key: uvarint(len key) key uvarint(len ns) ns
	next    *entry[V]
}

// frozenSet is the dirty entries of one checkpoint, being encoded on
// another goroutine. That goroutine reads only the entries' v, present, kg,
// touched and ck, which the task no longer changes (it copies an entry
// before writing to it).
type frozenSet[V any] struct {
	entries []*entry[V]
	gen     uint32
	done    atomic.Bool
	doneC   chan struct{}
}

func newValueCore[V any](b *Backend, name, kind, typ string, enc func([]byte, V) []byte, dec func([]byte) (V, error), ttl TTL) (*valueCore[V], error) {
	c := &valueCore[V]{
		b: b, name: name, prefix: statePrefix(b.opts.OperatorID, name),
		enc: enc, dec: dec, ttl: ttl, m: map[uint64]*entry[V]{},
		cowSafe: immutableType(reflect.TypeFor[V]()),
	}
	if err := b.register(StateDesc{Name: name, Kind: kind, Type: typ}, c); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *valueCore[V]) setNamespace(ns []byte) {
	c.ns = append(c.ns[:0], ns...)
	c.nsHash = 0
	if len(ns) > 0 {
		c.nsHash = xxhash.Sum64(ns) * 0x9e3779b97f4a7c15
	}
	c.last = nil
}

// lookup returns the cache entry of the current key and namespace, loading
// it from the store on a miss. An entry that is not present has the zero V.
func (c *valueCore[V]) lookup() (*entry[V], error) {
	b := c.b
	if !b.hasKey {
		return nil, ErrNoCurrentKey
	}
	if c.last != nil && c.lastGen == b.keyGen && !c.ttl.enabled() {
		return c.last, nil
	}
	c.ck = appendCacheKey(c.ck[:0], b.key, c.ns)
	h := b.currentKeyHash() ^ c.nsHash
	c.lastH = h
	head := c.m[h]
	for e := head; e != nil; e = e.next {
		if e.ck == string(c.ck) {
			if c.ttl.enabled() && e.present {
				e = c.writable(e)
				c.checkExpiry(e)
			}
			c.last, c.lastGen = e, b.keyGen
			return e, nil
		}
	}
	e := &entry[V]{kg: uint16(b.kg), ck: string(c.ck), didx: -1}
	c.sk = appendStoreKey(c.sk[:0], b.kg, c.prefix, c.ck)
	raw, found, err := b.store.Get(c.sk)
	if err != nil {
		return nil, fmt.Errorf("state: read %q: %w", c.name, err)
	}
	if found {
		if c.ttl.enabled() {
			if len(raw) < ttlHeader {
				return nil, fmt.Errorf("state: read %q: %w: value shorter than its TTL header", c.name, ErrCorrupt)
			}
			e.touched = int64(binary.BigEndian.Uint64(raw))
			raw = raw[ttlHeader:]
		}
		v, err := c.dec(raw)
		if err != nil {
			return nil, fmt.Errorf("state: decode %q: %w", c.name, err)
		}
		e.v, e.present = v, true
		if c.ttl.enabled() {
			c.checkExpiry(e)
		}
	}
	// Make room before inserting, so that eviction never removes the entry
	// being returned.
	if c.maxCached > 0 && len(c.m) >= c.maxCached {
		n, err := c.evict(max(1, c.maxCached/8))
		b.cached -= n
		if err != nil {
			return nil, err
		}
	}
	if err := b.entryAdded(); err != nil {
		return nil, err
	}
	e.next = c.m[h] // eviction may have removed head
	c.m[h] = e
	c.last, c.lastGen = e, b.keyGen
	return e, nil
}

func (c *valueCore[V]) checkExpiry(e *entry[V]) {
	now := c.b.opts.Clock.Now().UnixMilli()
	if now-e.touched >= c.ttl.TTL.Milliseconds() {
		var zero V
		e.v, e.present = zero, false
		c.markDirty(e)
	} else if c.ttl.UpdateOnRead {
		e.touched = now
		c.markDirty(e)
	}
}

func (c *valueCore[V]) markDirty(e *entry[V]) {
	if e.dirty {
		return
	}
	e.dirty = true
	e.gen = c.gen
	e.didx = int32(len(c.dirty))
	c.dirty = append(c.dirty, e)
}

// undirty marks e clean and takes it off the dirty list.
func (c *valueCore[V]) undirty(e *entry[V]) {
	if !e.dirty {
		return
	}
	e.dirty = false
	last := c.dirty[len(c.dirty)-1]
	c.dirty[e.didx] = last
	last.didx = e.didx
	c.dirty[len(c.dirty)-1] = nil
	c.dirty = c.dirty[:len(c.dirty)-1]
	e.didx = -1
}

// lookupW is lookup for an entry about to be changed.
func (c *valueCore[V]) lookupW() (*entry[V], error) {
	e, err := c.lookup()
	if err != nil {
		return nil, err
	}
	return c.writable(e), nil
}

// writable returns e, or a copy of it that replaces it in the cache when e
// belongs to a snapshot still being encoded. e must be the entry of the
// current lookup (c.lastH is its hash).
func (c *valueCore[V]) writable(e *entry[V]) *entry[V] {
	fs := c.frozen
	if fs == nil {
		return e
	}
	if fs.done.Load() {
		c.frozen = nil
		return e
	}
	if !e.dirty || e.gen > fs.gen {
		return e
	}
	ne := &entry[V]{v: e.v, present: e.present, dirty: true, kg: e.kg, didx: e.didx, gen: c.gen, touched: e.touched, ck: e.ck, next: e.next}
	h := c.lastH
	if c.m[h] == e {
		c.m[h] = ne
	} else {
		for p := c.m[h]; p != nil; p = p.next {
			if p.next == e {
				p.next = ne
				break
			}
		}
	}
	c.dirty[e.didx] = ne
	if c.last == e {
		c.last = ne
	}
	return ne
}

// waitFrozen waits until a pending snapshot's entries are encoded.
func (c *valueCore[V]) waitFrozen() {
	if fs := c.frozen; fs != nil {
		<-fs.doneC
		c.frozen = nil
	}
}

// freeze captures the dirty entries for a checkpoint. States whose values
// may hold mutable references are encoded into w at once; the others are
// frozen and the returned function encodes them into w later, on another
// goroutine, while the cache copies an entry before changing it.
func (c *valueCore[V]) freeze(w *OverlayWriter) func(w *OverlayWriter) {
	if len(c.dirty) == 0 {
		return nil
	}
	if !c.cowSafe {
		c.appendDirty(w)
		return nil
	}
	c.waitFrozen()
	fs := &frozenSet[V]{entries: c.dirty, gen: c.gen, doneC: make(chan struct{})}
	c.dirty = slices.Clone(c.dirty)
	c.gen++
	c.frozen = fs
	return func(w *OverlayWriter) {
		defer func() {
			fs.done.Store(true)
			close(fs.doneC)
		}()
		var sk, vb []byte
		for _, e := range fs.entries {
			sk = appendStoreKey(sk[:0], int(e.kg), c.prefix, nil)
			sk = append(sk, e.ck...)
			if !e.present {
				w.Delete(sk)
				continue
			}
			vb = vb[:0]
			if c.ttl.enabled() {
				vb = binary.BigEndian.AppendUint64(vb, uint64(e.touched))
			}
			vb = c.enc(vb, e.v)
			w.Set(sk, vb)
		}
	}
}

// immutableType reports whether values of t hold no references through
// which they could change after being copied (strings are immutable).
func immutableType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return immutableType(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !immutableType(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

func (c *valueCore[V]) get() (V, bool, error) {
	e, err := c.lookup()
	if err != nil {
		var zero V
		return zero, false, err
	}
	return e.v, e.present, nil
}

func (c *valueCore[V]) set(e *entry[V], v V) {
	e.v, e.present = v, true
	if c.ttl.enabled() {
		e.touched = c.b.opts.Clock.Now().UnixMilli()
	}
	c.markDirty(e)
}

func (c *valueCore[V]) clear() error {
	e, err := c.lookupW()
	if err != nil {
		return err
	}
	if e.present {
		var zero V
		e.v, e.present = zero, false
		c.markDirty(e)
	}
	return nil
}

// write stores one entry (or deletes it) and marks it clean.
func (c *valueCore[V]) write(e *entry[V]) error {
	c.sk = appendStoreKey(c.sk[:0], int(e.kg), c.prefix, nil)
	c.sk = append(c.sk, e.ck...)
	var err error
	if e.present {
		c.vb = c.vb[:0]
		if c.ttl.enabled() {
			c.vb = binary.BigEndian.AppendUint64(c.vb, uint64(e.touched))
		}
		c.vb = c.enc(c.vb, e.v)
		err = c.b.store.Set(c.sk, c.vb)
	} else {
		err = c.b.store.Delete(c.sk)
	}
	if err != nil {
		return fmt.Errorf("state: write %q: %w", c.name, err)
	}
	c.undirty(e)
	return nil
}

func (c *valueCore[V]) appendDirty(w *OverlayWriter) error {
	for _, e := range c.dirty {
		c.sk = appendStoreKey(c.sk[:0], int(e.kg), c.prefix, nil)
		c.sk = append(c.sk, e.ck...)
		if !e.present {
			w.Delete(c.sk)
			continue
		}
		c.vb = c.vb[:0]
		if c.ttl.enabled() {
			c.vb = binary.BigEndian.AppendUint64(c.vb, uint64(e.touched))
		}
		c.vb = c.enc(c.vb, e.v)
		w.Set(c.sk, c.vb)
	}
	return nil
}

func (c *valueCore[V]) flush() error {
	c.waitFrozen()
	for len(c.dirty) > 0 {
		if err := c.write(c.dirty[len(c.dirty)-1]); err != nil {
			return err
		}
	}
	return nil
}

func (c *valueCore[V]) evict(n int) (int, error) {
	c.last = nil
	removed := 0
	for h, head := range c.m {
		if removed >= n {
			break
		}
		for e := head; e != nil; e = e.next {
			if e.dirty {
				if err := c.write(e); err != nil {
					return removed, err
				}
			}
			removed++
		}
		delete(c.m, h)
	}
	return removed, nil
}

func (c *valueCore[V]) drop() {
	c.waitFrozen()
	c.last = nil
	clear(c.m)
	clear(c.dirty)
	c.dirty = c.dirty[:0]
}

// Option configures a state handle.
type Option func(*stateOptions)

type stateOptions struct {
	ttl       TTL
	maxCached int
}

// WithMaxCached caps how many of this state's values the cache holds,
// below the backend's overall budget: for states whose values are large
// (a model per key, say), so that the cache's memory stays bounded.
// Evicted values are written to the store and decoded again when next read.
func WithMaxCached(n int) Option { return func(o *stateOptions) { o.maxCached = n } }

// WithTTL makes the state's values expire.
func WithTTL(ttl TTL) Option { return func(o *stateOptions) { o.ttl = ttl } }

func applyOptions(opts []Option) stateOptions {
	var o stateOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// ValueState is one value per key (and namespace).
type ValueState[V any] struct{ c *valueCore[V] }

// NewValueState registers a value state named name in b.
func NewValueState[V any](b *Backend, name string, codec Codec[V], opts ...Option) (*ValueState[V], error) {
	o := applyOptions(opts)
	c, err := newValueCore(b, name, "value", typeName[V](), codec.Append, codec.Decode, o.ttl)
	if err != nil {
		return nil, err
	}
	c.maxCached = o.maxCached
	return &ValueState[V]{c}, nil
}

// Value returns the current key's value and whether it is set.
func (s *ValueState[V]) Value() (V, bool, error) { return s.c.get() }

// Update sets the current key's value.
func (s *ValueState[V]) Update(v V) error {
	e, err := s.c.lookupW()
	if err != nil {
		return err
	}
	s.c.set(e, v)
	return nil
}

// Clear removes the current key's value.
func (s *ValueState[V]) Clear() error { return s.c.clear() }

// SetNamespace scopes later accesses to namespace ns (e.g. a window). The
// default namespace is empty.
func (s *ValueState[V]) SetNamespace(ns []byte) { s.c.setNamespace(ns) }

// ReducingState keeps one value per key that Add folds new values into.
type ReducingState[V any] struct {
	c      *valueCore[V]
	reduce func(acc, v V) V
}

// NewReducingState registers a reducing state: Add(v) stores reduce(old, v),
// or v when there is no old value.
func NewReducingState[V any](b *Backend, name string, codec Codec[V], reduce func(acc, v V) V, opts ...Option) (*ReducingState[V], error) {
	if reduce == nil {
		return nil, fmt.Errorf("state: reducing state %q: nil reduce function", name)
	}
	o := applyOptions(opts)
	c, err := newValueCore(b, name, "reducing", typeName[V](), codec.Append, codec.Decode, o.ttl)
	if err != nil {
		return nil, err
	}
	c.maxCached = o.maxCached
	return &ReducingState[V]{c: c, reduce: reduce}, nil
}

// Add folds v into the current key's value.
func (s *ReducingState[V]) Add(v V) error {
	e, err := s.c.lookupW()
	if err != nil {
		return err
	}
	if e.present {
		v = s.reduce(e.v, v)
	}
	s.c.set(e, v)
	return nil
}

// Get returns the current key's value and whether it is set.
func (s *ReducingState[V]) Get() (V, bool, error) { return s.c.get() }

// Clear removes the current key's value.
func (s *ReducingState[V]) Clear() error { return s.c.clear() }

// SetNamespace scopes later accesses to namespace ns.
func (s *ReducingState[V]) SetNamespace(ns []byte) { s.c.setNamespace(ns) }

// Aggregator is an incremental aggregation with an accumulator, as Flink's
// AggregateFunction. Add and Merge may modify and return their accumulator
// argument.
type Aggregator[In, Acc, Out any] interface {
	CreateAccumulator() Acc
	Add(in In, acc Acc) Acc
	Result(acc Acc) Out
	Merge(a, b Acc) Acc
}

// AggregatingState keeps one accumulator per key that Add folds inputs into.
type AggregatingState[In, Acc, Out any] struct {
	c   *valueCore[Acc]
	agg Aggregator[In, Acc, Out]
}

// NewAggregatingState registers an aggregating state; accCodec encodes the
// accumulator.
func NewAggregatingState[In, Acc, Out any](b *Backend, name string, agg Aggregator[In, Acc, Out], accCodec Codec[Acc], opts ...Option) (*AggregatingState[In, Acc, Out], error) {
	if agg == nil {
		return nil, fmt.Errorf("state: aggregating state %q: nil aggregator", name)
	}
	o := applyOptions(opts)
	c, err := newValueCore(b, name, "aggregating", typeName[In]()+" -> "+typeName[Acc](), accCodec.Append, accCodec.Decode, o.ttl)
	if err != nil {
		return nil, err
	}
	c.maxCached = o.maxCached
	return &AggregatingState[In, Acc, Out]{c: c, agg: agg}, nil
}

// Add folds in into the current key's accumulator.
func (s *AggregatingState[In, Acc, Out]) Add(in In) error {
	e, err := s.c.lookupW()
	if err != nil {
		return err
	}
	acc := e.v
	if !e.present {
		acc = s.agg.CreateAccumulator()
	}
	s.c.set(e, s.agg.Add(in, acc))
	return nil
}

// MergeAccumulator folds acc into the current key's accumulator (used when
// windows merge).
func (s *AggregatingState[In, Acc, Out]) MergeAccumulator(acc Acc) error {
	e, err := s.c.lookupW()
	if err != nil {
		return err
	}
	if e.present {
		acc = s.agg.Merge(e.v, acc)
	}
	s.c.set(e, acc)
	return nil
}

// Get returns the aggregate of the current key and whether any input was
// added.
func (s *AggregatingState[In, Acc, Out]) Get() (Out, bool, error) {
	acc, ok, err := s.c.get()
	if err != nil || !ok {
		var zero Out
		return zero, false, err
	}
	return s.agg.Result(acc), true, nil
}

// Accumulator returns the current key's raw accumulator.
func (s *AggregatingState[In, Acc, Out]) Accumulator() (Acc, bool, error) { return s.c.get() }

// Clear removes the current key's accumulator.
func (s *AggregatingState[In, Acc, Out]) Clear() error { return s.c.clear() }

// SetNamespace scopes later accesses to namespace ns.
func (s *AggregatingState[In, Acc, Out]) SetNamespace(ns []byte) { s.c.setNamespace(ns) }

// ListState keeps a list of values per key.
type ListState[E any] struct{ c *valueCore[[]E] }

// NewListState registers a list state.
func NewListState[E any](b *Backend, name string, codec Codec[E], opts ...Option) (*ListState[E], error) {
	o := applyOptions(opts)
	enc := func(dst []byte, l []E) []byte {
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		var tmp []byte
		for _, e := range l {
			tmp = codec.Append(tmp[:0], e)
			dst = binary.AppendUvarint(dst, uint64(len(tmp)))
			dst = append(dst, tmp...)
		}
		return dst
	}
	dec := func(src []byte) ([]E, error) {
		n, k := binary.Uvarint(src)
		if k <= 0 || n > uint64(len(src)) {
			return nil, fmt.Errorf("%w: list header", ErrCorrupt)
		}
		src = src[k:]
		l := make([]E, 0, n)
		for i := uint64(0); i < n; i++ {
			sz, k := binary.Uvarint(src)
			if k <= 0 || sz > uint64(len(src)-k) {
				return nil, fmt.Errorf("%w: list element %d", ErrCorrupt, i)
			}
			e, err := codec.Decode(src[k : k+int(sz)])
			if err != nil {
				return nil, err
			}
			l = append(l, e)
			src = src[k+int(sz):]
		}
		return l, nil
	}
	c, err := newValueCore(b, name, "list", typeName[E](), enc, dec, o.ttl)
	if err != nil {
		return nil, err
	}
	c.maxCached = o.maxCached
	return &ListState[E]{c}, nil
}

// Get returns the current key's list. The slice belongs to the state: it is
// valid until the next write and must not be modified.
func (s *ListState[E]) Get() ([]E, error) {
	l, _, err := s.c.get()
	return l, err
}

// Add appends v to the current key's list.
func (s *ListState[E]) Add(v E) error {
	e, err := s.c.lookupW()
	if err != nil {
		return err
	}
	s.c.set(e, append(e.v, v))
	return nil
}

// AddAll appends vs to the current key's list.
func (s *ListState[E]) AddAll(vs []E) error {
	e, err := s.c.lookupW()
	if err != nil {
		return err
	}
	s.c.set(e, append(e.v, vs...))
	return nil
}

// Update replaces the current key's list with a copy of vs; an empty vs
// clears it.
func (s *ListState[E]) Update(vs []E) error {
	if len(vs) == 0 {
		return s.c.clear()
	}
	e, err := s.c.lookupW()
	if err != nil {
		return err
	}
	s.c.set(e, append([]E(nil), vs...))
	return nil
}

// Clear removes the current key's list.
func (s *ListState[E]) Clear() error { return s.c.clear() }

// SetNamespace scopes later accesses to namespace ns.
func (s *ListState[E]) SetNamespace(ns []byte) { s.c.setNamespace(ns) }
