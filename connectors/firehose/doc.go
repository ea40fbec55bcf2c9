// Package firehose is Sluice's Firehose-style delivery: records are
// buffered per partition until a size or time hint is reached, optionally
// transformed through the Lambda contract, partitioned by keys computed
// with expr-lang expressions, converted to Parquet or written as raw bytes
// or JSON lines, compressed, and written to S3 (any S3-compatible
// endpoint), a local directory or an HTTP endpoint, under prefixes in
// Firehose's expression language (package prefix). Records that fail go,
// as Firehose's JSON error documents, to the error prefix; deliveries that
// keep failing go to the backup destination or are kept and retried:
// nothing is dropped silently.
//
// Shape:
//
//   - Core is deterministic: records and the clock's time are its inputs,
//     full or due buffers its outputs. No I/O, no goroutines, no wall
//     clock, so buffering rules are tested without sleeping.
//   - Stream is the I/O shell around a Core. Put, Tick, Flush and StageAll
//     are serialised by a mutex and do their deliveries inline: a call
//     that makes buffers due blocks until they are written, which is the
//     stream's backpressure. Only Run (optional) loops, on the caller's
//     goroutine, to deliver by interval.
//   - ObjectStore is two-phase: Stage (an uncompleted S3 multipart upload,
//     or a hidden temporary file beside the final one), then Commit or
//     Abort. Staged handles are serialisable, survive the process and are
//     idempotent to commit or abort. The Firehose path (Put, Tick, Flush)
//     is at-least-once, as AWS's is, and stages and commits at once.
//   - Sink is an engine sink (one Stream per subtask) that is exactly once
//     in a job with checkpoints: objects are staged as their buffers come
//     due, committed when the checkpoint after them completes, and what an
//     earlier attempt staged after its last completed checkpoint is found
//     through a staging journal and aborted. Sink's doc states the
//     latency this implies (one checkpoint interval) and how to tune it.
//     Without checkpoints it delivers at least once, as Firehose does.
//
// Where Firehose is vague, Sluice's choices are documented on the
// fields: object names use the oldest record's arrival time (as the
// prefix does); error documents are newline-delimited JSON objects,
// uncompressed, named like data objects without an extension; a transform
// is invoked per Put call (split by Processing.BufferSizeInMBs) rather
// than on a separate Lambda buffer; dynamic partitioning failures and
// active-partition overflow use the error-output type
// "partitioning-failed"; an object delivery that keeps failing for the
// retry duration writes its records to the backup's error prefix as
// "delivery-failed" documents (Firehose retries S3 for 24 hours).
package firehose
