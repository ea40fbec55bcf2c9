package shardconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/clock"
)

// SourceOptions configure a Source. The zero value with Stream set reads
// the whole stream from TRIM_HORIZON and never ends.
type SourceOptions struct {
	// Stream is the stream to read. Required.
	Stream shardlog.StreamRef
	// Start is where a fresh start (a job not restored from a checkpoint)
	// reads each shard that exists at that moment: TRIM_HORIZON (the
	// default), LATEST, AT_TIMESTAMP, or AT_/AFTER_SEQUENCE_NUMBER. A
	// sequence number names its shard, so a sequence-number Start applies
	// to that shard only, as if given in ShardStarts; the other shards then
	// start at TRIM_HORIZON. Shards created while the job runs are always
	// read from their first record, as a Kinesis consumer does.
	Start shardlog.StartPosition
	// ShardStarts overrides Start for single shards (by shard id), e.g.
	// with the AFTER_SEQUENCE_NUMBER positions another consumer saved. The
	// ancestors of a shard listed here are not read at all. Every shard
	// listed must exist.
	ShardStarts map[string]shardlog.StartPosition
	// Bounded makes the source end: each shard is read up to its end if it
	// was closed when the job first started, else up to the last record it
	// held then; shards created later are not read. The bounds are part of
	// the checkpointed positions, so a restored job ends at the same
	// records.
	Bounded bool
	// MaxBytesPerRead bounds the data read from one shard at a time (at
	// least one record is read). Default 2 MiB.
	MaxBytesPerRead int
	// IdleWait is how long Read waits for new records when none is
	// available before it returns to the engine. Default 50 ms; at most
	// 100 ms, so that the task stays responsive to checkpoints and timers.
	IdleWait time.Duration
	// DiscoveryInterval is how often an unbounded source lists the
	// stream's shards to find new ones. The children of a shard are also
	// looked for as soon as it has been read to its end. Default 10 s.
	DiscoveryInterval time.Duration
	// Checkpointed says that the job takes periodic checkpoints; the
	// engine tells the source so itself (SourceInfo.Checkpointing), so
	// this is needed only for jobs that take checkpoints otherwise. A shard
	// whose parent is read by another subtask then starts only once a
	// completed checkpoint records the parent's end, from the job's first
	// record on (see Source). Unset, this holds from the first checkpoint
	// of each attempt on, and before it such a shard starts as soon as its
	// parents have ended. A job without periodic checkpoints must leave it
	// unset: such shards would never start.
	Checkpointed bool
	// FailOnDecodeError makes a decoding source (NewDecodingSource) fail
	// the job at the first record that does not decode, instead of sending
	// it to the DecodeErrors side output.
	FailOnDecodeError bool
	// KeepAggregates passes records in the KPL's aggregated format on as
	// they are. By default, as the KCL does, such a record is split into
	// its user records (connectors/kpl), each emitted with the record's
	// sequence number and its sub-sequence number, and the checkpointed
	// position names the sub-sequence number too, so that a restore inside
	// an aggregate neither repeats nor skips user records.
	KeepAggregates bool
	// OnCorruptAggregate, if set, hears of every record that has the
	// aggregated format's magic prefix but is not a valid aggregate (bad
	// MD5, truncated or invalid protobuf, an index out of range); such a
	// record is emitted whole as one record and counted
	// (Source.CorruptAggregates) either way. It is called on the reading
	// subtask's goroutine and must not block.
	OnCorruptAggregate func(shardID string, seq shardlog.SequenceNumber, err error)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SourceOptions) EnsureDefaults() {
	if o.Start.Type == "" {
		o.Start.Type = shardlog.TrimHorizon
	}
	if o.MaxBytesPerRead == 0 {
		o.MaxBytesPerRead = 2 << 20
	}
	if o.IdleWait == 0 {
		o.IdleWait = 50 * time.Millisecond
	}
	if o.DiscoveryInterval == 0 {
		o.DiscoveryInterval = 10 * time.Second
	}
}

// Validate reports options that cannot work.
func (o *SourceOptions) Validate() error {
	if o.Stream.Name == "" && o.Stream.ARN == "" {
		return errors.New("shardconn: source: SourceOptions.Stream is required")
	}
	if err := validStart(o.Start, ""); err != nil {
		return err
	}
	for id, p := range o.ShardStarts {
		if err := validStart(p, id); err != nil {
			return err
		}
		if p.Type == shardlog.AtSequenceNumber || p.Type == shardlog.AfterSequenceNumber {
			seq, _ := shardlog.ParseSequenceNumber(p.SequenceNumber)
			if shardlog.ShardID(seq.Shard) != id {
				return fmt.Errorf("shardconn: source: ShardStarts[%s]: sequence number %s belongs to %s", id, p.SequenceNumber, shardlog.ShardID(seq.Shard))
			}
		}
	}
	switch {
	case o.MaxBytesPerRead < 0 || o.MaxBytesPerRead > shardlog.MaxGetRecordsBytes:
		return fmt.Errorf("shardconn: source: MaxBytesPerRead %d is outside [1, %d]", o.MaxBytesPerRead, shardlog.MaxGetRecordsBytes)
	case o.IdleWait < 0 || o.IdleWait > 100*time.Millisecond:
		return fmt.Errorf("shardconn: source: IdleWait %s is outside [0, 100ms]", o.IdleWait)
	case o.DiscoveryInterval < 0:
		return fmt.Errorf("shardconn: source: negative DiscoveryInterval %s", o.DiscoveryInterval)
	}
	return nil
}

func validStart(p shardlog.StartPosition, shard string) error {
	where := "Start"
	if shard != "" {
		where = "ShardStarts[" + shard + "]"
	}
	switch p.Type {
	case "", shardlog.TrimHorizon, shardlog.Latest:
	case shardlog.AtTimestamp:
		if p.Timestamp.IsZero() {
			return fmt.Errorf("shardconn: source: %s: AT_TIMESTAMP needs a Timestamp", where)
		}
	case shardlog.AtSequenceNumber, shardlog.AfterSequenceNumber:
		if _, ok := shardlog.ParseSequenceNumber(p.SequenceNumber); !ok {
			return fmt.Errorf("shardconn: source: %s: %q is not a sequence number of this log", where, p.SequenceNumber)
		}
	default:
		return fmt.Errorf("shardconn: source: %s: unknown iterator type %q", where, p.Type)
	}
	return nil
}

// SourceRecord is a record read by a Source: its own copy of the partition
// key and data, the shard it came from, its sequence number and arrival
// time. The key and data of records read together share one backing array
// of at most 64 KiB (larger records get their own), so keeping a record
// keeps that array alive.
//
// With de-aggregation (the default), a user record of a KPL aggregate
// carries the aggregate's sequence number and arrival time, its own
// partition key, explicit hash key and data, and its SubSequenceNumber;
// a record that is not aggregated has SubSequenceNumber 0 and Aggregated
// false.
type SourceRecord struct {
	ShardID           string
	SequenceNumber    shardlog.SequenceNumber
	SubSequenceNumber uint64
	Aggregated        bool
	ArrivalTime       time.Time // millisecond precision
	PartitionKey      string
	ExplicitHashKey   string // a user record's; "" otherwise
	Data              []byte
}

// Source is the engine source of one stream of a Log: every shard is a
// split with its own watermark and idleness, read by subtask
// (shard index mod parallelism); each shard's position is checkpointed, and
// a job restores from those positions at any parallelism.
//
// # Resharding
//
// New shards are discovered while the job runs. A shard is read only once
// every parent it has in the log has been read to its end, so each
// partition key's records are emitted in order across splits and merges.
// A child read by the same subtask as its parents starts at once, and its
// records follow theirs on every channel. When a parent is read by another
// subtask, the child starts only once a completed checkpoint records the
// parent's end: that checkpoint's barriers, aligned at every downstream
// operator, order the parent's last records before the child's first, and
// no restore can replay the parent's tail after the child's records. This
// holds from the job's first record with SourceOptions.Checkpointed, else
// from the first checkpoint of each attempt on. Before it (and always in
// jobs without checkpoints) such a child starts as soon as its parents have
// ended, and its records may overtake the parents' last ones on their way
// to downstream operators by up to what the exchanges buffer; restores are
// still in order. A shard whose retention ends before it has been read to
// its end is done with: its records are gone.
//
// # Event time
//
// A record's source timestamp is its arrival time; engine.SourceTimestamps
// keeps it, and a WatermarkStrategy with a Timestamp function takes event
// time from the record itself. A shard that receives no records holds its
// subtask's watermark back unless the strategy has an idle timeout (as with
// Flink's Kinesis source); a subtask without shards is idle.
//
// # Coordination
//
// Source is an engine.SplitSource: in a job, one split coordinator per
// attempt knows which shards exist, who reads them and which have ended.
// It discovers shards every DiscoveryInterval of the job's clock (and when
// a reader reports an end naming unknown children), and rebuilds itself
// from the restored positions of every old subtask. Readers report each
// shard's end as an event. The Source value holds no per-job state; it and
// its readers are safe for use by the engine's goroutines.
type Source[T any] struct {
	l       *shardlog.Log
	opts    SourceOptions
	conv    func(sp *split, rec *shardlog.Record, u userInfo, a *arena) (T, error)
	corrupt *atomic.Int64
}

// userInfo is what a user record of an aggregate adds to the record
// passed to conv (whose key and data are then the user record's).
type userInfo struct {
	sub        uint64
	aggregated bool
	ehk        string
}

// CorruptAggregates returns how many records with the aggregated format's
// prefix were not valid aggregates and were emitted whole, over every job
// run with this source.
func (s *Source[T]) CorruptAggregates() int64 { return s.corrupt.Load() }

// NewSource returns a source of the records of opts.Stream, each copied out
// of the log's buffers into a SourceRecord.
func NewSource(l *shardlog.Log, opts SourceOptions) (*Source[SourceRecord], error) {
	return newSource(l, opts, func(sp *split, rec *shardlog.Record, u userInfo, a *arena) (SourceRecord, error) {
		k, d := a.copy(rec.PartitionKey, rec.Data)
		return SourceRecord{ShardID: sp.id, SequenceNumber: rec.SequenceNumber, SubSequenceNumber: u.sub, Aggregated: u.aggregated,
			ArrivalTime: rec.ArrivalTime, PartitionKey: k, ExplicitHashKey: u.ehk, Data: d}, nil
	})
}

func newSource[T any](l *shardlog.Log, opts SourceOptions, conv func(*split, *shardlog.Record, userInfo, *arena) (T, error)) (*Source[T], error) {
	if l == nil {
		return nil, errors.New("shardconn: source: nil Log")
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Source[T]{l: l, opts: opts, conv: conv, corrupt: new(atomic.Int64)}, nil
}

// Options returns the source's options, defaults filled in.
func (s *Source[T]) Options() SourceOptions { return s.opts }

// SplitCoordination implements engine.SplitSource: in a job, one
// coordinator per attempt discovers the shards and assigns them.
func (s *Source[T]) SplitCoordination() engine.SplitCoordination {
	return engine.CoordinateSplits(func(ctx *engine.SplitContext[shardSplit]) (engine.SplitCoordinator, error) {
		return newJobCoordinator(s.l, &s.opts, ctx)
	})
}

// Open implements engine.Source. In a job the reader gets its shards from
// the attempt's split coordinator (info.Splits). A reader opened outside a
// job (no info.Splits) runs a coordinator of its own for its subtask's
// shards: a shard whose parent another subtask reads then starts only if
// the restored positions hold the parent's end.
func (s *Source[T]) Open(ctx context.Context, info engine.SourceInfo) (engine.SourceReader[T], error) {
	if info.Parallelism < 1 || info.Subtask < 0 || info.Subtask >= info.Parallelism {
		return nil, fmt.Errorf("shardconn: source: subtask %d of %d", info.Subtask, info.Parallelism)
	}
	r, err := s.newReader(info)
	if err != nil {
		return nil, err
	}
	if info.Splits != nil {
		r.send = info.Splits.SendEvent
		return r, nil
	}
	local, err := newCoordinator(s.l, &s.opts, info.Parallelism, s.opts.Checkpointed || info.Checkpointing, info.Restored,
		func(sub int, sp shardSplit) error {
			if sub == r.me {
				r.incoming = append(r.incoming, sp)
			}
			return nil
		},
		func(sub int) error {
			if sub == r.me {
				r.noMore = true
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	r.local = local
	r.nextDiscovery = r.clock.Now().Add(s.opts.DiscoveryInterval)
	r.send = func(ev any) error { return local.ended(r.me, r.snaps, ev.(shardEnded)) }
	if err := local.assignReady(); err != nil {
		return nil, err
	}
	return r, nil
}

// newReader returns a reader that is given its shards with AddSplits and
// reports their ends through send, which the caller sets.
func (s *Source[T]) newReader(info engine.SourceInfo) (*reader[T], error) {
	created, _, err := sourceView(s.l, s.opts.Stream)
	if err != nil {
		return nil, fmt.Errorf("shardconn: source: %w", err)
	}
	r := &reader[T]{
		src: s, me: info.Subtask, clock: clock.Or(info.Clock), created: created,
		splits: map[uint32]*split{}, finished: map[uint32]bool{}, interrupt: info.Interrupt,
		timer: time.NewTimer(time.Hour),
	}
	r.timer.Stop()
	return r, nil
}

// noBound marks an unbounded shard.
const noBound = math.MaxUint64

// split is one shard a reader owns and has not finished: pending until
// the coordinator starts it, then read through rd.
type split struct {
	idx   uint32
	id    string
	pos   uint64                // start offset while pending
	sub   uint64                // user records of the record after pos already emitted (a restore inside an aggregate)
	bound uint64                // offset where reading stops (Bounded), or noBound
	rd    *shardlog.ShardReader // nil while pending

	// pend are records read but not yet wholly emitted (own copies): the
	// first is an aggregate cut off where the last Read's room ran out,
	// pendSub of its user records emitted. ended and children: the shard
	// ended behind them.
	pend     []shardlog.Record
	pendSub  uint64
	ended    bool
	children []uint32
}

// position is where a restore resumes sp: after record offset pos,
// skipping sub user records of the next record.
func (sp *split) position() (pos, sub uint64) {
	if len(sp.pend) > 0 {
		return sp.pend[0].SequenceNumber.Pos - 1, sp.pendSub
	}
	if sp.rd == nil {
		return sp.pos, sp.sub
	}
	p := sp.rd.Position().Pos
	if p == sp.pos {
		return p, sp.sub // nothing read since the restore
	}
	return p, 0
}

// reader is one subtask's SourceReader.
type reader[T any] struct {
	src     *Source[T]
	me      int
	clock   clock.Clock
	created int64
	send    func(ev any) error // to the coordinator

	// local is the reader's own coordinator outside a job (else nil);
	// snaps counts its snapshots, nextDiscovery is when it lists shards.
	local         *coordinator
	snaps         int64
	nextDiscovery time.Time

	incoming  []shardSplit      // assigned, not yet taken on by Read
	noMore    bool              // the coordinator assigns nothing more
	interrupt <-chan struct{}   // the engine has something for the task
	splits    map[uint32]*split // owned, pending or being read
	active    []*split          // those being read, in the order they are read
	finished  map[uint32]bool   // owned and read to their end
	outs      map[uint32]*engine.SplitOutput[T]
	rr        int // round robin start over active

	// unpublished are shards this reader finished whose end it has not yet
	// told the coordinator: it does so at the next Read, once the driver
	// has passed the shard's last records downstream.
	unpublished []shardEnded

	started   bool
	eof       bool
	arena     arena
	deagg     kpl.Deaggregator
	users     []kpl.UserRecord
	timer     *time.Timer
	cases     []reflect.SelectCase
	closeOnce sync.Once
}

// AddSplits implements engine.SplitReader: the shards are taken on at the
// next Read (it needs the SourceOutput).
func (r *reader[T]) AddSplits(splits []shardSplit) error {
	r.incoming = append(r.incoming, splits...)
	return nil
}

// NoMoreSplits implements engine.SplitReader.
func (r *reader[T]) NoMoreSplits() error {
	r.noMore = true
	return nil
}

// idleSplit is a split id no shard has: claiming and releasing it at once
// tells the engine that the reader uses splits, so that a reader without
// shards is idle rather than holding the watermark back.
const idleSplit = "shardlog:no-shard"

func (r *reader[T]) publish() error {
	for i, ev := range r.unpublished {
		if err := r.send(ev); err != nil {
			r.unpublished = r.unpublished[:copy(r.unpublished, r.unpublished[i:])]
			return err
		}
	}
	r.unpublished = r.unpublished[:0]
	return nil
}

// Read implements engine.SourceReader.
func (r *reader[T]) Read(ctx context.Context, out *engine.SourceOutput[T]) error {
	if !r.started {
		r.started = true
		r.outs = map[uint32]*engine.SplitOutput[T]{}
		out.Split(idleSplit)
		out.ReleaseSplit(idleSplit)
	}
	if err := r.publish(); err != nil {
		return err
	}
	if r.eof {
		return io.EOF
	}
	if r.local != nil && !r.src.opts.Bounded && !r.clock.Now().Before(r.nextDiscovery) {
		r.nextDiscovery = r.clock.Now().Add(r.src.opts.DiscoveryInterval)
		if err := r.local.discover(); err != nil {
			return err
		}
	}
	if err := r.takeIncoming(out); err != nil {
		return err
	}
	if r.src.opts.Bounded && r.noMore && len(r.splits) == 0 {
		// The ends are published above, before ending: there is no next
		// Read.
		r.eof = true
		return io.EOF
	}
	got, ended := 0, false
	n := len(r.active)
	for k := 0; k < n; k++ {
		sp := r.active[(r.rr+k)%n]
		c, done, children, err := r.readSplit(ctx, sp, out)
		if err != nil {
			return err
		}
		got += c
		if done {
			r.finishSplit(sp, out, children)
			ended = true
		}
	}
	r.rr++
	if ended {
		live := r.active[:0]
		for _, sp := range r.active {
			if r.splits[sp.idx] != nil {
				live = append(live, sp)
			}
		}
		clear(r.active[len(live):])
		r.active = live
	}
	if got == 0 && !ended {
		r.wait(ctx)
	}
	return nil
}

// takeIncoming starts reading the shards assigned since the last Read.
func (r *reader[T]) takeIncoming(out *engine.SourceOutput[T]) error {
	for len(r.incoming) > 0 {
		a := r.incoming[0]
		r.incoming = r.incoming[1:]
		if a.finished {
			r.finished[a.idx] = true
			continue
		}
		if r.finished[a.idx] {
			continue
		}
		sp := r.splits[a.idx]
		if sp == nil {
			sp = &split{idx: a.idx, id: a.id, pos: a.pos, sub: a.sub, bound: a.bound}
			r.splits[a.idx] = sp
			// The split exists from now on: until it has records, it holds
			// the subtask's watermark where it is (or goes idle with the
			// strategy's idle timeout), so records of a key that moves here
			// from another shard are not late.
			r.outs[a.idx] = out.Split(a.id)
		}
		if a.pending || sp.rd != nil {
			continue
		}
		rd, err := r.src.l.NewShardReader(r.src.opts.Stream, a.id, shardlog.StartPosition{Type: shardlog.AfterSequenceNumber, SequenceNumber: shardlog.SequenceNumber{Shard: a.idx, Pos: a.pos}.String()})
		if err != nil {
			if !r.src.l.HasShard(r.src.opts.Stream, a.id) {
				// Its retention ended before it started.
				out.ReleaseSplit(a.id)
				delete(r.outs, a.idx)
				delete(r.splits, a.idx)
				r.finished[a.idx] = true
				r.unpublished = append(r.unpublished, shardEnded{idx: a.idx})
				continue
			}
			return fmt.Errorf("shardconn: source: open %s: %w", a.id, err)
		}
		sp.rd = rd
		r.active = append(r.active, sp)
	}
	r.incoming = nil
	return nil
}

// readSplit reads one batch of sp and emits it; done reports that sp has
// been read to its end (or bound), children the shards the log named at
// its end. It emits about out.Room() records: an aggregate whose user
// records do not all fit is kept, with what follows it, for the next Read.
func (r *reader[T]) readSplit(ctx context.Context, sp *split, out *engine.SourceOutput[T]) (int, bool, []uint32, error) {
	budget := max(out.Room(), 1)
	so := r.outs[sp.idx]
	got := 0
	for len(sp.pend) > 0 && budget > 0 {
		n, next, err := r.emitRecord(sp, so, &sp.pend[0], sp.pendSub, budget)
		if err != nil {
			return 0, false, nil, err
		}
		got += n
		budget -= n
		if next > 0 {
			sp.pendSub = next
			return got, false, nil, nil
		}
		sp.pend[0] = shardlog.Record{}
		sp.pend = sp.pend[1:]
		sp.pendSub = 0
	}
	if len(sp.pend) > 0 {
		return got, false, nil, nil
	}
	sp.pend = nil
	if sp.ended {
		return got, true, sp.children, nil
	}
	if budget <= 0 {
		return got, false, nil, nil
	}
	max := budget
	if sp.bound != noBound {
		if sp.rd.Position().Pos >= sp.bound {
			return got, true, nil, nil
		}
		if rem := sp.bound - sp.rd.Position().Pos; rem < uint64(max) {
			max = int(rem)
		}
	}
	res, err := sp.rd.Read(ctx, max, r.src.opts.MaxBytesPerRead, false)
	if err != nil {
		if !r.src.l.HasShard(r.src.opts.Stream, sp.id) {
			// Its retention ended while it was being read: its records are
			// gone, and its children may go on.
			return got, true, nil, nil
		}
		return 0, false, nil, fmt.Errorf("shardconn: source: read %s: %w", sp.id, err)
	}
	var children []uint32
	if res.ShardEnded {
		for _, c := range res.ChildShards {
			if idx, ok := shardlog.ParseShardID(c.ShardID); ok {
				children = append(children, idx)
			}
		}
	}
	for i := range res.Records {
		rec := &res.Records[i]
		skip := uint64(0)
		if sp.sub > 0 {
			if rec.SequenceNumber.Pos == sp.pos+1 {
				skip = sp.sub
			}
			sp.sub = 0
		}
		n, next, err := r.emitRecord(sp, so, rec, skip, budget)
		if err != nil {
			return 0, false, nil, err
		}
		got += n
		budget -= n
		if next > 0 || (budget <= 0 && i+1 < len(res.Records)) {
			// Keep the rest, copied out of the reader's buffer.
			rest := res.Records[i:]
			if next == 0 {
				rest = res.Records[i+1:]
			}
			sp.pend = make([]shardlog.Record, len(rest))
			for j := range rest {
				sp.pend[j] = cloneRecord(&rest[j])
			}
			sp.pendSub = next
			sp.ended, sp.children = res.ShardEnded, children
			return got, false, nil, nil
		}
	}
	if res.ShardEnded {
		return got, true, children, nil
	}
	return got, sp.bound != noBound && sp.rd.Position().Pos >= sp.bound, nil, nil
}

func cloneRecord(r *shardlog.Record) shardlog.Record {
	b := make([]byte, len(r.PartitionKey)+len(r.Data))
	copy(b, r.PartitionKey)
	copy(b[len(r.PartitionKey):], r.Data)
	n := len(r.PartitionKey)
	return shardlog.Record{SequenceNumber: r.SequenceNumber, ArrivalTime: r.ArrivalTime, PartitionKey: b[:n:n], Data: b[n:]}
}

// emitRecord emits rec, or from its user record skip on, at most budget
// of them when it is an aggregate. next is the sub-sequence number to go
// on from when some are left, else 0.
func (r *reader[T]) emitRecord(sp *split, so *engine.SplitOutput[T], rec *shardlog.Record, skip uint64, budget int) (n int, next uint64, err error) {
	conv := r.src.conv
	ts := rec.ArrivalTime.UnixMilli()
	if r.src.opts.KeepAggregates || !kpl.IsAggregated(rec.Data) {
		v, err := conv(sp, rec, userInfo{}, &r.arena)
		if err != nil {
			return 0, 0, err
		}
		so.CollectAt(v, ts)
		return 1, 0, nil
	}
	users, ce := r.deagg.Append(r.users[:0], "", "", rec.Data)
	r.users = users
	if ce != nil {
		r.src.corrupt.Add(1)
		if h := r.src.opts.OnCorruptAggregate; h != nil {
			h(sp.id, rec.SequenceNumber, ce)
		}
		v, err := conv(sp, rec, userInfo{}, &r.arena)
		if err != nil {
			return 0, 0, err
		}
		so.CollectAt(v, ts)
		return 1, 0, nil
	}
	user := shardlog.Record{SequenceNumber: rec.SequenceNumber, ArrivalTime: rec.ArrivalTime}
	for i := skip; i < uint64(len(users)); i++ {
		if n >= budget {
			clear(r.users)
			return n, i, nil
		}
		u := &users[i]
		user.PartitionKey = unsafe.Slice(unsafe.StringData(u.PartitionKey), len(u.PartitionKey))
		user.Data = u.Data
		v, err := conv(sp, &user, userInfo{sub: u.SubSequenceNumber, aggregated: true, ehk: u.ExplicitHashKey}, &r.arena)
		if err != nil {
			return 0, 0, err
		}
		so.CollectAt(v, ts)
		n++
	}
	clear(r.users)
	return n, 0, nil
}

func (r *reader[T]) finishSplit(sp *split, out *engine.SourceOutput[T], children []uint32) {
	out.ReleaseSplit(sp.id)
	delete(r.outs, sp.idx)
	delete(r.splits, sp.idx)
	r.finished[sp.idx] = true
	r.unpublished = append(r.unpublished, shardEnded{idx: sp.idx, children: children})
}

// wait blocks until a shard being read has new records or closes, the
// engine has something for the task, ctx ends, or IdleWait passes.
func (r *reader[T]) wait(ctx context.Context) {
	d := r.src.opts.IdleWait
	if d <= 0 {
		return
	}
	cases := r.cases[:0]
	recv := func(ch any) {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	recv(ctx.Done())
	recv(r.interrupt)
	for _, sp := range r.active {
		data, closed, ready := sp.rd.WaitChannels()
		if ready {
			r.cases = cases
			return // arrived since the read
		}
		recv(data)
		recv(closed)
	}
	r.timer.Reset(d)
	recv(r.timer.C)
	chosen, _, _ := reflect.Select(cases)
	if chosen != len(cases)-1 {
		// Go 1.23 timers: after Stop no stale tick is delivered.
		r.timer.Stop()
	}
	clear(cases)
	r.cases = cases[:0]
}

// SnapshotPosition implements engine.CheckpointedReader: the position of
// every shard this subtask owns (including those assigned but not yet
// taken on), and which of them have ended. The format is the one the
// source had before the split coordinator (docs/shardlog-format.md).
func (r *reader[T]) SnapshotPosition() ([]byte, error) {
	ents := make([]posEntry, 0, len(r.splits)+len(r.finished)+len(r.incoming))
	for idx := range r.finished {
		ents = append(ents, posEntry{idx: idx, finished: true})
	}
	for _, sp := range r.splits {
		p := posEntry{idx: sp.idx, bound: sp.bound}
		p.pos, p.sub = sp.position()
		ents = append(ents, p)
	}
	for _, a := range r.incoming {
		if a.finished {
			ents = append(ents, posEntry{idx: a.idx, finished: true})
		} else if r.splits[a.idx] == nil && !r.finished[a.idx] {
			ents = append(ents, posEntry{idx: a.idx, pos: a.pos, sub: a.sub, bound: a.bound})
		}
	}
	if r.local != nil {
		r.snaps++
		r.local.snapshotted = true
	}
	return encodePositions(r.created, r.src.opts.Bounded, ents), nil
}

// NotifyCheckpointComplete implements engine.CheckpointListener. In a job
// the coordinator hears of completions itself; a reader's own coordinator
// commits the ends its last snapshot recorded.
func (r *reader[T]) NotifyCheckpointComplete(int64) error {
	if r.local == nil {
		return nil
	}
	if err := r.local.complete(r.snaps); err != nil {
		return err
	}
	return nil
}

// Close implements engine.SourceReader.
func (r *reader[T]) Close() error {
	r.closeOnce.Do(func() { r.timer.Stop() })
	return nil
}

// arena copies records out of the log's read buffer into shared chunks, so
// that a SourceRecord costs no allocation of its own.
type arena struct{ buf []byte }

const arenaChunk = 64 << 10

func (a *arena) copy(key, data []byte) (string, []byte) {
	n := len(key) + len(data)
	var b []byte
	if n > arenaChunk/4 {
		b = make([]byte, n)
		copy(b, key)
		copy(b[len(key):], data)
	} else {
		if cap(a.buf)-len(a.buf) < n {
			a.buf = make([]byte, 0, arenaChunk)
		}
		start := len(a.buf)
		a.buf = append(a.buf, key...)
		a.buf = append(a.buf, data...)
		b = a.buf[start:len(a.buf):len(a.buf)]
	}
	var k string
	if len(key) > 0 {
		// The bytes are never written again: the chunk only grows.
		k = unsafe.String(&b[0], len(key))
	}
	// A full slice expression: appending to Data never overwrites the next
	// record.
	return k, b[len(key):n:n]
}

var _ engine.CheckpointedReader = (*reader[SourceRecord])(nil)
var _ engine.CheckpointListener = (*reader[SourceRecord])(nil)
var _ engine.SplitReader[shardSplit] = (*reader[SourceRecord])(nil)
var _ engine.SplitSource[SourceRecord] = (*Source[SourceRecord])(nil)
