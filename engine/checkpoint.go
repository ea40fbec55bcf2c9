package engine

// Checkpoints follow Flink's aligned checkpoints (Chandy–Lamport for
// DAGs). The coordinator asks every source task to start checkpoint n; a
// source records its position and sends barrier n down every output, in
// order with its records. A task with several input channels holds back each
// channel that delivered barrier n until all have (alignment), so its state
// reflects exactly the records before the barrier on every input; then each
// of its operators snapshots (operator state synchronously, keyed state by
// a quick store snapshot whose files are written on another goroutine) and
// the barrier moves on. When every task has acknowledged, the coordinator
// writes the manifest, which makes the checkpoint complete, and tells every
// operator, so that sinks commit what they staged for it (two-phase commit).
//
// A task whose input has ended cannot receive barriers any more; it waits,
// and the coordinator asks it to snapshot directly: its state is final. When
// every task's input has ended, a last checkpoint is taken and committed
// before the job finishes, so that a bounded job's output is complete.
//
// Where each part lives: this file holds the interfaces operators and
// sources implement to take part; coordinator.go the checkpoint coordinator
// (trigger, acknowledgements, completion, timeout, the manifest);
// barrier.go the task side (alignment of barriers over several input
// channels, and the snapshot of a task's operators and keyed state);
// checkpoint_storage.go the storage of checkpoints and savepoints;
// restore.go reading them back; sink.go and commit.go the sink runtime
// (staging at barriers, commit on completion, global committers); splits.go
// the split coordinators whose state rides in the same checkpoints.

// OperatorStateHook is implemented by operators with non-keyed state: the
// engine calls InitializeState before Open (with nil on a fresh start, or
// this subtask's share of the restored entries) and SnapshotState at every
// checkpoint barrier. When restored at another parallelism, the entries of
// all old subtasks are dealt round robin to the new ones.
type OperatorStateHook interface {
	InitializeState(restored [][]byte) error
	SnapshotState(checkpointID int64) ([][]byte, error)
}

// CheckpointListener is implemented by operators that act when a
// checkpoint completes (two-phase-commit sinks commit then).
type CheckpointListener interface {
	NotifyCheckpointComplete(checkpointID int64) error
}

// SourcePosition is one subtask's position in a source, as its reader
// snapshotted it.
type SourcePosition struct {
	Subtask     int
	Parallelism int
	Data        []byte
}
