package shardconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"

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
type SourceRecord struct {
	ShardID        string
	SequenceNumber shardlog.SequenceNumber
	ArrivalTime    time.Time // millisecond precision
	PartitionKey   string
	Data           []byte
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
// # Sharing
//
// The readers of one attempt of a job share state in the Source value
// (which shards exist, who reads them, which have ended), rebuilt from the
// restored positions when the attempt's first reader opens; each attempt,
// and each job using the Source, gets its own. A Source and its readers
// are safe for use by the engine's goroutines.
type Source[T any] struct {
	l    *shardlog.Log
	opts SourceOptions
	conv func(sp *split, rec *shardlog.Record, a *arena) (T, error)

	mu    sync.Mutex
	enums map[context.Context]*enumerator // one per attempt of the job
}

// NewSource returns a source of the records of opts.Stream, each copied out
// of the log's buffers into a SourceRecord.
func NewSource(l *shardlog.Log, opts SourceOptions) (*Source[SourceRecord], error) {
	return newSource(l, opts, func(sp *split, rec *shardlog.Record, a *arena) (SourceRecord, error) {
		k, d := a.copy(rec.PartitionKey, rec.Data)
		return SourceRecord{ShardID: sp.id, SequenceNumber: rec.SequenceNumber, ArrivalTime: rec.ArrivalTime, PartitionKey: k, Data: d}, nil
	})
}

func newSource[T any](l *shardlog.Log, opts SourceOptions, conv func(*split, *shardlog.Record, *arena) (T, error)) (*Source[T], error) {
	if l == nil {
		return nil, errors.New("shardconn: source: nil Log")
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Source[T]{l: l, opts: opts, conv: conv, enums: map[context.Context]*enumerator{}}, nil
}

// Options returns the source's options, defaults filled in.
func (s *Source[T]) Options() SourceOptions { return s.opts }

// Open implements engine.Source. The engine opens every reader of one
// attempt of a job with that attempt's context, which is how the readers of
// an attempt find their shared state.
func (s *Source[T]) Open(ctx context.Context, info engine.SourceInfo) (engine.SourceReader[T], error) {
	if info.Parallelism < 1 || info.Subtask < 0 || info.Subtask >= info.Parallelism {
		return nil, fmt.Errorf("shardconn: source: subtask %d of %d", info.Subtask, info.Parallelism)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, e := range s.enums {
		// Forget attempts that are over.
		if c.Err() != nil && e.live == 0 {
			delete(s.enums, c)
		}
	}
	e := s.enums[ctx]
	if e == nil || e.par != info.Parallelism || e.opened[info.Subtask] {
		var err error
		e, err = newEnumerator(s.l, &s.opts, info)
		if err != nil {
			return nil, err
		}
		s.enums[ctx] = e
	}
	e.opened[info.Subtask] = true
	e.live++
	r := &reader[T]{
		src: s, e: e, me: info.Subtask, clock: clock.Or(info.Clock),
		splits: map[uint32]*split{}, ver: math.MaxUint64,
		timer: time.NewTimer(time.Hour),
	}
	r.timer.Stop()
	return r, nil
}

// noBound marks an unbounded shard.
const noBound = math.MaxUint64

// split is one shard a reader owns and has not finished: pending until its
// parents have ended, then read through rd.
type split struct {
	idx   uint32
	id    string
	pos   uint64                // start offset while pending
	bound uint64                // offset where reading stops (Bounded), or noBound
	rd    *shardlog.ShardReader // nil while pending
}

// reader is one subtask's SourceReader.
type reader[T any] struct {
	src   *Source[T]
	e     *enumerator
	me    int
	clock clock.Clock

	splits  map[uint32]*split // owned, not finished
	pending []*split          // waiting for their parents
	active  []*split          // being read
	outs    map[uint32]*engine.SplitOutput[T]
	rr      int // round robin start over active

	// unpublished are shards this reader finished whose end it has not yet
	// told the enumerator: it does so at the next Read, once the driver
	// has passed the shard's last records downstream.
	unpublished []uint32
	// inSnap are the shards that had ended, and were not known to be
	// committed, at the last snapshot: a completed checkpoint commits them.
	inSnap []uint32

	ver       uint64 // enumerator version last seen
	started   bool
	eof       bool
	discover  bool // a finished shard named children the enumerator lacks
	arena     arena
	timer     *time.Timer
	cases     []reflect.SelectCase
	closeOnce sync.Once
}

// idleSplit is a split id no shard has: claiming and releasing it at once
// tells the engine that the reader uses splits, so that a reader without
// shards is idle rather than holding the watermark back.
const idleSplit = "shardlog:no-shard"

// Read implements engine.SourceReader.
func (r *reader[T]) Read(ctx context.Context, out *engine.SourceOutput[T]) error {
	if !r.started {
		r.started = true
		r.outs = map[uint32]*engine.SplitOutput[T]{}
		out.Split(idleSplit)
		out.ReleaseSplit(idleSplit)
	}
	if len(r.unpublished) > 0 {
		r.e.finish(r.unpublished)
		r.unpublished = r.unpublished[:0]
	}
	if r.eof {
		return io.EOF
	}
	if err := r.refresh(out); err != nil {
		return err
	}
	if r.src.opts.Bounded && len(r.splits) == 0 {
		// Publish before ending: there is no next Read.
		r.eof = true
		if len(r.unpublished) > 0 {
			r.e.finish(r.unpublished)
			r.unpublished = r.unpublished[:0]
		}
		return io.EOF
	}
	got, ended := 0, false
	n := len(r.active)
	for k := 0; k < n; k++ {
		sp := r.active[(r.rr+k)%n]
		c, done, err := r.readSplit(ctx, sp, out)
		if err != nil {
			return err
		}
		got += c
		if done {
			r.finishSplit(sp, out)
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

// readSplit reads one batch of sp and emits it; done reports that sp has
// been read to its end (or bound).
func (r *reader[T]) readSplit(ctx context.Context, sp *split, out *engine.SourceOutput[T]) (int, bool, error) {
	max := out.Room()
	if sp.bound != noBound {
		if sp.rd.Position().Pos >= sp.bound {
			return 0, true, nil
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
			r.discover = true
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("shardconn: source: read %s: %w", sp.id, err)
	}
	so := r.outs[sp.idx]
	conv := r.src.conv
	for i := range res.Records {
		rec := &res.Records[i]
		v, err := conv(sp, rec, &r.arena)
		if err != nil {
			return 0, false, err
		}
		so.CollectAt(v, rec.ArrivalTime.UnixMilli())
	}
	if res.ShardEnded {
		for _, c := range res.ChildShards {
			if idx, ok := shardlog.ParseShardID(c.ShardID); ok && !r.e.knows(idx) {
				r.discover = true
			}
		}
		return len(res.Records), true, nil
	}
	return len(res.Records), sp.bound != noBound && sp.rd.Position().Pos >= sp.bound, nil
}

func (r *reader[T]) finishSplit(sp *split, out *engine.SourceOutput[T]) {
	out.ReleaseSplit(sp.id)
	delete(r.outs, sp.idx)
	delete(r.splits, sp.idx)
	r.unpublished = append(r.unpublished, sp.idx)
}

// refresh takes on shards the enumerator assigned to this reader, drops
// shards that left the log, and starts pending shards whose parents have
// ended.
func (r *reader[T]) refresh(out *engine.SourceOutput[T]) error {
	e := r.e
	if !r.src.opts.Bounded && (r.discover || e.discoveryDue(r.clock.Now())) {
		r.discover = false
		if err := e.discover(r.clock.Now()); err != nil {
			return err
		}
	}
	v := e.version.Load()
	if v == r.ver {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r.ver = e.version.Load()
	for idx, sp := range r.splits {
		if e.shards[idx] == nil {
			// Gone from the log (retention) before it was read to its end.
			out.ReleaseSplit(sp.id)
			delete(r.outs, idx)
			delete(r.splits, idx)
		}
	}
	for _, n := range e.shards {
		if n.owner != r.me || n.finished || r.splits[n.idx] != nil || containsIdx(r.unpublished, n.idx) {
			continue
		}
		sp := &split{idx: n.idx, id: n.id, pos: n.pos, bound: n.bound}
		r.splits[n.idx] = sp
		// The split exists from now on: until it has records, it holds the
		// subtask's watermark where it is (or goes idle with the strategy's
		// idle timeout), so records of a key that moves here from another
		// shard are not late.
		r.outs[n.idx] = out.Split(n.id)
		r.pending = append(r.pending, sp)
	}
	kept := r.pending[:0]
	for _, sp := range r.pending {
		if r.splits[sp.idx] != sp {
			continue
		}
		if !e.canStartLocked(e.shards[sp.idx], r.me) {
			kept = append(kept, sp)
			continue
		}
		rd, err := r.src.l.NewShardReader(r.src.opts.Stream, sp.id, shardlog.StartPosition{Type: shardlog.AfterSequenceNumber, SequenceNumber: shardlog.SequenceNumber{Shard: sp.idx, Pos: sp.pos}.String()})
		if err != nil {
			return fmt.Errorf("shardconn: source: open %s: %w", sp.id, err)
		}
		sp.rd = rd
		r.active = append(r.active, sp)
	}
	clear(r.pending[len(kept):])
	r.pending = kept
	live := r.active[:0]
	for _, sp := range r.active {
		if r.splits[sp.idx] == sp {
			live = append(live, sp)
		}
	}
	clear(r.active[len(live):])
	r.active = live
	return nil
}

func containsIdx(s []uint32, idx uint32) bool {
	for _, v := range s {
		if v == idx {
			return true
		}
	}
	return false
}

// wait blocks until a shard being read has new records or closes, the
// enumerator changes, ctx ends, or IdleWait passes.
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
	recv(r.e.changedChan())
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
// every shard this subtask owns, and which of them have ended.
func (r *reader[T]) SnapshotPosition() ([]byte, error) {
	e := r.e
	e.mu.Lock()
	e.snapshotted = true
	ents := make([]posEntry, 0, len(r.splits)+len(r.unpublished)+4)
	r.inSnap = r.inSnap[:0]
	for _, n := range e.shards {
		if n.owner == r.me && n.finished {
			ents = append(ents, posEntry{idx: n.idx, finished: true})
			if !n.committed {
				r.inSnap = append(r.inSnap, n.idx)
			}
		}
	}
	created := e.created
	e.mu.Unlock()
	for _, idx := range r.unpublished {
		ents = append(ents, posEntry{idx: idx, finished: true})
		r.inSnap = append(r.inSnap, idx)
	}
	for _, sp := range r.splits {
		p := posEntry{idx: sp.idx, pos: sp.pos, bound: sp.bound}
		if sp.rd != nil {
			p.pos = sp.rd.Position().Pos
		}
		ents = append(ents, p)
	}
	return encodePositions(created, r.src.opts.Bounded, ents), nil
}

// NotifyCheckpointComplete implements engine.CheckpointListener: the ends
// of shards recorded in the snapshot just completed are now safe to build
// on, so children read by other subtasks may start.
func (r *reader[T]) NotifyCheckpointComplete(int64) error {
	// The engine delivers completions in order with the triggers, so the
	// reader's latest snapshot belongs to this checkpoint (or an earlier
	// one, which commits less): what it recorded as ended is committed.
	if len(r.inSnap) > 0 {
		r.e.commit(r.inSnap)
		r.inSnap = r.inSnap[:0]
	}
	return nil
}

// Close implements engine.SourceReader.
func (r *reader[T]) Close() error {
	r.closeOnce.Do(func() {
		r.timer.Stop()
		r.src.mu.Lock()
		r.e.live--
		r.src.mu.Unlock()
	})
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
