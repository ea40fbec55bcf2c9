// Package storage is the on-disk log of one shard: an append-only sequence of
// segment files holding checksummed record batches, with group-commit fsync,
// sparse in-memory indexes by offset and by arrival time, retention trimming
// by whole segments, and crash recovery that cuts torn tails — and only
// those: anything else that fails its checks is damage, recorded, reported
// and left for Repair (damage.go).
//
// The format is described in docs/shardlog-format.md (segment format 1,
// and 2 for a repaired segment that holds a gap).
//
// Offsets are dense per shard: the first record ever appended has offset 0,
// and every record gets the next one. The Kinesis model above this package
// turns offsets into sequence numbers.
//
// Concurrency: a *Shard is safe for concurrent use. Append blocks until the
// batch is durable (SyncAlways) or written to the OS (SyncNone); concurrent
// appenders share one write and one fsync (leader/follower group commit, no
// background goroutine). Readers never block writers: they read only the
// committed prefix, whose end only grows. Wait blocks until the committed end
// passes an offset, the context ends or the shard is closed.
//
// Ownership: records returned by Read alias the ReadBuf passed in and stay
// valid until that ReadBuf is passed to Read again.
package storage
