// Package statetest is the conformance suite of state backends: one set of
// checks that every state.Store (Pebble, the in-memory store, and any
// future backend) must pass, in the spirit of testing/fstest.
//
// Run checks the Store contract (Get/Set/Delete/DeleteRange/Scan order and
// bounds, read-your-writes across Flush, copies in and out, errors after
// Close) and the typed states of package state over the store (Value,
// List, Map, Reducing and Aggregating states, namespaces, TTL under a
// manual clock, eviction through a tiny cache, timers in order with
// deduplication and deletes). RunSnapshots checks stores that can be
// snapshotted (state.SnapshotterFor): snapshots are point-in-time images,
// their write functions may run on another goroutine while the store is
// written, corruption is detected and named, and a restore at another
// parallelism (through each given Restorer) gives every key exactly once.
//
// Randomised checks draw from a seeded generator; the seed is logged (by
// internal/testseed, as in every randomised test of the project), and
// SLUICE_SEED=<seed> replays it.
//
// The suite uses only the exported API of package state, so it checks what
// the engine relies on. Stores are closed by the suite; Close must tolerate
// being called twice.
package statetest
