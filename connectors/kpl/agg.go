package kpl

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The KPL's defaults and bounds.
const (
	// DefaultMaxSize is the KPL's AggregationMaxSize: the most bytes of an
	// aggregate (magic, body and MD5).
	DefaultMaxSize = 51200
	// DefaultMaxCount is the KPL's AggregationMaxCount.
	DefaultMaxCount = math.MaxUint32
	// MinMaxSize and MaxMaxSize bound AggregatorOptions.MaxSize, as the
	// KPL bounds AggregationMaxSize.
	MinMaxSize = 64
	MaxMaxSize = 1 << 20
	// AggregatePartitionKey is the partition key of an aggregate of
	// several user records: its explicit hash key places it, and each user
	// record keeps its own partition key inside. The KPL uses the same.
	AggregatePartitionKey = "a"
)

// AggregatorOptions are an Aggregator's limits; zero fields take the
// KPL's defaults.
type AggregatorOptions struct {
	// MaxSize is the most bytes an aggregate may have; default 51200.
	MaxSize int
	// MaxCount is the most user records an aggregate may hold; default
	// 4294967295.
	MaxCount uint64
}

func (o *AggregatorOptions) fill() error {
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxCount == 0 {
		o.MaxCount = DefaultMaxCount
	}
	if o.MaxSize < MinMaxSize || o.MaxSize > MaxMaxSize {
		return fmt.Errorf("kpl: aggregation MaxSize %d is outside [%d, %d]", o.MaxSize, MinMaxSize, MaxMaxSize)
	}
	return nil
}

// Entry is one record to put: an aggregate, or a single user record as it
// is.
type Entry struct {
	PartitionKey    string
	ExplicitHashKey string // "" for a single user record without one
	Data            []byte
	// UserRecords is how many user records the entry holds.
	UserRecords int
	// ShardID is the shard the entry was aggregated for ("" without a
	// shard map).
	ShardID string
}

// Aggregator packs user records into aggregates per predicted shard. It
// is not safe for use by several goroutines at once.
type Aggregator struct {
	opts     AggregatorOptions
	shards   *ShardMap
	builders []*builder // by shard index in the map
	buffered int
}

// builder is one shard's aggregate in progress.
type builder struct {
	shardID  string
	pks      map[string]uint64
	ehks     map[string]uint64
	pkTable  []string
	ehkTable []string
	recs     []byte // the encoded records fields, in order
	tables   int    // encoded size of both tables
	count    uint64
	first    UserRecord // the first user record, its data copied
	firstKey HashKey
}

// NewAggregator returns an aggregator over the open shards of shards. With
// a nil map nothing is aggregated: each user record becomes its own Entry,
// as the KPL does while it knows no shard map.
func NewAggregator(opts AggregatorOptions, shards *ShardMap) (*Aggregator, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	a := &Aggregator{opts: opts}
	a.setShards(shards)
	return a, nil
}

func (a *Aggregator) setShards(m *ShardMap) {
	a.shards = m
	a.builders = make([]*builder, m.Len())
	for i := range a.builders {
		a.builders[i] = &builder{shardID: m.ranges[i].ShardID, pks: map[string]uint64{}, ehks: map[string]uint64{}}
	}
}

// Options returns the aggregator's limits, defaults filled in.
func (a *Aggregator) Options() AggregatorOptions { return a.opts }

// Buffered returns how many user records wait in unfinished aggregates.
func (a *Aggregator) Buffered() int { return a.buffered }

// SetShards flushes every aggregate in progress to dst and aggregates for
// the shards of m from now on (the stream was resharded).
func (a *Aggregator) SetShards(dst []Entry, m *ShardMap) []Entry {
	dst = a.Flush(dst)
	a.setShards(m)
	return dst
}

// Add adds r, appending to dst the entries it completes: the shard's
// aggregate when r does not fit in it (it is then started again with r),
// r alone when it is too big to share an aggregate, the aggregate when it
// reaches MaxCount. r's data is copied. An explicit hash key that is not a
// decimal in [0, 2^128-1] is an error.
func (a *Aggregator) Add(dst []Entry, r UserRecord) ([]Entry, error) {
	h, err := EffectiveHashKey(r.PartitionKey, r.ExplicitHashKey)
	if err != nil {
		return dst, err
	}
	i, _, ok := a.shards.Shard(h)
	if !ok {
		// No shard map, or a hash key no open shard holds (the map is
		// stale): the record goes alone and Kinesis places it.
		return append(dst, single(r, "")), nil
	}
	b := a.builders[i]
	if b.count > 0 && overhead+b.size()+b.delta(&r) > a.opts.MaxSize {
		dst = a.emit(dst, b)
	}
	if b.count == 0 && overhead+b.delta(&r) > a.opts.MaxSize {
		// Too big to share an aggregate.
		return append(dst, single(r, b.shardID)), nil
	}
	b.add(&r, h)
	a.buffered++
	if b.count >= a.opts.MaxCount {
		dst = a.emit(dst, b)
	}
	return dst, nil
}

// Flush appends every aggregate in progress to dst, in shard order.
func (a *Aggregator) Flush(dst []Entry) []Entry {
	for _, b := range a.builders {
		if b.count > 0 {
			dst = a.emit(dst, b)
		}
	}
	return dst
}

func single(r UserRecord, shard string) Entry {
	return Entry{PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: bytes.Clone(r.Data), UserRecords: 1, ShardID: shard}
}

// size is the encoded size of the builder's body so far.
func (b *builder) size() int { return b.tables + len(b.recs) }

// delta is what adding r would add to the body.
func (b *builder) delta(r *UserRecord) int {
	n := 0
	pki, ok := b.pks[r.PartitionKey]
	if !ok {
		pki = uint64(len(b.pkTable))
		n += tableEntrySize(len(r.PartitionKey))
	}
	rec := Record{PartitionKeyIndex: pki, Data: r.Data, Tags: r.Tags}
	if r.ExplicitHashKey != "" {
		ehki, ok := b.ehks[r.ExplicitHashKey]
		if !ok {
			ehki = uint64(len(b.ehkTable))
			n += tableEntrySize(len(r.ExplicitHashKey))
		}
		rec.ExplicitHashKeyIndex, rec.HasExplicitHashKeyIndex = ehki, true
	}
	return n + recordFieldSize(rec.size())
}

func (b *builder) add(r *UserRecord, h HashKey) {
	pki, ok := b.pks[r.PartitionKey]
	if !ok {
		pki = uint64(len(b.pkTable))
		b.pks[r.PartitionKey] = pki
		b.pkTable = append(b.pkTable, r.PartitionKey)
		b.tables += tableEntrySize(len(r.PartitionKey))
	}
	rec := Record{PartitionKeyIndex: pki, Data: r.Data, Tags: r.Tags}
	if r.ExplicitHashKey != "" {
		ehki, ok := b.ehks[r.ExplicitHashKey]
		if !ok {
			ehki = uint64(len(b.ehkTable))
			b.ehks[r.ExplicitHashKey] = ehki
			b.ehkTable = append(b.ehkTable, r.ExplicitHashKey)
			b.tables += tableEntrySize(len(r.ExplicitHashKey))
		}
		rec.ExplicitHashKeyIndex, rec.HasExplicitHashKeyIndex = ehki, true
	}
	b.recs = protowire.AppendTag(b.recs, fieldRecords, protowire.BytesType)
	b.recs = protowire.AppendVarint(b.recs, uint64(rec.size()))
	b.recs = rec.appendTo(b.recs)
	if b.count == 0 {
		b.first = UserRecord{PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: bytes.Clone(r.Data), Tags: r.Tags}
		b.firstKey = h
	}
	b.count++
}

// emit appends b's aggregate (or its single record as it is) to dst and
// empties b.
func (a *Aggregator) emit(dst []Entry, b *builder) []Entry {
	a.buffered -= int(b.count)
	var e Entry
	if b.count == 1 {
		e = Entry{PartitionKey: b.first.PartitionKey, ExplicitHashKey: b.first.ExplicitHashKey, Data: b.first.Data, UserRecords: 1, ShardID: b.shardID}
	} else {
		out := make([]byte, 0, overhead+b.size())
		out = append(out, Magic[:]...)
		for _, k := range b.pkTable {
			out = protowire.AppendTag(out, fieldPartitionKeyTable, protowire.BytesType)
			out = protowire.AppendString(out, k)
		}
		for _, k := range b.ehkTable {
			out = protowire.AppendTag(out, fieldExplicitHashKeyTable, protowire.BytesType)
			out = protowire.AppendString(out, k)
		}
		out = append(out, b.recs...)
		sum := md5.Sum(out[len(Magic):])
		out = append(out, sum[:]...)
		e = Entry{PartitionKey: AggregatePartitionKey, ExplicitHashKey: b.firstKey.String(), Data: out, UserRecords: int(b.count), ShardID: b.shardID}
	}
	clear(b.pks)
	clear(b.ehks)
	clear(b.pkTable)
	b.pkTable = b.pkTable[:0]
	clear(b.ehkTable)
	b.ehkTable = b.ehkTable[:0]
	b.recs = b.recs[:0]
	b.tables = 0
	b.count = 0
	b.first = UserRecord{}
	return append(dst, e)
}
