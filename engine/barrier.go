package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/state"
)

// The task side of a checkpoint: a barrier arriving on an input channel
// blocks that channel until every live channel has delivered it
// (onBarrier, maybeAligned); then the task snapshots its chain as the
// barrier passes each operator (snapshot, snapshotOperator) and hands the
// keyed stores' files to the coordinator to write (coordinator.go).

// alignment tracks the barriers of one checkpoint at a task's input gate.
type alignment struct {
	cp    checkpointBarrier
	seen  []bool
	began time.Time // the first barrier's arrival
}

// pendingOp is what a task's operator contributed to a checkpoint before
// its keyed state files are written.
type pendingOp struct {
	inst *opInstance
	snap SubtaskSnap
	// write writes the keyed state snapshot (nil without keyed state).
	write func(dir string) ([]string, error)
	// overlay encodes the dirty cache entries the store snapshot lacks.
	overlay func() [][]byte
	// savepoint: the store whose snapshot must be converted to the
	// portable format.
	opts state.PebbleOptions
}

// onBarrier handles barrier cp arriving on input channel i.
func (t *task) onBarrier(i int, cp checkpointBarrier) error {
	if cp.id <= t.lastSnapshot {
		return nil // a late barrier of a checkpoint this task already took
	}
	g := t.gate
	if t.align == nil || t.align.cp.id < cp.id {
		if t.align != nil {
			t.unblockAll() // a newer checkpoint supersedes one that never aligned
		}
		t.align = &alignment{cp: cp, seen: make([]bool, len(g.channels)), began: t.cfg.Clock.Now()}
	} else if cp.id < t.align.cp.id {
		return nil
	}
	t.align.seen[i] = true
	g.blocked[i] = true
	return t.maybeAligned()
}

// maybeAligned completes the alignment when every channel that has not
// ended delivered the barrier.
func (t *task) maybeAligned() error {
	a := t.align
	if a == nil {
		return nil
	}
	g := t.gate
	for i := range g.channels {
		if !a.seen[i] && !g.ended[i] {
			return nil
		}
	}
	t.unblockAll()
	t.align = nil
	if t.exec != nil && t.exec.coord != nil {
		t.exec.coord.noteAlignment(a.cp.id, clock.Since(t.cfg.Clock, a.began))
	}
	return t.snapshot(a.cp, t.cpDir(a.cp), true)
}

func (t *task) unblockAll() {
	for i := range t.gate.blocked {
		t.gate.blocked[i] = false
	}
}

// cpDir returns the directory the coordinator assigned to checkpoint cp.
func (t *task) cpDir(cp checkpointBarrier) string {
	if t.exec == nil || t.exec.coord == nil {
		return ""
	}
	return t.exec.coord.dirOf(cp.id)
}

// snapshotOperator records an operator's non-keyed state as the barrier
// passes it, before the barrier moves on.
func (t *task) snapshotOperator(inst *opInstance, cp checkpointBarrier) error {
	p := &pendingOp{inst: inst, snap: SubtaskSnap{Subtask: inst.subtask}}
	if h := inst.stateHook; h != nil {
		var entries [][]byte
		err := inst.call(func() error {
			var err error
			entries, err = h.SnapshotState(cp.id)
			return err
		})
		if err != nil {
			return err
		}
		p.snap.OperatorState = entries
	}
	t.pendingOps = append(t.pendingOps, p)
	return nil
}

// snapshot takes this task's part of checkpoint cp. With viaBarrier the
// barrier travels down the chain and out of the task's exchanges (each
// operator snapshots as it passes); otherwise (the task's input has ended)
// each operator snapshots in place.
func (t *task) snapshot(cp checkpointBarrier, dir string, viaBarrier bool) error {
	began := t.cfg.Clock.Now()
	t.lastSnapshot = cp.id
	t.pendingOps = t.pendingOps[:0]
	if viaBarrier {
		if err := t.head.control(control{kind: ctlBarrier, cp: cp}); err != nil {
			return err
		}
		if err := t.flushWriters(); err != nil {
			return err
		}
	} else {
		for _, inst := range t.insts {
			if err := t.snapshotOperator(inst, cp); err != nil {
				return err
			}
		}
	}
	// Source position: the reader has emitted exactly the records before
	// the barrier.
	var srcPos []byte
	var hasPos bool
	if t.src != nil {
		var err error
		srcPos, hasPos, err = t.src.snapshotPosition()
		if err != nil {
			return t.head.wrap(fmt.Errorf("snapshot source position: %w", err))
		}
	}
	ops := slices.Clone(t.pendingOps)
	for _, p := range ops {
		inst := p.inst
		if inst == t.head && hasPos {
			p.snap.Position, p.snap.HasPosition = srcPos, true
		}
		if ks := inst.keyedStore; ks != nil {
			if cp.savepoint {
				// A savepoint is exported to the portable format from the
				// store alone: write the cache through first.
				if err := ks.backend.Flush(); err != nil {
					return inst.wrap(fmt.Errorf("checkpoint %d: flush state: %w", cp.id, err))
				}
			} else {
				// The dirty cache entries go into an overlay beside the store
				// snapshot, encoded after the pause (the cache copies an
				// entry before changing it meanwhile): far quicker than
				// writing them into the store during the pause.
				p.overlay = ks.backend.FreezeDirty()
				if err := ks.store.Flush(); err != nil {
					return inst.wrap(fmt.Errorf("checkpoint %d: flush state: %w", cp.id, err))
				}
			}
			sn, format, err := state.SnapshotterFor(ks.store)
			if err != nil {
				return inst.wrap(err)
			}
			write, err := sn.Snapshot()
			if err != nil {
				return inst.wrap(fmt.Errorf("checkpoint %d: snapshot state: %w", cp.id, err))
			}
			p.write = write
			p.snap.Keyed = true
			p.snap.KeyGroups = ks.backend.Options().KeyGroups
			p.snap.States = ks.backend.Registered()
			p.snap.StateFormat = format
		}
	}
	pause := clock.Since(t.cfg.Clock, began)
	if t.exec.coord == nil {
		t.lastOps = ops // a harness writes them itself
		return nil
	}
	t.exec.coord.asyncWrite(t, cp, dir, ops, pause)
	return nil
}
