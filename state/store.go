package state

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/RaduBerinde/btreemap"
)

// Store is the ordered byte store under the keyed state of one task. Every
// key starts with a two-byte big-endian key group (see the key layout in
// doc.go), so state can be cut into key-group ranges.
//
// A Store is used by one goroutine (its task); implementations need not be
// safe for concurrent use. Writes become visible to reads at once
// (read-your-writes); Flush makes them part of what the next snapshot sees.
type Store interface {
	// Get returns a copy of the value of key.
	Get(key []byte) (value []byte, found bool, err error)
	// Set sets key to value. The store copies both.
	Set(key, value []byte) error
	// Delete removes key.
	Delete(key []byte) error
	// DeleteRange removes the keys in [start, end).
	DeleteRange(start, end []byte) error
	// Scan calls fn for each key in [lower, upper) in byte order until fn
	// returns false; a nil upper bound means no bound. fn must not retain
	// key or value, nor write to the store.
	Scan(lower, upper []byte, fn func(key, value []byte) bool) error
	// Flush makes all writes so far durable in the store's working state,
	// so that a snapshot taken next includes them.
	Flush() error
	// Close releases the store.
	Close() error
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("state: store closed")

// MemStore is an in-memory Store on a copy-on-write B-tree: Snapshot is
// O(1), and a snapshot does not change when the store is written to later.
// It backs the tests and small jobs that do not need state larger than
// memory.
type MemStore struct {
	t      *btreemap.BTreeMap[[]byte, []byte]
	closed bool
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{t: btreemap.New[[]byte, []byte](32, bytes.Compare)}
}

// Get implements Store.
func (m *MemStore) Get(key []byte) ([]byte, bool, error) {
	if m.closed {
		return nil, false, ErrClosed
	}
	_, v, ok := m.t.Get(key)
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

// Set implements Store.
func (m *MemStore) Set(key, value []byte) error {
	if m.closed {
		return ErrClosed
	}
	m.t.ReplaceOrInsert(bytes.Clone(key), append(make([]byte, 0, len(value)), value...))
	return nil
}

// Delete implements Store.
func (m *MemStore) Delete(key []byte) error {
	if m.closed {
		return ErrClosed
	}
	m.t.Delete(key)
	return nil
}

// DeleteRange implements Store.
func (m *MemStore) DeleteRange(start, end []byte) error {
	if m.closed {
		return ErrClosed
	}
	var doomed [][]byte
	for k := range m.t.Ascend(btreemap.GE(start), btreemap.LT(end)) {
		doomed = append(doomed, k)
	}
	for _, k := range doomed {
		m.t.Delete(k)
	}
	return nil
}

// Scan implements Store.
func (m *MemStore) Scan(lower, upper []byte, fn func(key, value []byte) bool) error {
	if m.closed {
		return ErrClosed
	}
	ub := btreemap.Max[[]byte]()
	if upper != nil {
		ub = btreemap.LT(upper)
	}
	for k, v := range m.t.Ascend(btreemap.GE(lower), ub) {
		if !fn(k, v) {
			break
		}
	}
	return nil
}

// Flush implements Store; writes to a MemStore are always current.
func (m *MemStore) Flush() error {
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Close implements Store.
func (m *MemStore) Close() error {
	m.closed = true
	return nil
}

// Len returns the number of keys in the store.
func (m *MemStore) Len() int { return m.t.Len() }

// Snapshot returns a point-in-time copy of the store, in O(1).
func (m *MemStore) Snapshot() *MemStore {
	return &MemStore{t: m.t.Clone()}
}

// String describes the store for debugging.
func (m *MemStore) String() string { return fmt.Sprintf("MemStore(%d keys)", m.t.Len()) }
