// Package shardconn is the engine source and sink of Sluice's built-in log
// (connectors/shardlog): it reads and writes the log's streams in jobs.
//
// Source (NewSource, or NewDecodingSource with SourceOfDecoded for typed
// records) reads a stream in a job: every shard is a split with its own
// watermark, shard i is read by subtask i mod parallelism, each shard's
// position is checkpointed and restored at any parallelism, new shards are
// discovered, and a shard starts only after its parents have been read to
// their end (across subtasks, once a completed checkpoint records that
// end), so each partition key's records stay in order across splits and
// merges and across restores. It starts from any iterator type and has a
// bounded mode. Records a decoding source cannot decode go to the
// DecodeErrors side output. Sink writes a stream with batched PutRecords,
// retrying throttled records with backoff; it flushes at every checkpoint
// barrier and is at-least-once. The Source de-aggregates KPL-aggregated
// records (connectors/kpl) into user records with sub-sequence numbers,
// which its checkpointed positions include; the Sink aggregates on request
// (SinkOptions.Aggregate). See their doc comments for the exact
// contracts; the checkpointed position's layout is in
// docs/shardlog-format.md.
//
// # Imports
//
// It imports the engine and the log's exported API (including the part
// the log exports for connectors: Log.Lineage, Log.HasShard,
// ShardReader.WaitChannels, ValidateEntry), never the log's internals, and
// nothing of the Kinesis wire server.
//
// # Concurrency
//
// A Source, DecodingSource or Sink is safe for use by the engine's
// goroutines: each subtask's reader or writer runs on its task's goroutine.
// In a job, the Source is an engine.SplitSource: one split coordinator per
// attempt, on the engine's coordinator goroutine, discovers the shards on
// the job's clock, assigns each to its reader (pending until its parents'
// ends are reported and, across subtasks, committed) and rebuilds itself
// from the readers' restored positions, whose format is unchanged. A
// reader opened outside a job runs a coordinator of its own. A sink writer owns one sender goroutine, stopped by
// Close.
package shardconn
