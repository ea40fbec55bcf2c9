// Package shardlog is Sluice's built-in sharded log: durable streams of
// shards in the Kinesis Data Streams model, used in process through Log (no
// network), and served to unchanged AWS SDKs and the AWS CLI by the
// sub-package kinesisapi.
//
// # Model
//
// A stream is a set of shards, each owning an inclusive range of the 128-bit
// hash key space. A record's hash key is the MD5 of its partition key read
// as an unsigned big-endian integer, or its ExplicitHashKey; the open shard
// whose range holds it stores it. A new stream of N shards splits the space
// as Kinesis does: each range floor(2^128/N) wide, the last ending at
// 2^128-1. Shard ids are shardId-000000000000, shardId-000000000001, ...
// Sequence numbers are decimal strings, strictly increasing within a shard
// (see SequenceNumber). SplitShard, MergeShards and UpdateShardCount close
// shards and open children with parent links; a closed shard stays readable
// until its retention ends, and reading it to its end yields its children.
//
// # Durability
//
// Each shard is a segmented, checksummed log on disk (internal/storage;
// docs/shardlog-format.md). A put is acknowledged once fsynced (SyncAlways,
// the default); concurrent puts to a shard share one write and one fsync.
// After a crash, Open cuts torn tails and keeps every acknowledged record.
//
// # Time
//
// Everything time-dependent (arrival timestamps, retention, iterator
// expiry, throttling windows, subscription lifetimes, status transitions)
// reads Options.Clock, so tests drive it with a ManualClock.
//
// # Concurrency and blocking
//
// A *Log and all its methods are safe for concurrent use. PutRecord and
// PutRecords block until durable. ShardReader.Read with wait and
// Subscription.Next block until data arrives, the shard closes, or their
// context ends. ShardReader and Subscription are single-goroutine handles.
// Records returned by a read alias the reader's buffer and stay valid until
// its next read: the read path does not allocate per record.
//
// # Errors
//
// Refusals are *Error values: a Code, the Kinesis error name a client
// matches on (compare with errors.Is against ErrResourceNotFound,
// ErrInvalidArgument, ErrThroughputExceeded, ...; CodeOf maps any error to
// one, InternalFailure for I/O errors), a Reason saying precisely what was
// refused, and the facts of the case (stream, shard, the value given, the
// limit). Error() is a message for Go programs. The service's own message
// texts, and the AWS validation of request shapes, are kinesisapi's: it
// renders them from these facts, so they live in one place.
//
// # Shard iterators
//
// GetShardIterator returns a ShardIterator value (stream, its creation
// time, position, issue time) and GetRecords reads from one; turning it
// into the signed token a Kinesis client holds is kinesisapi's, with the
// key IteratorKey returns (kept in the directory, so tokens survive a
// restart).
//
// # Engine connectors
//
// The engine source and sink of the log are in the sub-package shardconn;
// the Kinesis wire server is kinesisapi. This package imports neither, nor
// the engine, the state package or Pebble (kinesisapi's deps_test.go
// checks its dependencies, and so this package's).
//
// The API connectors are built on: ListShards gives every shard with
// its lineage (ParentShardID, AdjacentParentShardID, Parents) and hash
// range; NewShardReader reads one shard from any start position in
// batches, blocking for new data under a context, and reports ShardEnded
// with ChildShards when a closed shard is exhausted; ShardReader.Position
// is the checkpointable position; PutRecords returns per-record results
// (throttled records carry ProvisionedThroughputExceededException, see
// IsRetryable). Throughput limits are off unless Options.Limits is set.
package shardlog
