package shardlog

import "time"

// This file is the part of the API that exists for connectors built on the
// log (connectors/shardlog/shardconn): what an engine source needs beyond
// ListShards and ShardReader to follow a stream's lineage and to wait on
// many shards at once. Embedded programs may use it too.

// Lineage is a consistent view of a stream's retained shards: their
// lineage and how far each holds records, taken under one lock.
type Lineage struct {
	// StreamCreated tells this stream apart from an earlier one of the
	// same name (millisecond precision, as stored).
	StreamCreated time.Time
	// Shards are every retained shard, in shard index order.
	Shards []ShardState
}

// ShardState is one shard of a Lineage.
type ShardState struct {
	Index uint32
	ID    string
	// Parents are the indexes of every parent the log still has a record
	// of (ShardInfo.Parents), in order.
	Parents []uint32
	Closed  bool
	// End is the position after the shard's last record: its end once
	// closed, the committed end of an open shard. It is a SequenceNumber
	// Pos: AFTER_SEQUENCE_NUMBER {Index, End} reads what comes next.
	End uint64
}

// Lineage returns the stream's retained shards with their lineage and
// current ends. It does not block on I/O.
func (l *Log) Lineage(ref StreamRef) (Lineage, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return Lineage{}, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.readableLocked(now); err != nil {
		return Lineage{}, err
	}
	out := Lineage{StreamCreated: time.UnixMilli(st.created.UnixMilli()), Shards: make([]ShardState, 0, len(st.shards))}
	for _, sh := range st.shards {
		v := ShardState{Index: sh.idx, ID: sh.id, Closed: sh.closed, End: sh.log.Next()}
		if sh.closed {
			v.End = sh.end
		}
		for _, p := range sh.parents {
			if idx, ok := ParseShardID(p); ok {
				v.Parents = append(v.Parents, idx)
			}
		}
		out.Shards = append(out.Shards, v)
	}
	return out, nil
}

// HasShard reports whether the stream still has the shard (its retention
// has not ended).
func (l *Log) HasShard(ref StreamRef, shardID string) bool {
	st, err := l.streamRef(ref)
	if err != nil {
		return false
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	_, err = st.shardLocked(shardID)
	return err == nil
}

// WaitChannels lets a caller that reads many shards wait on all of them in
// one select instead of a blocking Read each: data is closed by the next
// append to the shard, closed when the shard closes. When ready is true,
// records past the reader's position had already arrived when the
// channels were taken, and the caller should Read rather than wait.
func (r *ShardReader) WaitChannels() (data, closed <-chan struct{}, ready bool) {
	data = r.sh.log.Notify()
	return data, r.sh.closedCh, r.sh.log.Next() > r.next
}

// ValidateEntry reports the refusal PutRecord would give e for what it
// holds itself, whatever the stream: a partition key of 1 to 256 bytes, a
// record (key and data) of at most 1 MiB, a well-formed explicit hash key.
func ValidateEntry(e *PutEntry) error {
	if err := validatePut(e, 0); err != nil {
		return err
	}
	if e.ExplicitHashKey != "" {
		if _, err := hashOf(e, 0); err != nil {
			return err
		}
	}
	return nil
}
