package state_test

import (
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/state/statetest"
)

// smallPebble keeps the batch and memtables small, so that the suite's
// writes go through batch commits, memtable flushes and sstables rather
// than staying in the first batch.
var smallPebble = state.PebbleOptions{BatchBytes: 32 << 10, MemTableBytes: 1 << 20, CacheBytes: 8 << 20}

func newPebble(t *testing.T) state.Store {
	t.Helper()
	s, err := state.OpenPebble(filepath.Join(t.TempDir(), "store"), smallPebble)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newMem(*testing.T) state.Store { return state.NewMemStore() }

var restorers = map[string]statetest.Restorer{
	"ToPebble": func(t *testing.T, parts []state.SnapshotPart, want state.KeyGroupRange) (state.Store, error) {
		s, err := state.OpenPebbleFrom(filepath.Join(t.TempDir(), "restored"), smallPebble, parts, want)
		if err != nil {
			return nil, err // not a typed nil in an interface
		}
		return s, nil
	},
	"ToMem": func(t *testing.T, parts []state.SnapshotPart, want state.KeyGroupRange) (state.Store, error) {
		s, err := state.NewMemStoreFrom(parts, want)
		if err != nil {
			return nil, err
		}
		return s, nil
	},
}

func TestConformancePebble(t *testing.T) {
	statetest.Run(t, newPebble)
	statetest.RunSnapshots(t, newPebble, restorers)
}

func TestConformanceMem(t *testing.T) {
	statetest.Run(t, newMem)
	statetest.RunSnapshots(t, newMem, restorers)
}
