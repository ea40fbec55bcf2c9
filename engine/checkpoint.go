package engine

import (
	"fmt"

	"github.com/sluicehq/sluice/state"
)

// stateStore returns the task's keyed-state store, creating it on first use.
func (t *task) stateStore() (state.Store, error) {
	if t.store == nil {
		t.store = state.NewMemStore()
	}
	return t.store, nil
}

// addBackend records a keyed operator's backend and timer queues, which
// checkpoints flush and restores reload.
func (t *task) addBackend(b *state.Backend, qs []*state.TimerQueue) {
	t.backends = append(t.backends, backendRef{b: b, timers: qs})
}

type backendRef struct {
	b      *state.Backend
	timers []*state.TimerQueue
}

// checkControl handles coordinator requests (checkpoint triggers).
func (t *task) checkControl() error { return nil }

func (t *task) onBarrier(i int, cp checkpointBarrier) error {
	return fmt.Errorf("engine: checkpoint %d: barriers are not supported yet", cp.id)
}

func (t *task) snapshotOperator(inst *opInstance, cp checkpointBarrier) error { return nil }

func (t *task) restoredPosition(n *node) []byte { return nil }
