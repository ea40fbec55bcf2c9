package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Checkpoint sentinels, as KCL's ExtendedSequenceNumber names them: where
// a shard's lease says processing starts when it holds no sequence number.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
	// ShardEnd is the checkpoint of a shard processed to its end: its
	// children may be leased.
	ShardEnd = "SHARD_END"
)

// ExtendedSequenceNumber is a position in a shard: a record's sequence
// number and, for a user record de-aggregated from a KPL record, its
// sub-sequence number (0 otherwise). SequenceNumber may instead be one of
// the sentinels TrimHorizon, Latest, AtTimestamp and ShardEnd.
type ExtendedSequenceNumber struct {
	SequenceNumber    string `json:"seq"`
	SubSequenceNumber int64  `json:"sub,omitempty"`
}

func (e ExtendedSequenceNumber) String() string {
	if e.SubSequenceNumber == 0 {
		return e.SequenceNumber
	}
	return e.SequenceNumber + "." + strconv.FormatInt(e.SubSequenceNumber, 10)
}

// IsSentinel reports whether e names a position rather than a record.
func (e ExtendedSequenceNumber) IsSentinel() bool {
	switch e.SequenceNumber {
	case TrimHorizon, Latest, AtTimestamp, ShardEnd, "":
		return true
	}
	return false
}

// compareSeq orders two decimal sequence numbers (no leading zeros).
func compareSeq(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// Compare orders two record positions (neither a sentinel).
func (e ExtendedSequenceNumber) Compare(o ExtendedSequenceNumber) int {
	if c := compareSeq(e.SequenceNumber, o.SequenceNumber); c != 0 {
		return c
	}
	switch {
	case e.SubSequenceNumber < o.SubSequenceNumber:
		return -1
	case e.SubSequenceNumber > o.SubSequenceNumber:
		return 1
	}
	return 0
}

// validSeq reports whether s is a decimal sequence number.
func validSeq(s string) bool {
	if s == "" || len(s) > 128 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Lease is one shard's row of the lease table, as KCL keeps it: who holds
// the shard, a counter its holder increments on every renewal (others see
// it expire when the counter stops moving for the failover time), the
// checkpoint, and the shard's parents, which must reach ShardEnd before
// the shard is leased.
type Lease struct {
	ShardID    string                 `json:"shardId"`
	Owner      string                 `json:"owner,omitempty"`
	Counter    int64                  `json:"counter"`
	Checkpoint ExtendedSequenceNumber `json:"checkpoint"`
	// ParentShardIDs are ListShards' ParentShardId and
	// AdjacentParentShardId.
	ParentShardIDs []string `json:"parents,omitempty"`
	// OwnerSwitchesSinceCheckpoint counts the owner changes since the
	// last checkpoint (KCL's column of the same name).
	OwnerSwitchesSinceCheckpoint int64 `json:"ownerSwitches,omitempty"`
	// PendingOwner is a worker that asked to take the lease over to
	// balance the load: the owner hands it over at its next renewal,
	// once its processor has stopped, so that two processors never work
	// on the shard at once.
	PendingOwner string `json:"pendingOwner,omitempty"`

	// Revision is the store's version of the row, set by List, Create
	// and Update: Update succeeds only if the row is still at it.
	Revision int64 `json:"-"`
}

// Finished reports whether the lease's shard is processed to its end.
func (l *Lease) Finished() bool { return l.Checkpoint.SequenceNumber == ShardEnd }

// ErrLeaseExists is Create's answer for a shard that has a lease already.
var ErrLeaseExists = errors.New("lease exists")

// ErrRevisionChanged is Update's answer when the row changed since it was
// read: another worker wrote it.
var ErrRevisionChanged = errors.New("lease changed since it was read")

// ErrLeaseNotFound is Update's answer for a shard without a lease.
var ErrLeaseNotFound = errors.New("lease not found")

// LeaseStore is the lease table of one application (one consumer name over
// one stream): rows changed only by compare-and-swap on their revision.
// Implementations: LocalStore (processes on one machine) and EtcdStore.
// They are safe for concurrent use by several goroutines and processes.
type LeaseStore interface {
	// List returns every lease, each with its current revision.
	List(ctx context.Context) ([]Lease, error)
	// Create stores a new lease (ErrLeaseExists if its shard has one) and
	// returns it with its revision.
	Create(ctx context.Context, l Lease) (Lease, error)
	// Update replaces the lease of l.ShardID if its revision is still
	// l.Revision (ErrRevisionChanged otherwise, ErrLeaseNotFound if there
	// is none) and returns it with its new revision.
	Update(ctx context.Context, l Lease) (Lease, error)
	// Close releases the store's resources.
	Close() error
}

// ErrLeaseLost is the error of a checkpoint by a processor whose worker no
// longer holds the shard's lease (KCL's ShutdownException): the shard is
// someone else's now and the processor must stop.
var ErrLeaseLost = errors.New("can't update checkpoint - instance doesn't hold the lease for this shard")

func leaseLost(shard string, why error) error {
	return fmt.Errorf("shard %s: %w (%w)", shard, ErrLeaseLost, why)
}
