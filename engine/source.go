package engine

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// Source is a parallel source of records of type T. The engine opens one
// reader per subtask; the readers of one source run in one process and may
// share state (e.g. to assign splits among themselves).
type Source[T any] interface {
	// Open returns the reader of one subtask.
	Open(ctx context.Context, info SourceInfo) (SourceReader[T], error)
}

// SourceInfo tells a reader which part of the source it reads.
type SourceInfo struct {
	Name        string
	Subtask     int
	Parallelism int
	Clock       clock.Clock
	// Attempt counts the job's restarts (0 for the first run of this
	// process).
	Attempt int
	// Checkpointing reports whether the job takes periodic checkpoints.
	Checkpointing bool
	// Restored holds the positions that every subtask of the previous run
	// snapshotted (see CheckpointedReader) in the checkpoint the job starts
	// from, or nil on a fresh start. At the same parallelism a reader takes
	// its own subtask's; after a change of parallelism it decides which
	// positions (e.g. of which shards) are now its own, or refuses. A
	// SplitSource's coordinator sees them too (SplitContext), and may
	// assign the splits anew instead.
	Restored []SourcePosition
	// Splits connects the reader of a SplitSource to the source's split
	// coordinator (nil for other sources).
	Splits *SplitReaderContext
	// Interrupt receives a value when the engine has something for the
	// task between two Read calls (a checkpoint to start, splits to hand
	// over): a Read that waits for data may also wait on it and return at
	// once. It is never closed. Nil outside a job.
	Interrupt <-chan struct{}
}

// RestoredFor returns the position snapshotted by the same subtask at the
// same parallelism, if there is one.
func (i SourceInfo) RestoredFor() ([]byte, bool) {
	for _, p := range i.Restored {
		if p.Subtask == i.Subtask && p.Parallelism == i.Parallelism {
			return p.Data, true
		}
	}
	return nil, false
}

// SourceReader reads one subtask's share of a source.
type SourceReader[T any] interface {
	// Read emits records through out and returns. It returns io.EOF once
	// everything has been emitted (a bounded source); records emitted in
	// that same call count. When no data is available, Read should wait a
	// short while (at most ~100 ms, or until ctx is done) and return nil,
	// so that the task can handle timers, watermarks and checkpoints.
	Read(ctx context.Context, out *SourceOutput[T]) error
	// Close releases the reader's resources.
	Close() error
}

// CheckpointedReader is a SourceReader whose position can be checkpointed,
// so that a restored job resumes where the checkpoint was taken. The engine
// calls SnapshotPosition between Read calls. A reader may also implement
// CheckpointListener to learn when a checkpoint holding its position has
// completed.
type CheckpointedReader interface {
	SnapshotPosition() ([]byte, error)
}

// SourceOutput is where a reader emits records. Records may be emitted for
// a split (a shard, a partition, a file): each split has its own watermark
// generator and idleness, and the subtask's watermark is the minimum over its
// active splits, as with Flink's per-split watermarks.
type SourceOutput[T any] struct {
	c         *Collector[T]
	strategy  WatermarkStrategy[T]
	clk       clock.Clock
	def       *SplitOutput[T]
	splits    map[string]*SplitOutput[T]
	emitted   bool // a record was emitted in this Read call
	usedSplit bool // Split was called: the default split does not count
	plain     bool // no timestamp function, no watermarks: Collect skips them
}

func newSourceOutput[T any](c *Collector[T], ws WatermarkStrategy[T], clk clock.Clock) *SourceOutput[T] {
	o := &SourceOutput[T]{c: c, strategy: ws, clk: clk, splits: map[string]*SplitOutput[T]{}}
	o.def = o.newSplit("")
	o.plain = ws.None && ws.Timestamp == nil
	return o
}

func (o *SourceOutput[T]) newSplit(id string) *SplitOutput[T] {
	s := &SplitOutput[T]{o: o, id: id, maxTs: MinTime, delay: o.strategy.MaxOutOfOrderness.Milliseconds(), lastActive: o.clk.Now()}
	if o.strategy.Generator != nil {
		s.custom = o.strategy.Generator()
	}
	return s
}

// Collect emits v. Its event time is the strategy's timestamp of v (or
// NoTimestamp without a timestamp function).
func (o *SourceOutput[T]) Collect(v T) {
	if o.plain {
		// No timestamps to assign or watch: the common case of generators
		// and processing-time jobs, written out for speed.
		c := o.c
		r := &c.buf[c.n]
		r.Value, r.Time = v, NoTimestamp
		if c.n++; c.n == len(c.buf) {
			c.flush()
		}
		o.emitted = true
		return
	}
	o.def.CollectAt(v, NoTimestamp)
}

// CollectAt emits v with a source-given timestamp ts (e.g. an arrival
// time), which the strategy's timestamp function may override.
func (o *SourceOutput[T]) CollectAt(v T, ts int64) { o.def.CollectAt(v, ts) }

// Room returns how many more records fit in the current batch; a reader
// that can emit in bulk uses it to size its reads.
func (o *SourceOutput[T]) Room() int { return o.c.room() }

// Err returns the error of a downstream operator, if one failed; a reader
// may stop early when it is set.
func (o *SourceOutput[T]) Err() error { return o.c.err }

// Split returns the output for split id, creating it on first use.
func (o *SourceOutput[T]) Split(id string) *SplitOutput[T] {
	o.usedSplit = true
	s, ok := o.splits[id]
	if !ok {
		s = o.newSplit(id)
		o.splits[id] = s
	}
	return s
}

// ReleaseSplit says split id has ended: it no longer holds the watermark
// back.
func (o *SourceOutput[T]) ReleaseSplit(id string) { delete(o.splits, id) }

// watermark returns the subtask's current watermark and whether any split
// is active (not idle): the minimum over the active splits, or, when every
// split is idle, the maximum over all of them (progress made before they
// went quiet is kept, as the downstream watermark valve does).
func (o *SourceOutput[T]) watermark(now time.Time) (int64, bool) {
	minActive, maxAll, active := MaxTime, MinTime, false
	visit := func(s *SplitOutput[T]) {
		wm := s.currentWatermark()
		maxAll = max(maxAll, wm)
		if o.strategy.IdleTimeout > 0 && now.Sub(s.lastActive) >= o.strategy.IdleTimeout {
			return
		}
		active = true
		minActive = min(minActive, wm)
	}
	if !o.usedSplit {
		visit(o.def)
	}
	for _, s := range o.splits {
		visit(s)
	}
	if !active {
		return maxAll, false
	}
	return minActive, true
}

// SplitOutput emits the records of one split.
type SplitOutput[T any] struct {
	o      *SourceOutput[T]
	id     string
	custom WatermarkGenerator // nil: the bounded out-of-orderness generator
	maxTs  int64              // largest timestamp seen (built-in generator)
	delay  int64              // out-of-orderness in ms (built-in generator)

	lastActive time.Time
	sawRecord  bool
}

func (s *SplitOutput[T]) currentWatermark() int64 {
	if s.custom != nil {
		return s.custom.CurrentWatermark()
	}
	if s.maxTs == MinTime {
		return MinTime
	}
	return s.maxTs - s.delay - 1
}

// Collect emits v, timestamped by the strategy.
func (s *SplitOutput[T]) Collect(v T) { s.CollectAt(v, NoTimestamp) }

// CollectAt emits v with a source-given timestamp.
func (s *SplitOutput[T]) CollectAt(v T, ts int64) {
	o := s.o
	if o.strategy.Timestamp != nil {
		ts = o.strategy.Timestamp(v, ts)
	}
	if s.custom != nil {
		if ts != NoTimestamp {
			s.custom.OnEvent(ts)
		}
	} else if ts > s.maxTs {
		s.maxTs = ts
	}
	s.sawRecord = true
	o.emitted = true
	o.c.Collect(v, ts)
}

// WatermarkGenerator tracks the event times of a split and says how far
// event time has progressed.
type WatermarkGenerator interface {
	// OnEvent observes a record's timestamp.
	OnEvent(ts int64)
	// CurrentWatermark returns the watermark: no record with a timestamp at
	// or below it is expected any more.
	CurrentWatermark() int64
}

// WatermarkStrategy says how a source assigns timestamps and generates
// watermarks, per split.
type WatermarkStrategy[T any] struct {
	// Timestamp returns a record's event time, given the timestamp the
	// source attached (NoTimestamp if none). Nil keeps the source's.
	Timestamp func(v T, sourceTs int64) int64
	// MaxOutOfOrderness is how late a record may arrive behind the largest
	// timestamp seen: the watermark is max timestamp - MaxOutOfOrderness - 1.
	// Zero gives monotonous timestamps.
	MaxOutOfOrderness time.Duration
	// IdleTimeout marks a split idle after this long without records, so
	// that it stops holding back the watermark; zero never does.
	IdleTimeout time.Duration
	// Generator, if set, replaces the bounded-out-of-orderness generator.
	Generator func() WatermarkGenerator
	// None disables watermarks: only the final watermark at the end of a
	// bounded input is emitted.
	None bool
}

// BoundedOutOfOrderness is the strategy for records that arrive at most d
// behind the largest timestamp seen, with event times from ts.
func BoundedOutOfOrderness[T any](d time.Duration, ts func(v T) int64) WatermarkStrategy[T] {
	return WatermarkStrategy[T]{Timestamp: func(v T, _ int64) int64 { return ts(v) }, MaxOutOfOrderness: d}
}

// Monotonous is the strategy for ascending timestamps.
func Monotonous[T any](ts func(v T) int64) WatermarkStrategy[T] {
	return BoundedOutOfOrderness(0, ts)
}

// SourceTimestamps is the strategy that keeps the timestamps the source
// attaches (e.g. arrival times), allowing d out of orderness.
func SourceTimestamps[T any](d time.Duration) WatermarkStrategy[T] {
	return WatermarkStrategy[T]{MaxOutOfOrderness: d}
}

// NoWatermarks is the strategy of processing-time jobs.
func NoWatermarks[T any]() WatermarkStrategy[T] { return WatermarkStrategy[T]{None: true} }

// WithIdleness returns s with an idle timeout.
func (s WatermarkStrategy[T]) WithIdleness(d time.Duration) WatermarkStrategy[T] {
	s.IdleTimeout = d
	return s
}

// boundedGenerator is the bounded-out-of-orderness generator as a
// WatermarkGenerator, for FromRecords.
type boundedGenerator struct {
	delay int64
	max   int64
}

func (g *boundedGenerator) OnEvent(ts int64) {
	if ts > g.max {
		g.max = ts
	}
}

func (g *boundedGenerator) CurrentWatermark() int64 {
	if g.max == MinTime {
		return MinTime
	}
	return g.max - g.delay - 1
}

// Reserve returns space for up to n records (at most Room()) in the current
// batch, for readers that produce records in bulk: fill a prefix of it and
// pass its length to Commit before any other call on the output. The
// records then go through the same timestamp assignment as Collect.
func (o *SourceOutput[T]) Reserve(n int) []Record[T] {
	c := o.c
	return c.buf[c.n : c.n+min(n, len(c.buf)-c.n)]
}

// Commit emits the first n records written into the slice Reserve
// returned. Records without a timestamp function keep the Time written.
func (o *SourceOutput[T]) Commit(n int) {
	if n <= 0 {
		return
	}
	c := o.c
	if !o.plain {
		s := o.def
		for i := c.n; i < c.n+n; i++ {
			r := &c.buf[i]
			if o.strategy.Timestamp != nil {
				r.Time = o.strategy.Timestamp(r.Value, r.Time)
			}
			if s.custom != nil {
				if r.Time != NoTimestamp {
					s.custom.OnEvent(r.Time)
				}
			} else if r.Time > s.maxTs {
				s.maxTs = r.Time
			}
		}
		s.sawRecord = true
	}
	o.emitted = true
	if c.n += n; c.n == len(c.buf) {
		c.flush()
	}
}
