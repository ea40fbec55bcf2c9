package shardconn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// SinkOptions configure a Sink. The zero value with Stream set is valid.
type SinkOptions struct {
	// Stream is the stream to write. Required.
	Stream shardlog.StreamRef
	// MaxBatchRecords and MaxBatchBytes bound one PutRecords call: the
	// records, and their partition keys plus data. Defaults (and maxima)
	// 500 and 5 MiB, Kinesis's limits.
	MaxBatchRecords int
	MaxBatchBytes   int
	// MaxInFlight is how many PutRecords calls one writer (subtask) has
	// outstanding. Default 1, which keeps each partition key's records in
	// order unless one is retried. A writer buffers at most
	// 2*MaxInFlight+1 batches; when they are full, Write blocks
	// (backpressure).
	MaxInFlight int
	// InitialBackoff and MaxBackoff bound the wait before a batch's
	// throttled or failed records are retried: it doubles from
	// InitialBackoff up to MaxBackoff, with jitter. Defaults 50 ms and 2 s.
	// Retryable failures are retried until they succeed or the job stops.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Aggregate packs the records into KPL aggregates (connectors/kpl),
	// per open shard of the stream as the KPL does, so that each
	// aggregate lands on the shard all its records map to; readers that
	// de-aggregate (this package's Source, the KCL, Lambda's
	// aws-kinesis-agg, Firehose) see the records again. Aggregation
	// bounds each aggregate (default 51200 bytes, 4294967295 records).
	// A record waits in its aggregate at most AggregationMaxBufferedTime
	// (the KPL's RecordMaxBufferedTime; default 100 ms, on the job's
	// clock) and never past a checkpoint barrier. The shard map is read
	// again at every flush of the aggregates, so that after a reshard new
	// aggregates follow the new shards.
	Aggregate                  bool
	Aggregation                kpl.AggregatorOptions
	AggregationMaxBufferedTime time.Duration
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SinkOptions) EnsureDefaults() {
	if o.MaxBatchRecords == 0 {
		o.MaxBatchRecords = shardlog.MaxPutRecords
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = shardlog.MaxPutRecordsBytes
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 1
	}
	if o.InitialBackoff == 0 {
		o.InitialBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 2 * time.Second
	}
	if o.AggregationMaxBufferedTime == 0 {
		o.AggregationMaxBufferedTime = kpl.DefaultMaxBufferedTime
	}
}

// Validate reports options that cannot work.
func (o *SinkOptions) Validate() error {
	switch {
	case o.Stream.Name == "" && o.Stream.ARN == "":
		return errors.New("shardconn: sink: SinkOptions.Stream is required")
	case o.MaxBatchRecords < 1 || o.MaxBatchRecords > shardlog.MaxPutRecords:
		return fmt.Errorf("shardconn: sink: MaxBatchRecords %d is outside [1, %d]", o.MaxBatchRecords, shardlog.MaxPutRecords)
	case o.MaxBatchBytes < shardlog.MaxRecordBytes || o.MaxBatchBytes > shardlog.MaxPutRecordsBytes:
		return fmt.Errorf("shardconn: sink: MaxBatchBytes %d is outside [%d, %d]", o.MaxBatchBytes, shardlog.MaxRecordBytes, shardlog.MaxPutRecordsBytes)
	case o.MaxInFlight < 1:
		return fmt.Errorf("shardconn: sink: MaxInFlight %d must be at least 1", o.MaxInFlight)
	case o.InitialBackoff <= 0 || o.MaxBackoff < o.InitialBackoff:
		return fmt.Errorf("shardconn: sink: backoff %s..%s", o.InitialBackoff, o.MaxBackoff)
	case o.AggregationMaxBufferedTime < 0:
		return fmt.Errorf("shardconn: sink: negative AggregationMaxBufferedTime %s", o.AggregationMaxBufferedTime)
	}
	if o.Aggregate {
		if _, err := kpl.NewAggregator(o.Aggregation, nil); err != nil {
			return fmt.Errorf("shardconn: sink: %w", err)
		}
	}
	return nil
}

// Encoder turns a value into a record for the log: its partition key, an
// optional explicit hash key (a decimal in [0, 2^128-1] that overrides the
// MD5 of the key) and its data. buf is an empty slice with spare capacity
// that the sink reuses: appending the data to it (e.g. strconv.AppendInt,
// json encoding into it) costs no allocation. The sink copies Data before
// Encode is called again, so Data may also be any slice the encoder keeps.
type Encoder[T any] func(v T, buf []byte) (shardlog.PutEntry, error)

// SinkStats count a sink's work over all its writers.
type SinkStats struct {
	Records   int64 // records acknowledged by the log
	Calls     int64 // PutRecords calls, retries included
	Retried   int64 // records sent again after a throttled or failed attempt
	Throttled int64 // records refused with ProvisionedThroughputExceededException
}

// Sink writes a stream into a stream of a Log with PutRecords. It is
// at-least-once, as Flink's Kinesis sink: at every checkpoint barrier each
// writer sends everything it has buffered and waits until the log has
// acknowledged every record (durably, under SyncAlways), so a completed
// checkpoint never covers an unwritten record; after a restore the records
// since the checkpoint are written again, so a record may be stored twice.
//
// Records are batched into PutRecords calls of up to 500 records and 5 MiB.
// A writer sends a batch as soon as it has no call outstanding, so batches
// grow with the load and a lone record waits for no timer. Throttled
// (ProvisionedThroughputExceededException) and transiently failed records
// are retried with exponential backoff; a writer holds a bounded number of
// batches and blocks the job (backpressure) when they are full.
//
// A record the log refuses for good — a partition key outside 1..256
// bytes, key plus data over 1 MiB, a malformed explicit hash key — fails
// the job with an error naming the problem (it wraps the log's
// *Error, ValidationException or InvalidArgumentException), as does an
// Encoder error or a refusal of the whole stream (it does not exist). Order:
// with MaxInFlight 1 each partition key's records are stored in the order
// written, except that a retried record lands after the records of its
// batch that were accepted at the first attempt (as with Kinesis
// PutRecords).
type Sink[T any] struct {
	l    *shardlog.Log
	opts SinkOptions
	enc  Encoder[T]

	records, calls, retried, throttled atomic.Int64
}

// NewSink returns a sink into opts.Stream of l, encoding values with enc.
func NewSink[T any](l *shardlog.Log, opts SinkOptions, enc Encoder[T]) (*Sink[T], error) {
	if l == nil {
		return nil, errors.New("shardconn: sink: nil Log")
	}
	if enc == nil {
		return nil, errors.New("shardconn: sink: nil Encoder")
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Sink[T]{l: l, opts: opts, enc: enc}, nil
}

// Stats returns the sink's counters.
func (s *Sink[T]) Stats() SinkStats {
	return SinkStats{Records: s.records.Load(), Calls: s.calls.Load(), Retried: s.retried.Load(), Throttled: s.throttled.Load()}
}

// Open implements engine.Sink. The writer's goroutines stop when it is
// closed or ctx ends.
func (s *Sink[T]) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	wctx, cancel := context.WithCancel(ctx)
	clk := info.Clock
	if clk == nil {
		clk = clock.Real
	}
	w := &sinkWriter[T]{s: s, ctx: wctx, cancel: cancel, name: info.Name, clock: clk, scratch: make([]byte, 0, 4<<10)}
	w.cond = sync.NewCond(&w.mu)
	if s.opts.Aggregate {
		m, err := ShardMap(s.l, s.opts.Stream)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("shardconn: sink %s: %w", info.Name, err)
		}
		if w.agg, err = kpl.NewAggregator(s.opts.Aggregation, m); err != nil {
			cancel()
			return nil, fmt.Errorf("shardconn: sink %s: %w", info.Name, err)
		}
		w.wg.Add(1)
		go w.linger()
	}
	for i := 0; i < s.opts.MaxInFlight; i++ {
		w.wg.Add(1)
		go w.sender()
	}
	return w, nil
}

// putBatch is one PutRecords call's records; data holds their data blobs.
type putBatch struct {
	entries []shardlog.PutEntry
	bytes   int
	data    []byte
	results []shardlog.PutResult
	retryA  []shardlog.PutEntry
	retryB  []shardlog.PutEntry
}

func (b *putBatch) reset() *putBatch {
	clear(b.entries)
	b.entries = b.entries[:0]
	b.bytes = 0
	b.data = b.data[:0]
	clear(b.retryA)
	clear(b.retryB)
	return b
}

// add copies e's data into the batch. Appending never moves data that
// entries already point to: a full array is left to them, and a new one
// is started.
func (b *putBatch) add(e shardlog.PutEntry) {
	if n := len(e.Data); n > 0 {
		if cap(b.data)-len(b.data) < n {
			b.data = make([]byte, 0, max(2*cap(b.data), n, 64<<10))
		}
		start := len(b.data)
		b.data = append(b.data, e.Data...)
		e.Data = b.data[start:len(b.data):len(b.data)]
	}
	b.entries = append(b.entries, e)
	b.bytes += len(e.PartitionKey) + len(e.Data)
}

// sinkWriter is one subtask's writer: Write fills batches on the task's
// goroutine, MaxInFlight sender goroutines put them.
type sinkWriter[T any] struct {
	s      *Sink[T]
	ctx    context.Context
	cancel context.CancelFunc
	name   string
	clock  clock.Clock // the job's: retry waits run on it
	wg     sync.WaitGroup

	scratch []byte // encoder buffer, task goroutine only

	mu      sync.Mutex
	cond    *sync.Cond
	cur     *putBatch   // being filled
	queue   []*putBatch // full, waiting for a sender
	busy    int         // batches being put
	free    []*putBatch
	err     error // the first permanent failure
	closing bool

	// With SinkOptions.Aggregate: the aggregates in progress, since when
	// the oldest record waits in them, and a scratch for their output.
	agg      *kpl.Aggregator
	aggSince time.Time
	aggOut   []kpl.Entry
}

// Write implements engine.SinkWriter. It blocks while the writer's batches
// are all full or in flight.
func (w *sinkWriter[T]) Write(b []engine.Record[T]) error {
	o := &w.s.opts
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	for i := range b {
		e, err := w.s.enc(b[i].Value, w.scratch[:0])
		if err != nil {
			return fmt.Errorf("shardconn: sink %s: encode: %w", w.name, err)
		}
		if n := len(e.Data); n > cap(w.scratch) && n <= shardlog.MaxRecordBytes {
			// Give the next encodings room (a fresh array: e.Data may be
			// the encoder's own).
			w.scratch = make([]byte, 0, 2*n)
		}
		if err := shardlog.ValidateEntry(&e); err != nil {
			return fmt.Errorf("shardconn: sink %s: record refused: %w", w.name, err)
		}
		if w.agg != nil {
			if err := w.aggregateLocked(e); err != nil {
				return err
			}
			continue
		}
		if err := w.addLocked(e); err != nil {
			return err
		}
	}
	if w.agg != nil && !w.aggSince.IsZero() && clock.Since(w.clock, w.aggSince) >= o.AggregationMaxBufferedTime {
		if err := w.flushAggregatesLocked(); err != nil {
			return err
		}
	}
	// An idle sender takes what has gathered.
	w.cond.Broadcast()
	return nil
}

// addLocked adds e to the batch being filled, sealing it first if e does
// not fit.
func (w *sinkWriter[T]) addLocked(e shardlog.PutEntry) error {
	o := &w.s.opts
	size := len(e.PartitionKey) + len(e.Data)
	if w.cur != nil && (len(w.cur.entries) == o.MaxBatchRecords || w.cur.bytes+size > o.MaxBatchBytes) {
		if err := w.sealLocked(); err != nil {
			return err
		}
	}
	if w.cur == nil {
		w.cur = w.newBatchLocked()
	}
	w.cur.add(e)
	return nil
}

// aggregateLocked adds e to its shard's aggregate, and the aggregates it
// completes to the batches.
func (w *sinkWriter[T]) aggregateLocked(e shardlog.PutEntry) error {
	out, err := w.agg.Add(w.aggOut[:0], kpl.UserRecord{PartitionKey: e.PartitionKey, ExplicitHashKey: e.ExplicitHashKey, Data: e.Data})
	if err != nil {
		return fmt.Errorf("shardconn: sink %s: record refused: %w", w.name, err)
	}
	w.aggOut = out
	if err := w.addEntriesLocked(out); err != nil {
		return err
	}
	if w.agg.Buffered() == 0 {
		w.aggSince = time.Time{}
	} else if w.aggSince.IsZero() {
		w.aggSince = w.clock.Now()
	}
	return nil
}

func (w *sinkWriter[T]) addEntriesLocked(es []kpl.Entry) error {
	for i := range es {
		k := &es[i]
		if err := w.addLocked(shardlog.PutEntry{PartitionKey: k.PartitionKey, ExplicitHashKey: k.ExplicitHashKey, Data: k.Data}); err != nil {
			return err
		}
		*k = kpl.Entry{}
	}
	return nil
}

// flushAggregatesLocked sends the aggregates in progress to the batches
// and reads the shard map again.
func (w *sinkWriter[T]) flushAggregatesLocked() error {
	w.aggOut = w.agg.Flush(w.aggOut[:0])
	if err := w.addEntriesLocked(w.aggOut); err != nil {
		return err
	}
	w.aggSince = time.Time{}
	m, err := ShardMap(w.s.l, w.s.opts.Stream)
	if err != nil {
		return fmt.Errorf("shardconn: sink %s: %w", w.name, err)
	}
	w.agg.SetShards(nil, m)
	return nil
}

// linger sends aggregates whose oldest record has waited
// AggregationMaxBufferedTime, on the job's clock, until the writer closes.
func (w *sinkWriter[T]) linger() {
	defer w.wg.Done()
	d := w.s.opts.AggregationMaxBufferedTime
	for {
		t := w.clock.NewTimer(d)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		w.mu.Lock()
		if !w.closing && w.err == nil && !w.aggSince.IsZero() && clock.Since(w.clock, w.aggSince) >= d {
			if err := w.flushAggregatesLocked(); err != nil && w.err == nil {
				w.err = err
			}
			w.cond.Broadcast()
		}
		w.mu.Unlock()
	}
}

func (w *sinkWriter[T]) newBatchLocked() *putBatch {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return &putBatch{}
}

// sealLocked queues the current batch, waiting while the queue is full.
func (w *sinkWriter[T]) sealLocked() error {
	b := w.cur
	for len(w.queue) >= w.s.opts.MaxInFlight && w.err == nil && !w.closing && w.cur == b {
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if w.closing {
		return fmt.Errorf("shardconn: sink %s: writer closed", w.name)
	}
	if w.cur == b {
		// Not taken by an idle sender while we waited.
		w.queue = append(w.queue, b)
		w.cond.Broadcast()
	}
	w.cur = nil
	return nil
}

// flush sends everything buffered and waits until the log has acknowledged
// it, or a permanent failure.
func (w *sinkWriter[T]) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.agg != nil && w.err == nil {
		if err := w.flushAggregatesLocked(); err != nil {
			return err
		}
	}
	w.cond.Broadcast()
	for w.err == nil && (len(w.queue) > 0 || w.cur != nil && len(w.cur.entries) > 0 || w.busy > 0) {
		if w.ctx.Err() != nil {
			return fmt.Errorf("shardconn: sink %s: %w", w.name, w.ctx.Err())
		}
		w.cond.Wait()
	}
	return w.err
}

// Prepare implements engine.CommittingWriter: at every checkpoint barrier
// the writer flushes and waits for every record to be acknowledged. It
// stages nothing, so it returns no committable.
func (w *sinkWriter[T]) Prepare(int64) ([]byte, error) { return nil, w.flush() }

// Commit implements engine.CommittingWriter; the records are in the log
// already.
func (w *sinkWriter[T]) Commit([][]byte) error { return nil }

// EndInput implements engine.EndInputHook: a bounded input's last records
// are written before the job ends.
func (w *sinkWriter[T]) EndInput() error { return w.flush() }

// Close implements engine.SinkWriter: it stops the senders. Records not yet
// flushed are dropped (the job is failing or was cancelled; a restore
// writes them again).
func (w *sinkWriter[T]) Close() error {
	w.mu.Lock()
	w.closing = true
	w.cond.Broadcast()
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
	return nil
}

// sender puts batches until the writer closes.
func (w *sinkWriter[T]) sender() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		for !w.closing && w.err == nil && len(w.queue) == 0 && (w.cur == nil || len(w.cur.entries) == 0) {
			w.cond.Wait()
		}
		if w.closing || w.err != nil {
			w.mu.Unlock()
			return
		}
		var b *putBatch
		if len(w.queue) > 0 {
			b = w.queue[0]
			copy(w.queue, w.queue[1:])
			w.queue[len(w.queue)-1] = nil
			w.queue = w.queue[:len(w.queue)-1]
		} else {
			b, w.cur = w.cur, nil
		}
		w.busy++
		w.cond.Broadcast() // a blocked Write may go on
		w.mu.Unlock()

		err := w.put(b)

		w.mu.Lock()
		w.busy--
		if err != nil && w.err == nil {
			w.err = err
		}
		w.free = append(w.free, b.reset())
		w.cond.Broadcast()
		w.mu.Unlock()
	}
}

// put sends b, retrying throttled and transiently failed records with
// backoff until every record is stored, a permanent error, or the writer's
// context ends.
func (w *sinkWriter[T]) put(b *putBatch) error {
	s := w.s
	o := &s.opts
	entries, useA := b.entries, true
	policy := backoff.Policy{Initial: o.InitialBackoff, Multiplier: 2, Max: o.MaxBackoff, Jitter: true}
	for attempt := 1; ; attempt++ {
		res, err := s.l.PutRecords(w.ctx, o.Stream, entries, b.results[:0])
		s.calls.Add(1)
		if err == nil {
			b.results = res
			failed := b.retryB[:0]
			if useA {
				failed = b.retryA[:0]
			}
			var permanent error
			throttled := 0
			for i := range res {
				r := &res[i]
				switch r.ErrorCode {
				case "":
					continue
				case shardlog.CodeProvisionedThroughput:
					throttled++
					failed = append(failed, entries[i])
				case shardlog.CodeInternalFailure:
					failed = append(failed, entries[i])
				default:
					if permanent == nil {
						permanent = r.Err
					}
				}
			}
			s.records.Add(int64(len(res) - len(failed)))
			s.throttled.Add(int64(throttled))
			if permanent != nil {
				return fmt.Errorf("shardconn: sink %s: record refused: %w", w.name, permanent)
			}
			if len(failed) == 0 {
				return nil
			}
			s.retried.Add(int64(len(failed)))
			// The two retry slices alternate: failed is built from
			// entries, which is the other one.
			if useA {
				b.retryA = failed
			} else {
				b.retryB = failed
			}
			entries, useA = failed, !useA
		} else if !shardlog.IsRetryable(err) {
			if w.ctx.Err() != nil {
				return fmt.Errorf("shardconn: sink %s: %w", w.name, w.ctx.Err())
			}
			return fmt.Errorf("shardconn: sink %s: PutRecords: %w", w.name, err)
		}
		if err := clock.Sleep(w.ctx, w.clock, policy.Wait(attempt)); err != nil {
			return fmt.Errorf("shardconn: sink %s: %w", w.name, w.ctx.Err())
		}
	}
}

var (
	_ engine.CommittingWriter = (*sinkWriter[int])(nil)
	_ engine.EndInputHook     = (*sinkWriter[int])(nil)
)
