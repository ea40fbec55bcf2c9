// Package state holds the keyed state of Sluice operators: typed state
// handles (ValueState, ListState, MapState, ReducingState, AggregatingState),
// event-time and processing-time timers, key groups, and codecs, over an
// ordered byte Store (Pebble, or the in-memory MemStore).
//
// # Keys, key groups and the key layout
//
// A keyed stream's key is encoded with a Codec and hashed (KeyHasher) to one
// of maxParallelism key groups; a subtask owns a contiguous KeyGroupRange. So
// that state can be restored at another parallelism by key-group ranges,
// every store key starts with its key group:
//
//	state:  kg(2, big-endian) | uvarint(len op) op | uvarint(len name) name |
//	        uvarint(len key) key | uvarint(len ns) ns [| user key (MapState)]
//	timers: kg(2) | uvarint(len op) op | uvarint(len name) name |
//	        time(8, order-preserving) | uvarint(len key) key | uvarint(len ns) ns
//
// where op is the operator's stable id and name the state's name; timer
// queues use reserved names that start with a zero byte. The layout is
// versioned by LayoutVersion and recorded in every checkpoint.
//
// # Caching
//
// Value-like states (Value, Reducing, Aggregating) and ListState keep a
// bounded write-back cache of decoded values in front of the Store, so the
// hot path of a keyed operator does no encoding and no store access for keys
// it has seen recently. The cache holds at most Options.CacheEntries entries
// per Backend; evicted dirty entries are written to the store, and Flush
// writes every dirty entry before a snapshot. Memory therefore stays bounded
// whatever the number of keys. MapState writes through to the store.
//
// # Stores, snapshots and restore
//
// MemStore keeps state in memory; PebbleStore (OpenPebble) in a Pebble
// database whose working directory is not durable: durability comes from
// snapshots. A store that implements Snapshotter (see SnapshotterFor)
// captures its contents while the task is paused and writes them out on
// another goroutine: a Pebble checkpoint (SnapshotFormatPebble) or a
// portable snapshot file (SnapshotFormatFile, WriteSnapshotFile). Every
// snapshot is checksummed; a damaged one fails with ErrCorruptSnapshot
// naming the file. OpenPebbleFrom and NewMemStoreFrom restore the key
// groups a subtask owns from the snapshots of any earlier parallelism.
// Package statetest is the conformance suite every store passes; the
// design notes are in docs/state.md.
//
// # Concurrency
//
// A Backend and everything created from it belong to one goroutine (the
// task that runs the operator), as do stores. Nothing here is safe for
// concurrent use, with one exception: the write function a Snapshotter
// returns may run on another goroutine while the store is used.
package state

// LayoutVersion is the version of the store key layout and value encodings.
// It is recorded in checkpoints; a restore of another version is refused.
const LayoutVersion = 1
