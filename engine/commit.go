package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
)

// A two-phase-commit sink's writers stage output at every checkpoint
// barrier (StagingWriter.Prepare) and the committables they return are
// recorded in the checkpoint, in the sink operator's state. What makes the
// staged output visible is either each writer itself (CommittingWriter),
// or, for a GlobalCommitSink, one global committer per attempt that sees
// the committables of every subtask together (Flink's GlobalCommitter):
// it can publish a checkpoint's output in one step, and it is the one
// place that knows the output of earlier attempts, so it also cleans up
// what they staged and nobody committed.
//
// The global committer runs on the checkpoint coordinator's goroutine:
//
//   - When an attempt starts, before any writer of the attempt opens:
//     Commit with the committables of the checkpoint the attempt restores
//     from (again, if they were committed before the failure), then
//     Cleanup.
//   - Once per completed checkpoint, after its manifest is written and
//     before any operator hears of the completion: Commit with the
//     committables of every subtask recorded in that checkpoint that no
//     earlier Commit of the attempt was given (those of checkpoints that
//     failed are recorded again in the next one).
//   - Without checkpoint storage, on the task goroutine of the sink
//     subtask whose input ends last: Commit(0) with what every subtask
//     prepared at the end of its input.
//
// A Commit error fails the attempt with an *OperatorError naming the sink
// (Role RoleGlobalCommitter); the restart commits again from the
// checkpoint.

// GlobalCommitSink is a Sink whose staged output one global committer per
// job attempt commits for all its subtasks. Its writers implement
// StagingWriter; they never commit themselves. SinkTo recognises it.
type GlobalCommitSink[T any] interface {
	Sink[T]
	// NewGlobalCommitter returns the committer of one attempt. It is
	// called when the attempt starts, before any writer opens; ctx is the
	// attempt's, done when the attempt ends.
	NewGlobalCommitter(ctx context.Context, info CommitterInfo) (GlobalCommitter, error)
}

// CommitterInfo describes the sink and the attempt a global committer
// commits for.
type CommitterInfo struct {
	Name, UID   string
	Parallelism int // the sink's parallelism in this attempt
	// Attempt counts the job's restarts (as SinkInfo.Attempt).
	Attempt int
	// Checkpointing reports whether the job has checkpoint storage; without
	// it, output is committed only when a bounded input ends.
	Checkpointing bool
	// Clock is the job's clock.
	Clock Clock
}

// Committable is what one sink subtask's StagingWriter.Prepare returned.
type Committable struct {
	// Checkpoint is the id of the checkpoint whose barrier prepared it (0:
	// the end of a bounded input without checkpoint storage).
	Checkpoint int64
	// Subtask is the writer's subtask, at the parallelism of the time.
	Subtask int
	// Data is Prepare's result.
	Data []byte
}

// GlobalCommitter commits the staged output of every subtask of a
// GlobalCommitSink. The engine calls it from one goroutine at a time.
type GlobalCommitter interface {
	// Commit makes the output the committables describe visible, for
	// checkpoint checkpointID (see the package documentation for when). It
	// must be idempotent: after a failure the next attempt commits the
	// same committables again, and it must succeed for output that is
	// already visible. committables may be empty; they are ordered by
	// checkpoint, then subtask.
	Commit(ctx context.Context, checkpointID int64, committables []Committable) error
	// Cleanup removes what earlier attempts (of this process or of one
	// that crashed) staged and no checkpoint covers. It is called once per
	// attempt, after the restored checkpoint's Commit and before any
	// writer of the attempt opens, so everything staged and not committed
	// at that point is garbage.
	Cleanup(ctx context.Context) error
	// Close releases the committer when the attempt ends.
	Close() error
}

// globalCommit is one sink's global committer in one attempt.
type globalCommit struct {
	name, uid   string
	parallelism int
	c           GlobalCommitter
	// committedUpTo is the id of the last checkpoint of the attempt whose
	// committables were committed; committables up to it are not given
	// again. Checkpoint coordinator goroutine only.
	committedUpTo int64

	// The end of input without checkpoint storage.
	mu        sync.Mutex
	ended     int
	collected []Committable
}

func (g *globalCommit) wrap(err error) error {
	if err == nil {
		return nil
	}
	var oe *OperatorError
	if errors.As(err, &oe) {
		return err
	}
	return &OperatorError{Operator: g.name, Parallelism: g.parallelism, Role: RoleGlobalCommitter, Err: err}
}

// call runs fn, a call into the committer, with panic recovery.
func (g *globalCommit) call(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &OperatorError{Operator: g.name, Parallelism: g.parallelism, Role: RoleGlobalCommitter,
				Err: fmt.Errorf("panic: %v", r), Panic: string(debug.Stack())}
		}
	}()
	return g.wrap(fn())
}

func (g *globalCommit) commit(ctx context.Context, id int64, cs []Committable) error {
	slices.SortStableFunc(cs, func(a, b Committable) int {
		if a.Checkpoint != b.Checkpoint {
			if a.Checkpoint < b.Checkpoint {
				return -1
			}
			return 1
		}
		return a.Subtask - b.Subtask
	})
	return g.call(func() error {
		if err := g.c.Commit(ctx, id, cs); err != nil {
			return fmt.Errorf("commit checkpoint %d: %w", id, err)
		}
		return nil
	})
}

// endInput records what a subtask prepared at the end of its input (data
// may be nil); the last subtask to end commits them all.
func (g *globalCommit) endInput(ctx context.Context, subtask int, data []byte) error {
	g.mu.Lock()
	if data != nil {
		g.collected = append(g.collected, Committable{Subtask: subtask, Data: data})
	}
	g.ended++
	last := g.ended == g.parallelism
	cs := g.collected
	g.mu.Unlock()
	if !last {
		return nil
	}
	return g.commit(ctx, 0, cs)
}

// committablesOf returns the committables in the operator state of a sink
// operator's subtask snapshots.
func committablesOf(subtasks []SubtaskSnap, after int64) ([]Committable, error) {
	var out []Committable
	for _, st := range subtasks {
		for _, e := range st.OperatorState {
			c, err := decodeCommittable(e)
			if err != nil {
				return nil, err
			}
			if c.id > after {
				out = append(out, Committable{Checkpoint: c.id, Subtask: st.Subtask, Data: c.data})
			}
		}
	}
	return out, nil
}

// startCommitters creates the attempt's global committers, commits the
// checkpoint it restores from and cleans up what earlier attempts staged,
// before any task opens.
func (ex *execution) startCommitters() error {
	ex.committers = map[string]*globalCommit{}
	for _, c := range ex.chains {
		for _, n := range c.nodes {
			if n.newCommitter == nil {
				continue
			}
			g := &globalCommit{name: n.name, uid: n.uid, parallelism: n.parallelism}
			info := CommitterInfo{Name: n.name, UID: n.uid, Parallelism: n.parallelism, Attempt: ex.attempt,
				Checkpointing: ex.cfg.Checkpoint.storage() != nil, Clock: ex.cfg.Clock}
			err := g.call(func() error {
				gc, err := n.newCommitter(ex.ctx, info)
				if err == nil && gc == nil {
					err = errors.New("NewGlobalCommitter returned no committer")
				}
				g.c = gc
				return err
			})
			if err != nil {
				return err
			}
			ex.committers[n.uid] = g
			ex.commitOrder = append(ex.commitOrder, g)
			if rp := ex.restore; rp != nil {
				if op := rp.ops[n.uid]; op != nil {
					cs, err := committablesOf(op.Subtasks, MinTime)
					if err != nil {
						return g.wrap(err)
					}
					if err := g.commit(ex.ctx, rp.m.CheckpointID, cs); err != nil {
						return err
					}
				}
			}
			if err := g.call(func() error { return g.c.Cleanup(ex.ctx) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// commitCheckpoint runs every global committer for completed checkpoint p.
// Called on the checkpoint coordinator's goroutine.
func (ex *execution) commitCheckpoint(p *pendingCheckpoint) error {
	for _, g := range ex.commitOrder {
		var subtasks []SubtaskSnap
		for _, acks := range p.acks {
			for _, s := range acks {
				if s.UID == g.uid {
					subtasks = append(subtasks, s.Snap)
				}
			}
		}
		cs, err := committablesOf(subtasks, g.committedUpTo)
		if err != nil {
			return g.wrap(err)
		}
		if err := g.commit(ex.ctx, p.id, cs); err != nil {
			return err
		}
		g.committedUpTo = p.id
	}
	return nil
}

// closeCommitters closes the attempt's global committers.
func (ex *execution) closeCommitters() error {
	var errs []error
	for _, g := range ex.commitOrder {
		if err := g.call(g.c.Close); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
