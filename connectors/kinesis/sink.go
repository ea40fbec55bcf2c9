package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// Kinesis's limits on PutRecords.
const (
	MaxPutRecords      = 500
	MaxPutRecordsBytes = 5 << 20
	MaxRecordBytes     = 1 << 20
	MaxPartitionKey    = 256
)

// SinkOptions configure a Sink.
type SinkOptions struct {
	// Stream is the stream's name; StreamARN its ARN. One is required;
	// with both, the ARN is used.
	Stream    string
	StreamARN string
	// MaxBatchRecords and MaxBatchBytes bound one PutRecords call: its
	// records, and their partition keys plus data. Defaults (and maxima)
	// 500 and 5 MiB.
	MaxBatchRecords int
	MaxBatchBytes   int
	// FlushTimeout sends a partial batch once its oldest record is this
	// old (Flink's sink.flush-buffer.timeout). Batches are also sent when
	// full, at every checkpoint barrier and at the end of input. Default
	// 5 s.
	FlushTimeout time.Duration
	// InitialBackoff and MaxBackoff bound the wait before the records a
	// call refused (throttled, or an internal failure) are sent again; it
	// doubles, with jitter. Defaults 100 ms and 5 s. They are retried
	// until they are stored or the job stops.
	InitialBackoff, MaxBackoff time.Duration
	// FailOnError fails the job at the first record a call refuses,
	// throttled ones included, instead of sending it again (Flink's
	// sink.fail-on-error).
	FailOnError bool
	// Aggregate packs the records into KPL aggregates (connectors/kpl)
	// per open shard, as the KPL does with the shard map ListShards gives:
	// each aggregate carries the explicit hash key of its first record, so
	// it lands on the shard all its records map to, and consumers that
	// de-aggregate (this package's Source, the KCL, Lambda, Firehose) see
	// the records again. Aggregation bounds each aggregate (default 51200
	// bytes and 4294967295 records). Aggregates are sent when full, after
	// FlushTimeout, at barriers and at the end of input; when a record
	// lands on another shard than predicted (a reshard), the shard map is
	// listed again.
	Aggregate   bool
	Aggregation kpl.AggregatorOptions
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SinkOptions) EnsureDefaults() {
	if o.MaxBatchRecords == 0 {
		o.MaxBatchRecords = MaxPutRecords
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = MaxPutRecordsBytes
	}
	if o.FlushTimeout == 0 {
		o.FlushTimeout = 5 * time.Second
	}
	if o.InitialBackoff == 0 {
		o.InitialBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Second
	}
}

// Validate reports options that cannot work.
func (o *SinkOptions) Validate() error {
	switch {
	case o.Stream == "" && o.StreamARN == "":
		return errors.New("kinesis: sink: a stream name or ARN is required")
	case o.MaxBatchRecords < 1 || o.MaxBatchRecords > MaxPutRecords:
		return fmt.Errorf("kinesis: sink: MaxBatchRecords %d is outside [1, %d]", o.MaxBatchRecords, MaxPutRecords)
	case o.MaxBatchBytes < MaxRecordBytes || o.MaxBatchBytes > MaxPutRecordsBytes:
		return fmt.Errorf("kinesis: sink: MaxBatchBytes %d is outside [%d, %d]", o.MaxBatchBytes, MaxRecordBytes, MaxPutRecordsBytes)
	case o.FlushTimeout < 0:
		return fmt.Errorf("kinesis: sink: negative FlushTimeout %s", o.FlushTimeout)
	case o.InitialBackoff <= 0 || o.MaxBackoff < o.InitialBackoff:
		return fmt.Errorf("kinesis: sink: backoff %s..%s", o.InitialBackoff, o.MaxBackoff)
	}
	if o.Aggregate {
		if _, err := kpl.NewAggregator(o.Aggregation, nil); err != nil {
			return fmt.Errorf("kinesis: sink: %w", err)
		}
	}
	return nil
}

func (o *SinkOptions) streamName() string {
	if o.StreamARN != "" {
		return o.StreamARN
	}
	return o.Stream
}

// Entry is one record for PutRecords. ExplicitHashKey, if set, is a
// decimal in [0, 2^128-1] that picks the shard instead of the MD5 of the
// partition key.
type Entry struct {
	PartitionKey    string
	ExplicitHashKey string
	Data            []byte
}

// Encoder turns a value into a record. The sink keeps Data until the
// record is stored: the encoder must not reuse it.
type Encoder[T any] func(v T) (Entry, error)

var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// validate checks the limits Kinesis puts on one record.
func (e *Entry) validate() error {
	n := utf8.RuneCountInString(e.PartitionKey)
	switch {
	case n < 1 || n > MaxPartitionKey:
		return fmt.Errorf("partition key of %d characters (Kinesis takes 1 to %d)", n, MaxPartitionKey)
	case len(e.PartitionKey)+len(e.Data) > MaxRecordBytes:
		return fmt.Errorf("record of %d bytes with its partition key (Kinesis takes at most %d)", len(e.PartitionKey)+len(e.Data), MaxRecordBytes)
	}
	if e.ExplicitHashKey != "" {
		k, ok := new(big.Int).SetString(e.ExplicitHashKey, 10)
		if !ok || k.Sign() < 0 || k.Cmp(maxHashKey) > 0 {
			return fmt.Errorf("explicit hash key %q is not a decimal in [0, 2^128-1]", e.ExplicitHashKey)
		}
	}
	return nil
}

// SinkStats count a sink's work over all its writers.
type SinkStats struct {
	Records int64 // records stored
	Calls   int64 // PutRecords calls, retries included
	Retried int64 // records sent again after a refusal
}

// Sink writes a stream into a Kinesis stream with PutRecords. It is
// at-least-once, as Flink's Kinesis sink: at every checkpoint barrier a
// writer sends everything it holds and waits until Kinesis has stored it,
// so a completed checkpoint never covers an unwritten record; after a
// restore the records since the checkpoint are written again.
//
// Calls carry up to 500 records and 5 MiB. Records a call refuses
// (ProvisionedThroughputExceededException, InternalFailure, KMS
// throttling) and whole calls that were throttled are retried with
// backoff; any other refusal fails the job with Kinesis's error. Writes
// are synchronous: a full batch is sent before Write returns, which is
// the sink's backpressure; a partial one is sent FlushTimeout after its
// first record by a goroutine of the writer. A retried record lands after the records of its
// call that were stored at the first attempt, so a key's order holds only
// without retries (as with PutRecords itself).
type Sink[T any] struct {
	api  API
	opts SinkOptions
	// encFor makes each writer's encoder, given its subtask.
	encFor func(subtask int) Encoder[T]

	records, calls, retried atomic.Int64
}

// NewSink returns a sink into opts' stream through api.
func NewSink[T any](api API, opts SinkOptions, enc Encoder[T]) (*Sink[T], error) {
	if enc == nil {
		return nil, errors.New("kinesis: sink: nil Encoder")
	}
	return NewSinkPerSubtask(api, opts, func(int) Encoder[T] { return enc })
}

// NewSinkPerSubtask returns a sink whose writers encode with encoders of
// their own: encFor is called once per writer with its subtask (Flink's
// fixed partitioner keys each record by its subtask, say).
func NewSinkPerSubtask[T any](api API, opts SinkOptions, encFor func(subtask int) Encoder[T]) (*Sink[T], error) {
	if api == nil {
		return nil, errors.New("kinesis: sink: nil API")
	}
	if encFor == nil {
		return nil, errors.New("kinesis: sink: nil Encoder")
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Sink[T]{api: api, opts: opts, encFor: encFor}, nil
}

// Stats returns the sink's counters.
func (s *Sink[T]) Stats() SinkStats {
	return SinkStats{Records: s.records.Load(), Calls: s.calls.Load(), Retried: s.retried.Load()}
}

// Open implements engine.Sink. Each writer has a goroutine that sends a
// partial batch once its oldest record is FlushTimeout old (by the job's
// clock); it stops when the writer closes.
func (s *Sink[T]) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	wctx, cancel := context.WithCancel(ctx)
	enc := s.encFor(info.Subtask)
	if enc == nil {
		cancel()
		return nil, fmt.Errorf("kinesis: sink %s: no encoder for subtask %d", info.Name, info.Subtask)
	}
	w := &sinkWriter[T]{s: s, enc: enc, ctx: wctx, cancel: cancel, name: info.Name, clock: clock.Or(info.Clock),
		policy: backoff.Policy{Initial: s.opts.InitialBackoff, Multiplier: 2, Max: s.opts.MaxBackoff, Jitter: true},
		kick:   make(chan struct{}, 1)}
	if s.opts.Aggregate {
		var err error
		if w.agg, err = kpl.NewAggregator(s.opts.Aggregation, nil); err != nil {
			cancel()
			return nil, fmt.Errorf("kinesis: sink %s: %w", info.Name, err)
		}
		if err := w.loadShards(); err != nil {
			cancel()
			return nil, err
		}
	}
	w.wg.Add(1)
	go w.flusher()
	return w, nil
}

// loadShards lists the open shards for the aggregator. The caller holds mu
// or owns w alone.
func (w *sinkWriter[T]) loadShards() error {
	rs, err := KPLListShards(w.s.api, w.s.opts.streamName())(w.ctx)
	if err != nil {
		return fmt.Errorf("kinesis: sink %s: %w", w.name, err)
	}
	m, err := kpl.NewShardMap(rs)
	if err != nil {
		return fmt.Errorf("kinesis: sink %s: %w", w.name, err)
	}
	out := w.agg.SetShards(w.aggOut[:0], m)
	w.reload = false
	return w.bufferAggregatesLocked(out)
}

type sinkWriter[T any] struct {
	s      *Sink[T]
	enc    Encoder[T]
	ctx    context.Context
	cancel context.CancelFunc
	name   string
	clock  clock.Clock
	policy backoff.Policy
	wg     sync.WaitGroup
	kick   chan struct{} // the buffer has become non-empty

	// mu guards the buffer and is held while it is sent, by Write (on the
	// task's goroutine) or by the flusher.
	mu     sync.Mutex
	buf    []types.PutRecordsRequestEntry
	bytes  int
	oldest time.Time // when the first buffered record was written
	bgErr  error     // the flusher's failure, returned by the next call

	// With SinkOptions.Aggregate: the aggregates in progress, the shard
	// each buffered entry was aggregated for ("" for none), and whether a
	// put landed elsewhere so that the shards must be listed again.
	agg       *kpl.Aggregator
	aggOut    []kpl.Entry
	predicted []string
	reload    bool
}

// pendingLocked reports whether records wait in the buffer or in
// aggregates.
func (w *sinkWriter[T]) pendingLocked() bool {
	return len(w.buf) > 0 || w.agg != nil && w.agg.Buffered() > 0
}

// appendLocked adds e to the buffer, sending it first when e does not fit.
func (w *sinkWriter[T]) appendLocked(e Entry, shard string) error {
	o := &w.s.opts
	size := len(e.PartitionKey) + len(e.Data)
	if len(w.buf) == o.MaxBatchRecords || w.bytes+size > o.MaxBatchBytes {
		if err := w.send(); err != nil {
			return err
		}
	}
	re := types.PutRecordsRequestEntry{PartitionKey: aws.String(e.PartitionKey), Data: e.Data}
	if e.ExplicitHashKey != "" {
		re.ExplicitHashKey = aws.String(e.ExplicitHashKey)
	}
	w.buf = append(w.buf, re)
	w.predicted = append(w.predicted, shard)
	w.bytes += size
	return nil
}

func (w *sinkWriter[T]) bufferAggregatesLocked(es []kpl.Entry) error {
	for i := range es {
		k := &es[i]
		if err := w.appendLocked(Entry{PartitionKey: k.PartitionKey, ExplicitHashKey: k.ExplicitHashKey, Data: k.Data}, k.ShardID); err != nil {
			return err
		}
		*k = kpl.Entry{}
	}
	w.aggOut = es[:0]
	return nil
}

// sendAllLocked sends the buffer and every aggregate in progress.
func (w *sinkWriter[T]) sendAllLocked() error {
	if w.agg != nil {
		if err := w.bufferAggregatesLocked(w.agg.Flush(w.aggOut[:0])); err != nil {
			return err
		}
	}
	if err := w.send(); err != nil {
		return err
	}
	if w.agg != nil && w.reload {
		return w.loadShards()
	}
	return nil
}

// flusher sends the buffer when its oldest record is FlushTimeout old.
func (w *sinkWriter[T]) flusher() {
	defer w.wg.Done()
	timeout := w.s.opts.FlushTimeout
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-w.kick:
		}
		for {
			w.mu.Lock()
			if !w.pendingLocked() || w.bgErr != nil {
				w.mu.Unlock()
				break
			}
			due := w.oldest.Add(timeout)
			if !w.clock.Now().Before(due) {
				if err := w.sendAllLocked(); err != nil {
					w.bgErr = err
				}
				w.mu.Unlock()
				continue
			}
			w.mu.Unlock()
			t := w.clock.NewTimer(due.Sub(w.clock.Now()))
			select {
			case <-w.ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
		}
	}
}

// Write implements engine.SinkWriter.
func (w *sinkWriter[T]) Write(b []engine.Record[T]) error {
	o := &w.s.opts
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bgErr != nil {
		return w.bgErr
	}
	for i := range b {
		e, err := w.enc(b[i].Value)
		if err != nil {
			return fmt.Errorf("kinesis: sink %s: encode: %w", w.name, err)
		}
		if err := e.validate(); err != nil {
			return fmt.Errorf("kinesis: sink %s: record refused: %w", w.name, err)
		}
		if !w.pendingLocked() {
			w.oldest = w.clock.Now()
			select { // the flusher times the new batch
			case w.kick <- struct{}{}:
			default:
			}
		}
		if w.agg == nil {
			if err := w.appendLocked(e, ""); err != nil {
				return err
			}
			continue
		}
		if w.reload {
			if err := w.loadShards(); err != nil {
				return err
			}
		}
		out, err := w.agg.Add(w.aggOut[:0], kpl.UserRecord{PartitionKey: e.PartitionKey, ExplicitHashKey: e.ExplicitHashKey, Data: e.Data})
		if err != nil {
			return fmt.Errorf("kinesis: sink %s: record refused: %w", w.name, err)
		}
		if err := w.bufferAggregatesLocked(out); err != nil {
			return err
		}
	}
	if w.pendingLocked() && w.clock.Now().Sub(w.oldest) >= o.FlushTimeout {
		return w.sendAllLocked()
	}
	return nil
}

// retryable reports per-record error codes after which the record is sent
// again.
func retryable(code string) bool {
	switch code {
	case "ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException":
		return true
	}
	return false
}

// send puts the buffered records, retrying refused ones, until every one
// is stored, a permanent refusal, or the writer's context ends. The caller
// holds mu.
func (w *sinkWriter[T]) send() error {
	s := w.s
	entries := w.buf
	first := true
	for attempt := 1; len(entries) > 0; attempt++ {
		in := &kinesis.PutRecordsInput{Records: entries}
		streamInput(s.opts.Stream, s.opts.StreamARN, &in.StreamName, &in.StreamARN)
		res, err := s.api.PutRecords(w.ctx, in)
		s.calls.Add(1)
		if err != nil {
			if w.ctx.Err() != nil {
				return fmt.Errorf("kinesis: sink %s: %w", w.name, w.ctx.Err())
			}
			if !throttled(err) {
				return fmt.Errorf("kinesis: sink %s: PutRecords %s: %w", w.name, s.opts.streamName(), err)
			}
		} else {
			if len(res.Records) != len(entries) {
				return fmt.Errorf("kinesis: sink %s: PutRecords %s answered %d results for %d records", w.name, s.opts.streamName(), len(res.Records), len(entries))
			}
			var failed []types.PutRecordsRequestEntry
			for i := range res.Records {
				r := &res.Records[i]
				code := aws.ToString(r.ErrorCode)
				if first && code == "" && i < len(w.predicted) && w.predicted[i] != "" && aws.ToString(r.ShardId) != w.predicted[i] {
					w.reload = true // aggregated for a shard that no longer takes its keys
				}
				switch {
				case code == "":
				case retryable(code) && !s.opts.FailOnError:
					failed = append(failed, entries[i])
				default:
					return fmt.Errorf("kinesis: sink %s: PutRecords %s refused a record: %s: %s", w.name, s.opts.streamName(), code, aws.ToString(r.ErrorMessage))
				}
			}
			first = false
			s.records.Add(int64(len(entries) - len(failed)))
			if len(failed) == 0 {
				break
			}
			s.retried.Add(int64(len(failed)))
			entries = failed
		}
		if err := clock.Sleep(w.ctx, w.clock, w.policy.Wait(attempt)); err != nil {
			return fmt.Errorf("kinesis: sink %s: %w", w.name, err)
		}
	}
	clear(w.buf)
	clear(w.predicted)
	w.buf, w.bytes, w.predicted = w.buf[:0], 0, w.predicted[:0]
	return nil
}

// Prepare implements engine.CommittingWriter: at every checkpoint barrier
// the writer sends what it holds and waits until it is stored. It stages
// nothing, so it returns no committable.
func (w *sinkWriter[T]) Prepare(int64) ([]byte, error) { return nil, w.flush() }

// flush sends the buffer, or returns the flusher's failure.
func (w *sinkWriter[T]) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bgErr != nil {
		return w.bgErr
	}
	return w.sendAllLocked()
}

// Commit implements engine.CommittingWriter: the records are stored
// already.
func (w *sinkWriter[T]) Commit([][]byte) error { return nil }

// EndInput implements engine.EndInputHook: a bounded input's last records
// are written before the job ends.
func (w *sinkWriter[T]) EndInput() error { return w.flush() }

// Close implements engine.SinkWriter. Records not yet sent are dropped
// (the job is failing or cancelled; a restore writes them again).
func (w *sinkWriter[T]) Close() error {
	w.cancel()
	w.wg.Wait()
	return nil
}

var (
	_ engine.CommittingWriter = (*sinkWriter[int])(nil)
	_ engine.EndInputHook     = (*sinkWriter[int])(nil)
)
