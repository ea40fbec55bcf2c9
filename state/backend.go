package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/sluicehq/sluice/internal/clock"
)

// Options configure a Backend.
type Options struct {
	// OperatorID is the stable id of the operator whose state this is; it
	// prefixes every key. Required.
	OperatorID string
	// MaxParallelism is the number of key groups. Default
	// DefaultMaxParallelism.
	MaxParallelism int
	// KeyGroups is the range of key groups this backend owns. Default: all.
	KeyGroups KeyGroupRange
	// CacheEntries bounds the write-back cache (entries across all states of
	// the backend). Default 1<<18.
	CacheEntries int
	// Clock is the processing-time clock for state TTL. Default clock.Real.
	Clock clock.Clock
}

// EnsureDefaults fills in the defaults of unset fields.
func (o *Options) EnsureDefaults() {
	if o.MaxParallelism == 0 {
		o.MaxParallelism = DefaultMaxParallelism
	}
	if o.KeyGroups == (KeyGroupRange{}) {
		o.KeyGroups = KeyGroupRange{Start: 0, End: o.MaxParallelism - 1}
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = 1 << 18
	}
	if o.Clock == nil {
		o.Clock = clock.Real
	}
}

// Validate reports whether the options are usable.
func (o *Options) Validate() error {
	switch {
	case o.OperatorID == "":
		return errors.New("state: OperatorID is required")
	case o.MaxParallelism < 1 || o.MaxParallelism > MaxMaxParallelism:
		return fmt.Errorf("state: MaxParallelism %d out of range [1, %d]", o.MaxParallelism, MaxMaxParallelism)
	case o.KeyGroups.Start < 0 || o.KeyGroups.End >= o.MaxParallelism || o.KeyGroups.Len() == 0:
		return fmt.Errorf("state: key-group range %v invalid for MaxParallelism %d", o.KeyGroups, o.MaxParallelism)
	case o.CacheEntries < 1:
		return fmt.Errorf("state: CacheEntries %d must be positive", o.CacheEntries)
	}
	return nil
}

// Backend is the keyed state of one operator subtask. The operator sets the
// current key before each record or timer; state handles then read and write
// that key's values.
type Backend struct {
	opts  Options
	store Store

	key     []byte // encoded current key
	kg      int
	hasKey  bool
	keyGen  uint64 // bumped by every SetCurrentKey
	keyHash uint64 // xxhash of key: the caches' hash of the current key, once hashed
	hashed  bool   // keyHash is the current key's

	cached  int // entries in all caches
	caches  []cache
	names   map[string]bool
	descs   []StateDesc
	evictAt int // next cache to evict from, round robin

	scratch []byte
}

// cache is the type-erased face of a state's write-back cache.
type cache interface {
	// flush writes every dirty entry to the store and marks it clean.
	flush() error
	// evict removes up to n entries, writing dirty ones first, and returns
	// how many it removed.
	evict(n int) (int, error)
	// drop forgets every cached entry without writing it.
	drop()
	// appendDirty encodes every dirty entry into w, leaving it dirty.
	appendDirty(w *OverlayWriter) error
	// freeze captures the dirty entries for a checkpoint (see
	// Backend.FreezeDirty).
	freeze(w *OverlayWriter) func(w *OverlayWriter)
}

// NewBackend returns a backend over store. The store may be shared by the
// backends of several operators: their keys differ by operator id.
func NewBackend(store Store, opts Options) (*Backend, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Backend{opts: opts, store: store, names: map[string]bool{}}, nil
}

// Store returns the backend's store.
func (b *Backend) Store() Store { return b.store }

// Options returns the backend's options, with defaults filled in.
func (b *Backend) Options() Options { return b.opts }

// SetCurrentKey makes key, in key group kg, the key that state handles and
// timers act on. The backend copies key.
func (b *Backend) SetCurrentKey(kg int, key []byte) {
	b.key = append(b.key[:0], key...)
	b.kg = kg
	b.hasKey = true
	b.keyGen++
	b.hashed = false
}

// currentKeyHash returns the hash of the current key, computed on first
// use after SetCurrentKey (the typed hot tier never needs it).
func (b *Backend) currentKeyHash() uint64 {
	if !b.hashed {
		b.keyHash, b.hashed = xxhash.Sum64(b.key), true
	}
	return b.keyHash
}

// CurrentKey returns the encoded current key and its key group. The slice is
// valid until the next SetCurrentKey.
func (b *Backend) CurrentKey() ([]byte, int) { return b.key, b.kg }

// ErrNoCurrentKey is returned by state access outside a keyed context.
var ErrNoCurrentKey = errors.New("state: no current key (state is only accessible while processing a keyed record or timer)")

// Flush writes every dirty cached entry to the store and flushes the store,
// so that a snapshot taken next is complete.
func (b *Backend) Flush() error {
	for _, c := range b.caches {
		if err := c.flush(); err != nil {
			return err
		}
	}
	return b.store.Flush()
}

// DropCaches forgets cached entries without writing them (after the store
// was replaced by a restore).
func (b *Backend) DropCaches() {
	for _, c := range b.caches {
		c.drop()
	}
	b.cached = 0
}

// StateDesc describes a registered state: checkpoints record them, and a
// restore refuses a job whose states changed kind or type.
type StateDesc struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // value, list, map, reducing, aggregating, timers
	Type string `json:"type"` // the Go types of the values (and user keys)
}

// Registered returns the states registered so far, in order.
func (b *Backend) Registered() []StateDesc { return append([]StateDesc(nil), b.descs...) }

// register claims a state name for this backend.
func (b *Backend) register(d StateDesc, c cache) error {
	if d.Name == "" {
		return errors.New("state: state name must not be empty")
	}
	if b.names[d.Name] {
		return fmt.Errorf("state: state %q registered twice in operator %q", d.Name, b.opts.OperatorID)
	}
	b.names[d.Name] = true
	b.descs = append(b.descs, d)
	if c != nil {
		b.caches = append(b.caches, c)
	}
	return nil
}

// typeName names T for StateDesc.
func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// entryAdded accounts for a new cache entry and evicts when over budget.
func (b *Backend) entryAdded() error {
	b.cached++
	if b.cached <= b.opts.CacheEntries {
		return nil
	}
	// Evict an eighth of the budget at a time, round robin over states, so
	// that eviction cost is amortised over many insertions.
	want := max(1, b.opts.CacheEntries/8)
	for tries := 0; want > 0 && tries < 2*len(b.caches); tries++ {
		c := b.caches[b.evictAt%len(b.caches)]
		b.evictAt++
		n, err := c.evict(want)
		if err != nil {
			return err
		}
		b.cached -= n
		want -= n
	}
	return nil
}

// statePrefix returns uvarint(len op) op uvarint(len name) name.
func statePrefix(op, name string) []byte {
	p := binary.AppendUvarint(nil, uint64(len(op)))
	p = append(p, op...)
	p = binary.AppendUvarint(p, uint64(len(name)))
	return append(p, name...)
}

// appendCacheKey appends uvarint(len key) key uvarint(len ns) ns: the key
// of an entry within one state, without key group.
func appendCacheKey(dst, key, ns []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(ns)))
	return append(dst, ns...)
}

// storeKey appends kg | prefix | ck.
func appendStoreKey(dst []byte, kg int, prefix, ck []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(kg))
	dst = append(dst, prefix...)
	return append(dst, ck...)
}

// prefixEnd returns the smallest key greater than every key that starts with
// p, or nil if there is none.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// TTL configures state time-to-live, as Flink's StateTtlConfig: a value
// expires TTL after it was last written (or read, with UpdateOnRead), by the
// backend's processing-time clock. Expired values are never returned; they
// are removed from the store when next touched.
type TTL struct {
	// TTL is the time to live; zero disables expiry.
	TTL time.Duration
	// UpdateOnRead refreshes the timestamp on reads too (OnReadAndWrite).
	UpdateOnRead bool
}

func (t TTL) enabled() bool { return t.TTL > 0 }

// ttlHeader is the size of the timestamp in front of values with TTL.
const ttlHeader = 8
