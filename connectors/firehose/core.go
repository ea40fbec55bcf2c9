package firehose

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Record is one input record.
type Record struct {
	// Data is the payload. The stream keeps a reference to it until the
	// record is delivered: callers must not modify it after Put.
	Data []byte
	// ArrivalTime is the approximate arrival time (Firehose's
	// approximateArrivalTimestamp). Prefixes are evaluated at the oldest
	// arrival time of an object's records. Zero means "now" by the
	// stream's clock.
	ArrivalTime time.Time
	// PartitionKey is the source's partition key, if any (a shardlog or
	// Kinesis record's); it is passed to transforms as metadata.
	PartitionKey string
	// SequenceNumber is the source position, if any; it appears in error
	// documents.
	SequenceNumber string
	// ShardID is the source shard, if any. SubSequenceNumber names a user
	// record of a KPL aggregate (Aggregated), which a stream source
	// de-aggregates as Firehose does; both go to transforms as
	// kinesisRecordMetadata, the sub-sequence number to error documents.
	ShardID           string
	SubSequenceNumber uint64
	Aggregated        bool
}

// Keys are a record's partition key values.
type Keys struct {
	Query  map[string]string
	Lambda map[string]string
}

// id is a canonical string for a set of keys (the buffer identity).
func (k Keys) id() string {
	if len(k.Query) == 0 && len(k.Lambda) == 0 {
		return ""
	}
	var sb strings.Builder
	for _, m := range []map[string]string{k.Query, k.Lambda} {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sb.WriteString(n)
			sb.WriteByte(0)
			sb.WriteString(m[n])
			sb.WriteByte(0)
		}
		sb.WriteByte(1)
	}
	return sb.String()
}

// Buffer is the records of one partition waiting for delivery.
type Buffer struct {
	Keys    Keys
	Records []Record
	// Bytes is the sum of the records' data sizes (before compression).
	Bytes int64
	// Oldest is the earliest record arrival time in the buffer.
	Oldest time.Time
	// Opened is the clock time at which the first record was added: the
	// buffering interval runs from it.
	Opened time.Time
}

// Core is the deterministic buffering state of a delivery stream: a buffer
// per partition, delivered when its size reaches the size hint or its age
// the interval hint. It does no I/O and reads no clock: time is an input.
// It is not safe for concurrent use.
type Core struct {
	sizeLimit     int64
	interval      time.Duration
	maxPartitions int
	bufs          map[string]*Buffer
}

// NewCore returns a core with the given hints. maxPartitions ≤ 0 means no
// limit.
func NewCore(sizeLimit int64, interval time.Duration, maxPartitions int) *Core {
	return &Core{sizeLimit: sizeLimit, interval: interval, maxPartitions: maxPartitions, bufs: map[string]*Buffer{}}
}

// Add buffers rec under keys at clock time now. It returns the buffer if
// the record made it reach the size hint (the buffer is then removed from
// the core and owned by the caller), and overflow=true, without buffering
// the record, when it would open a partition beyond the active-partition
// limit.
func (c *Core) Add(now time.Time, keys Keys, rec Record) (full *Buffer, overflow bool) {
	id := keys.id()
	b := c.bufs[id]
	if b == nil {
		if c.maxPartitions > 0 && len(c.bufs) >= c.maxPartitions {
			return nil, true
		}
		b = &Buffer{Keys: keys, Opened: now, Oldest: rec.ArrivalTime}
		c.bufs[id] = b
	}
	b.Records = append(b.Records, rec)
	b.Bytes += int64(len(rec.Data))
	if rec.ArrivalTime.Before(b.Oldest) {
		b.Oldest = rec.ArrivalTime
	}
	if b.Bytes >= c.sizeLimit {
		delete(c.bufs, id)
		return b, false
	}
	return nil, false
}

// Due removes and returns the buffers whose interval has elapsed at now,
// oldest first.
func (c *Core) Due(now time.Time) []*Buffer {
	var out []*Buffer
	for id, b := range c.bufs {
		if now.Sub(b.Opened) >= c.interval {
			out = append(out, b)
			delete(c.bufs, id)
		}
	}
	sortBuffers(out)
	return out
}

// Drain removes and returns every buffer, oldest first.
func (c *Core) Drain() []*Buffer {
	out := make([]*Buffer, 0, len(c.bufs))
	for id, b := range c.bufs {
		out = append(out, b)
		delete(c.bufs, id)
	}
	sortBuffers(out)
	return out
}

// NextDeadline returns when the earliest buffer becomes due.
func (c *Core) NextDeadline() (time.Time, bool) {
	var t time.Time
	for _, b := range c.bufs {
		if d := b.Opened.Add(c.interval); t.IsZero() || d.Before(t) {
			t = d
		}
	}
	return t, !t.IsZero()
}

// Active returns the number of open partition buffers.
func (c *Core) Active() int { return len(c.bufs) }

// Buffered returns the number of buffered records.
func (c *Core) Buffered() int {
	n := 0
	for _, b := range c.bufs {
		n += len(b.Records)
	}
	return n
}

func sortBuffers(bs []*Buffer) {
	slices.SortFunc(bs, func(a, b *Buffer) int {
		if c := a.Opened.Compare(b.Opened); c != 0 {
			return c
		}
		return strings.Compare(a.Keys.id(), b.Keys.id())
	})
}
