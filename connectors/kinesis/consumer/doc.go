// Package consumer is a consumer library for Go applications in the spirit
// of the Kinesis Client Library 2.x: a Consumer processes a stream's shards
// together with the other workers (processes, machines) that share its
// lease table, through the AWS SDK for Go v2's Kinesis client, so that it
// runs unchanged against `sluice log serve` and against Kinesis.
//
// # Leases
//
// The lease table (LeaseStore) has one row per shard: owner, a counter,
// the checkpoint, the parent shards, and a pending owner. Every change is a
// compare-and-swap on the row's revision. LocalStore keeps the table in a
// directory for the processes of one machine (flock and an atomic,
// durable replace of one file); EtcdStore keeps it in etcd (transactions
// on each key's mod revision) for workers on several machines.
//
// As in KCL, a worker renews its leases by incrementing their counters
// every FailoverTime/3 - Epsilon, and another worker considers a lease
// expired when its counter has not moved for FailoverTime on that
// worker's own clock since it first saw the value — no clocks are compared
// across machines. Each taking cycle ((FailoverTime + Epsilon) * 2 apart)
// a worker takes free and expired leases up to ceil(leases / workers);
// with none free, it asks the most loaded worker for one
// (MaxLeasesToStealAtOneTime) by setting the row's pending owner. The
// owner hands the lease over at its next renewal, after its processor got
// ShutdownRequested (and could checkpoint), so a balancing move never has
// two processors on one shard.
//
// The invariant that no two processors work on one shard at once: a
// worker delivers a batch only while less than FailoverTime - Epsilon has
// passed since it sent its last successful renewal, which is before any
// other worker can see the lease expire; and every checkpoint is a
// compare-and-swap on the revision the worker last wrote, so a checkpoint
// by a worker whose lease was taken fails with ErrLeaseLost (KCL's
// ShutdownException) and its processor gets LeaseLost. (A processor still
// inside a ProcessRecords call when its lease ends is not interrupted; its
// checkpoints fail.)
//
// # Shards
//
// Leases are created from ListShards (at the start, every
// ShardSyncInterval, and when a shard ends), parents before children with
// ParentShardId and AdjacentParentShardId; a child is leased only when its
// parents' checkpoints are SHARD_END, which the parent's processor writes
// in ShardEnded. A shard whose parent has a lease starts at TRIM_HORIZON;
// others at InitialPositionInStream (under LATEST, closed shards are
// skipped). Finished leases stay in the table.
//
// Records are read by polling (GetRecords, IdleTimeBetweenReads apart, up
// to MaxRecords) or by enhanced fan-out (RegisterStreamConsumer, then
// SubscribeToShard per shard, resubscribing from the last continuation
// sequence number when a subscription ends). SubscribeToShard needs an
// HTTP/2 client on Kinesis; over HTTP/1.1 the SDK's event-stream
// connections to the log's server were seen to break now and then, which
// the consumer survives by subscribing again.
//
// A processing restart resumes at the checkpoint's sequence number (AT,
// not AFTER) and drops the records at or before the checkpoint's extended
// sequence number, so that a checkpoint inside a KPL aggregate resumes
// after that user record. Records in the KPL's aggregated format are
// de-aggregated by default (connectors/kpl), as the KCL does: user records
// carry the aggregate's sequence number and their sub-sequence numbers; a
// corrupt aggregate is delivered whole and logged. Config.KeepAggregates
// turns it off, and a Config.Transform replaces it.
package consumer
