// Package trigger runs Lambda-style triggers (event source mappings) on
// streams of the built-in log: each trigger reads a stream's shards and
// calls a function with batches of records in the Lambda Kinesis event
// JSON, with Lambda's settings (CreateEventSourceMapping's names, defaults
// and ranges: Config), its error handling (retries, bisecting, partial
// batch responses, maximum record age) and its on-failure records
// (FailureRecord) sent to another stream or a directory.
//
// # Shape
//
// A Trigger is one Config over a Source — the embedded *shardlog.Log by
// default, or KinesisSource for any Kinesis endpoint (the AWS service,
// `sluice log serve`) through the AWS SDK; Run runs it until its context
// ends. A Store keeps definitions under a data directory
// (triggers/NAME.json, positions in triggers/NAME.state/), and a Host runs
// stored triggers and starts and stops them one by one, for `sluice
// trigger run` and for a server that creates and deletes triggers while
// it runs.
//
// # Why not on the engine
//
// A trigger runs as standalone per-shard loops with durable per-shard
// positions (internal/durable), not as an engine job over the log's
// engine source. A function call is the trigger's side effect and its
// only output: there is nothing downstream to make exactly-once, so a
// barrier-aligned snapshot buys nothing over writing a shard's position
// after its batch is done. The engine's checkpoint would also hold a
// shard's position back to the last completed checkpoint while batches
// of the next one are retried, bisected and sent to on-failure, each of
// which Lambda settles per batch and per shard; and ParallelizationFactor
// needs several batches of one shard in flight with the checkpoint at the
// lowest unfinished record, which is a per-shard tracker, not a keyed
// operator. Per-shard loops keep Lambda's semantics direct, start and stop
// in a server without a job graph, read the log and a Kinesis endpoint
// alike, and keep the engine out of the package's imports.
//
// # Delivery
//
// Each shard is read by its own loop from its checkpointed position
// (AFTER_SEQUENCE_NUMBER). A first run stores, before any call, the
// StartingPosition of every shard the stream holds (children included), so
// that a LATEST start resumes where it began; a shard born later (a child
// of a shard the trigger reads) starts at TRIM_HORIZON. A shard starts only after every parent the log still
// holds is finished (parents before children). Its records go to
// ParallelizationFactor lanes by a hash of the partition key; a lane
// collects a batch (BatchSize records, MaximumBatchingWindowInSeconds,
// at most 6 MB of event) and settles it before the next: the function
// succeeds, the batch is retried (MaximumRetryAttempts) or bisected
// (BisectBatchOnFunctionError), the records past the lowest
// batchItemFailures entry are retried (ReportBatchItemFailures), and
// records the trigger gives up on go to the on-failure destination before
// the lane moves on. A shard's checkpoint is the last record before which
// every record is done, written atomically after each batch. So, after a
// crash, the function is called at least once for every record, and a
// record is never called before every earlier record of its shard (of its
// partition key, with a ParallelizationFactor above 1) has been done or
// given up.
//
// Throttles (HTTP 429, an unreachable endpoint, a command that cannot
// start) are retried without counting against MaximumRetryAttempts, as
// Lambda retries errors before invocation, until the records pass
// MaximumRecordAgeInSeconds.
package trigger
