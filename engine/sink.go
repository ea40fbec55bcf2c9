package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sinks: the interfaces a sink implements (Sink, SinkWriter, and for
// two-phase commit StagingWriter or CommittingWriter; GlobalCommitSink in
// commit.go), SinkTo and ForEach.

// Sink consumes a stream. Open is called once per subtask.
type Sink[T any] interface {
	Open(ctx context.Context, info SinkInfo) (SinkWriter[T], error)
}

// SinkInfo tells a sink writer which subtask it is.
type SinkInfo struct {
	Name        string
	UID         string
	Subtask     int
	Parallelism int
	// Attempt counts the job's restarts; a writer can use it to name what
	// it stages so that attempts never collide.
	Attempt int
	// Checkpointing reports whether the job takes checkpoints. Without
	// them, a CommittingWriter's output is committed only when a bounded
	// input ends.
	Checkpointing bool
	// Clock is the job's clock; a writer that waits or timestamps reads it.
	Clock Clock
}

// SinkWriter writes one subtask's records. Write must not keep the batch
// after it returns. A writer that buffers implements EndInputHook to write
// out what it holds when a bounded input ends.
type SinkWriter[T any] interface {
	Write(batch []Record[T]) error
	Close() error
}

// StagingWriter is a SinkWriter that stages its output for a two-phase
// commit. The writers of a GlobalCommitSink implement it; the staged
// output becomes visible when the sink's global committer commits it.
type StagingWriter interface {
	// Prepare stages everything written since the previous Prepare and
	// returns a description of it (a committable; nil if nothing was
	// written). It is called at every checkpoint barrier, and the
	// committable is recorded in the checkpoint. Without checkpoint
	// storage it is called once, with id 0, when a bounded input ends.
	Prepare(checkpointID int64) ([]byte, error)
}

// CommittingWriter is a SinkWriter with exactly-once output by two-phase
// commit: it stages what it writes, and staged output becomes visible only
// once the checkpoint that covers it has completed. Each writer commits
// the committables it prepared itself; a sink that commits for all
// subtasks at once is a GlobalCommitSink, and then Commit is never called.
type CommittingWriter interface {
	StagingWriter
	// Commit makes staged output visible. It is called once the checkpoint
	// that recorded the committables has completed, and again, after a
	// restore, with the committables of the checkpoint restored from: it
	// must be idempotent, and must succeed for output it already made
	// visible. Output staged after the last completed checkpoint is never
	// committed; the writer may remove it when it opens.
	Commit(committables [][]byte) error
}

// SinkTo writes s to sink. A GlobalCommitSink gets a global committer per
// attempt.
func SinkTo[T any](s *Stream[T], name string, sink Sink[T]) *Stream[struct{}] {
	n, out := oneInput(s, name, func() OneInputOperator[T, struct{}] { return &sinkOp[T]{sink: sink} })
	n.isSink = true
	if sink == nil {
		n.nilFunc = "sink"
	}
	if gs, ok := sink.(GlobalCommitSink[T]); ok {
		n.newCommitter = gs.NewGlobalCommitter
	}
	return out
}

// ForEach calls fn for every record, as a sink.
func ForEach[T any](s *Stream[T], name string, fn func(v T) error) *Stream[struct{}] {
	if fn == nil {
		return SinkTo[T](s, name, nil)
	}
	return SinkTo[T](s, name, funcSink[T](fn))
}

// The sink runtime: the operator that runs a SinkWriter, stages its output
// at every barrier (StagingWriter.Prepare), keeps the committables in its
// checkpointed state and commits them — itself (CommittingWriter) or
// through the sink's global committer (commit.go).

// sinkOp drives a SinkWriter. For a CommittingWriter, or a StagingWriter of
// a sink with a global committer, it keeps the committables prepared but
// not yet committed in operator state; without a global committer the
// writer commits them itself.
type sinkOp[T any] struct {
	sink     Sink[T]
	w        SinkWriter[T]
	sw       StagingWriter    // nil if the writer does not stage
	cw       CommittingWriter // the writer commits (no global committer)
	gc       *globalCommit    // the sink's global committer in this attempt
	ctx      *OperatorContext[struct{}]
	pending  []committable // prepared, not yet committed, oldest first
	restored []committable
}

type committable struct {
	id   int64
	data []byte
}

func (k *sinkOp[T]) Open(ctx *OperatorContext[struct{}]) error {
	k.ctx = ctx
	t := ctx.inst.task
	info := SinkInfo{Name: ctx.name, UID: ctx.uid, Subtask: ctx.subtask, Parallelism: ctx.parallelism,
		Checkpointing: t.cfg.Checkpoint.storage() != nil, Clock: t.cfg.Clock}
	if t.exec != nil {
		info.Attempt = t.exec.attempt
		k.gc = t.exec.committers[ctx.uid]
	}
	w, err := k.sink.Open(t.ctx, info)
	if err != nil {
		return err
	}
	k.w = w
	if k.gc != nil {
		// The global committer committed the restored committables before
		// any writer opened, and commits for every writer from now on.
		k.sw, _ = w.(StagingWriter)
		k.restored = nil
		return nil
	}
	k.cw, _ = w.(CommittingWriter)
	if k.cw != nil {
		k.sw = k.cw
	}
	if len(k.restored) > 0 {
		if k.cw == nil {
			return errors.New("restored committables for a sink writer that does not commit")
		}
		// The checkpoint restored from completed: what it staged is to be
		// committed (again, if the commit happened before the failure).
		if err := k.cw.Commit(datas(k.restored)); err != nil {
			return fmt.Errorf("commit restored output: %w", err)
		}
		k.restored = nil
	}
	return nil
}

func datas(cs []committable) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = c.data
	}
	return out
}

// InitializeState implements OperatorStateHook: restored committables.
func (k *sinkOp[T]) InitializeState(restored [][]byte) error {
	for _, e := range restored {
		c, err := decodeCommittable(e)
		if err != nil {
			return err
		}
		k.restored = append(k.restored, c)
	}
	return nil
}

// encodeCommittable and decodeCommittable are the operator-state form of a
// committable: the id of the checkpoint that prepared it (8 bytes, big
// endian), then its data.
func encodeCommittable(c committable) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(c.id)), c.data...)
}

func decodeCommittable(e []byte) (committable, error) {
	if len(e) < 8 {
		return committable{}, errors.New("corrupt committable in restored sink state")
	}
	return committable{id: int64(binary.BigEndian.Uint64(e)), data: e[8:]}, nil
}

// SnapshotState implements OperatorStateHook: prepare, and record every
// committable not yet committed.
func (k *sinkOp[T]) SnapshotState(id int64) ([][]byte, error) {
	if k.sw == nil {
		return nil, nil
	}
	c, err := k.sw.Prepare(id)
	if err != nil {
		return nil, err
	}
	if c != nil {
		k.pending = append(k.pending, committable{id: id, data: c})
	}
	out := make([][]byte, len(k.pending))
	for i, p := range k.pending {
		out[i] = encodeCommittable(p)
	}
	return out, nil
}

// NotifyCheckpointComplete implements CheckpointListener: commit what the
// checkpoint (and earlier ones) staged — or, with a global committer, which
// has committed it before the notice, forget it.
func (k *sinkOp[T]) NotifyCheckpointComplete(id int64) error {
	if k.sw == nil {
		return nil
	}
	n := 0
	for n < len(k.pending) && k.pending[n].id <= id {
		n++
	}
	if n == 0 {
		return nil
	}
	if k.cw != nil {
		if err := k.cw.Commit(datas(k.pending[:n])); err != nil {
			return err
		}
	}
	k.pending = k.pending[n:]
	return nil
}

func (k *sinkOp[T]) ProcessBatch(b []Record[T]) error { return k.w.Write(b) }

func (k *sinkOp[T]) EndInput() error {
	if h, ok := k.w.(EndInputHook); ok {
		if err := h.EndInput(); err != nil {
			return err
		}
	}
	if k.ctx.inst.task.cfg.Checkpoint.storage() != nil {
		return nil
	}
	// No checkpoints: the end of a bounded input is the only point where
	// the output is known to be complete.
	var c []byte
	if k.sw != nil {
		var err error
		if c, err = k.sw.Prepare(0); err != nil {
			return err
		}
	}
	if k.gc != nil {
		// The last subtask to end commits everyone's.
		return k.gc.endInput(k.ctx.inst.task.ctx, k.ctx.subtask, c)
	}
	if k.cw == nil || c == nil {
		return nil
	}
	return k.cw.Commit([][]byte{c})
}

func (k *sinkOp[T]) Close() error {
	if k.w == nil {
		return nil
	}
	return k.w.Close()
}

type funcSink[T any] func(T) error

func (f funcSink[T]) Open(context.Context, SinkInfo) (SinkWriter[T], error) { return f, nil }

func (f funcSink[T]) Close() error { return nil }

func (f funcSink[T]) Write(b []Record[T]) error {
	for i := range b {
		if err := f(b[i].Value); err != nil {
			return err
		}
	}
	return nil
}
