package consumer

import (
	"context"
	"time"
)

// Record is a record as the processor gets it.
type Record struct {
	SequenceNumber string
	// SubSequenceNumber numbers the user records of one KPL aggregate
	// (set by a Transform that de-aggregates; 0 otherwise).
	SubSequenceNumber           int64
	PartitionKey                string
	ExplicitHashKey             string
	Data                        []byte
	ApproximateArrivalTimestamp time.Time
	// Aggregated is set by a Transform for user records of an aggregate.
	Aggregated bool
}

// ExtendedSequenceNumber is the record's position.
func (r *Record) ExtendedSequenceNumber() ExtendedSequenceNumber {
	return ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber}
}

// RecordProcessor processes one shard's records while its worker holds
// the shard's lease (KCL 2.x's ShardRecordProcessor). The calls for one
// lease come from one goroutine, in order: Initialize, ProcessRecords any
// number of times, then exactly one of ShardEnded, LeaseLost and
// ShutdownRequested. An error returned ends the processing of the shard
// on this worker (reported through Config.OnError and the logger); the
// lease is released, and the shard resumes from its checkpoint.
type RecordProcessor interface {
	Initialize(InitializationInput) error
	ProcessRecords(ProcessRecordsInput) error
	// LeaseLost: another worker holds the shard now; checkpointing is
	// no longer possible.
	LeaseLost(LeaseLostInput) error
	// ShardEnded: every record of the shard was delivered; the processor
	// must checkpoint (Checkpointer.Checkpoint) so that its children can
	// be processed.
	ShardEnded(ShardEndedInput) error
	// ShutdownRequested: the worker is shutting down or handing the
	// lease to another worker to balance the load; the processor may
	// checkpoint.
	ShutdownRequested(ShutdownRequestedInput) error
}

// InitializationInput is Initialize's.
type InitializationInput struct {
	ShardID string
	// ExtendedSequenceNumber is the lease's checkpoint: a record's
	// position or a sentinel (TrimHorizon, Latest, AtTimestamp).
	ExtendedSequenceNumber ExtendedSequenceNumber
}

// ProcessRecordsInput is ProcessRecords'.
type ProcessRecordsInput struct {
	Context            context.Context
	ShardID            string
	Records            []Record
	MillisBehindLatest int64
	Checkpointer       Checkpointer
}

// LeaseLostInput is LeaseLost's.
type LeaseLostInput struct {
	ShardID string
}

// ShardEndedInput is ShardEnded's.
type ShardEndedInput struct {
	Context      context.Context
	ShardID      string
	Checkpointer Checkpointer
}

// ShutdownRequestedInput is ShutdownRequested's.
type ShutdownRequestedInput struct {
	Context      context.Context
	ShardID      string
	Checkpointer Checkpointer
}

// Checkpointer records how far a shard is processed (KCL's
// RecordProcessorCheckpointer). A checkpoint is written to the lease
// table only while this worker still holds the lease: otherwise it fails
// with ErrLeaseLost, so that two processors never checkpoint one shard.
type Checkpointer interface {
	// Checkpoint records the last record delivered to the processor (in
	// ShardEnded: the end of the shard).
	Checkpoint(ctx context.Context) error
	// CheckpointAt records pos, which must lie between the current
	// checkpoint and the last record delivered.
	CheckpointAt(ctx context.Context, pos ExtendedSequenceNumber) error
}
