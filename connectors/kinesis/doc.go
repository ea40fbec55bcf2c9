// Package kinesis is the engine's connector to any Kinesis Data Streams
// endpoint through the AWS SDK for Go v2: the real service, or Sluice's own
// wire server (connectors/shardlog/kinesisapi), or any other
// Kinesis-compatible endpoint.
//
// The Source reads a stream as Flink's Kinesis source does: each shard is a
// split, discovered with ListShards by a split coordinator, read with
// GetShardIterator and GetRecords polling, a child shard only after its
// parents (ParentShardId, AdjacentParentShardId) have been read to their
// end. Each shard's last sequence number is checkpointed; a job restores at
// any parallelism and resumes each shard AFTER_SEQUENCE_NUMBER. With
// engine checkpoints and a replaying pipeline the job's output is
// exactly-once.
//
// The Sink writes with PutRecords in batches of up to 500 records and
// 5 MiB, retries the records a call refuses (throttling, internal
// failures), and flushes at every checkpoint barrier: at-least-once, as
// Flink's Kinesis sink.
//
// KPL-aggregated records (connectors/kpl) are de-aggregated by the Source
// into user records with sub-sequence numbers (a checkpoint inside an
// aggregate resumes AT_SEQUENCE_NUMBER and skips the user records already
// emitted); the Sink aggregates on request (SinkOptions.Aggregate), and
// KPLPutRecords and KPLListShards put a kpl.Producer over the SDK.
//
// The package links the AWS SDK; the engine, operators and state never do
// (internal/layers).
package kinesis
