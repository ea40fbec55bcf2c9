// Package kafka is the engine's connector to Kafka and Kafka-compatible logs
// (Redpanda, MSK) through github.com/twmb/franz-go.
//
// The Source reads topics, or every topic a regular expression matches, as
// Flink's KafkaSource does: each partition is a split, discovered by a split
// coordinator (and again periodically, so new partitions and topics are
// picked up), assigned to the subtask its topic and partition hash to. A
// fresh start reads from the earliest offsets, the latest, the first offset
// at or after a timestamp, the consumer group's committed offsets or offsets
// given per partition; the coordinator turns each of these into a concrete
// offset when it first sees a partition, so a restart before the first
// checkpoint reads from the same place. The next offset of every partition
// is part of Sluice's checkpoints; a job restores at any parallelism. Offsets
// are committed to the consumer group (if one is named) only after a
// checkpoint completes, for monitoring: Sluice never reads them back except
// for the group-offsets start mode. Records are read with read_committed
// isolation unless told otherwise. A record's source timestamp is its Kafka
// timestamp; every partition has its own watermark and idleness.
//
// The Sink writes with an idempotent producer and flushes at every
// checkpoint barrier (at-least-once), or, exactly-once, in one Kafka
// transaction per checkpoint and subtask: the writer flushes the
// transaction at the barrier and leaves it open; the sink's global
// committer commits it (EndTxn with the producer id and epoch recorded in
// the checkpoint) once the checkpoint is complete, and commits it again,
// idempotently, after a restore. See sink.go for the transactional ids and
// the recovery of what a failed attempt left open.
//
// The package links franz-go; the engine, operators and state never do
// (internal/layers).
package kafka
