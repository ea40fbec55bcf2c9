// Package engine is Sluice's stream-processing runtime: a typed DataStream
// API, the planner that turns a job's logical graph into tasks, the task
// runtime with its exchanges, event time, and (see checkpoint.go)
// checkpoints and recovery.
//
// # Building a job
//
// A Job is built with generic functions that carry the record type end to
// end — SourceOf, Map, FlatMap, Stream.Filter, Process, KeyBy,
// KeyedProcess, Union, Connect/CoProcess, KeyedCoProcess, SideOutput,
// SinkTo — and low-level Transform/TransformKeyed for custom operators.
// Nothing on the data path is typed `any`: records travel as []Record[T].
// Building records problems; Validate (called by Execute) reports all of
// them, each naming its operator: nil functions, parallelism above the
// maximum, keyed operators on unkeyed inputs, operators without input,
// streams mixed across jobs, cycles, duplicate uids, key types without a
// codec.
//
// # Plan
//
// Every operator has a parallelism (the job's default or its own). An edge
// between operators is forward (subtask i to subtask i), hash (by key group,
// after KeyBy), rebalance (round robin), or broadcast. A forward edge into an
// operator with a single input and the same parallelism is chained: both
// run in one task and records pass by plain method calls. All other edges
// are exchanges: one goroutine per task, and between each sending and each
// receiving subtask a bounded channel that carries batches of records
// (Config.BatchSize) and in-band control events. A full channel blocks its
// sender (backpressure); partly filled batches go out when the sending task
// runs out of input or after Config.BufferTimeout.
//
// # Event time
//
// Each source split has a watermark generator (WatermarkStrategy: bounded
// out-of-orderness, monotonous, custom; an idle timeout). A source subtask's
// watermark is the minimum over its active splits; a task's watermark is
// the minimum over its input channels that are neither idle nor ended (and,
// when all are idle, the largest they reached, as Flink does). Watermarks,
// idleness and end of input travel in-band, in order with the records. A
// bounded source ends with a watermark of MaxTime, so every event-time timer
// fires before the job finishes.
//
// # Keyed state and time
//
// Keys hash to key groups (Config.MaxParallelism, default 128) and key
// groups to subtasks in contiguous ranges. A keyed operator's state lives
// in package state (typed handles over a Store, with a bounded cache) and
// its timers in state's timer queues, per key group, so that both can be
// restored at another parallelism. Operators read processing time from
// Config.Clock, never from time.Now, so tests drive it with a ManualClock (NewManualClock).
// The runtime's own timers (buffer timeout, checkpoint interval and
// timeout, restart delay) read the same clock.
//
// # Failure
//
// A function's error or panic fails the job with an *OperatorError naming
// the operator and subtask; the first failure cancels every task, and every
// goroutine of the job has stopped when Execute returns.
//
// # Split coordinators and global committers
//
// Two parts of a job run once per attempt rather than once per subtask. A
// SplitSource's SplitCoordinator (splits.go) discovers the source's splits
// and assigns them to its readers, hears their events and requests, and
// snapshots in one step with triggering the readers' checkpoint; on
// restore it gets its state and every reader's position back and assigns
// anew, at any parallelism, which is where ordering rules such as parents
// before children live. A GlobalCommitSink's GlobalCommitter (commit.go)
// commits the staged output of all the sink's subtasks once per completed
// checkpoint, commits the restored checkpoint again and cleans up before
// any writer of an attempt opens, and commits at the end of a bounded input
// without checkpoint storage. docs/checkpoints.md has the details.
//
// # Testing
//
// Harness drives a single operator instance with records, watermarks and
// processing time, with no goroutines (SplitCoordinatorHarness does the
// same for a split coordinator); FromSlice, FromRecords and Collect
// are a bounded source and a collecting sink for job-level tests.
//
// # Where things are
//
//	api.go, keyed.go, operator.go  the user API: streams, operators, keyed
//	                               streams and state, side outputs
//	record.go, clock.go            records and their times; the clock's
//	                               names in the engine (internal/clock)
//	config.go, errors.go           a job's settings; its errors
//	metrics.go                     counters and a running job's metrics
//	graph.go                       the job graph and planning (chains,
//	                               parallelism, exchanges)
//	execute.go, restart.go         running a job: attempts, restarts, Cancel
//	task.go                        a task's loop: open, run the source or
//	                               the input gate, mailbox (triggers,
//	                               completions, splits), processing-time
//	                               callbacks, finish
//	runtime.go                     an operator instance in its chain: calls,
//	                               errors, outputs and fan-out, control
//	                               events; the source instance
//	exchange.go                    channels between tasks: in-band events,
//	                               batches, partitioning writers, the input
//	                               gate and its channels
//	remote_exchange.go             ExchangeTransport: exchange channels
//	                               across processes (engine/netexchange),
//	                               the frames of batches and control events,
//	                               codecs required of exchanged streams
//	source.go, splits.go           sources and their readers; split
//	                               coordinators
//	barrier.go                     the task side of a checkpoint: alignment
//	                               and snapshot
//	coordinator.go                 the checkpoint coordinator
//	checkpoint.go                  the protocol and the interfaces operators
//	                               implement to take part
//	checkpoint_storage.go          where checkpoints live
//	checkpoint_remote.go           the seam of object-store storages: tasks
//	                               upload their snapshots, acknowledgements
//	                               carry the objects
//	restore.go                     restoring them: the restore plan, keyed
//	                               stores opened from it
//	sink.go, commit.go             sinks: their interfaces, SinkTo, the sink
//	                               runtime (staging, commit); global
//	                               committers
//	harness.go, testkit.go         testing one operator; test sources and sinks
//
// # Concurrency
//
// A Job is built by one goroutine. Operators and user functions are called
// from their task's goroutine only; each parallel instance gets its own copy
// of a function value (see Process). A split coordinator is called from a
// goroutine of its own, a global committer from one goroutine at a time.
// Running.Metrics may be called from any goroutine.
package engine
