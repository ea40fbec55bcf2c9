package kpl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// PutResult is the outcome of one entry of a PutRecords call, in the
// order of the request: a shard and sequence number, or an error code.
type PutResult struct {
	ShardID        string
	SequenceNumber string
	ErrorCode      string
	ErrorMessage   string
}

// PutRecordsFunc puts entries in one PutRecords call and returns one
// result per entry, in order. An error means the call as a whole failed.
type PutRecordsFunc func(ctx context.Context, entries []Entry) ([]PutResult, error)

// ListShardsFunc returns the stream's open shards and their hash key
// ranges (ListShards with the open-shards filter, or every shard without a
// child).
type ListShardsFunc func(ctx context.Context) ([]ShardRange, error)

// The KPL's PutRecords limits and defaults.
const (
	// MaxRecordsPerRequest is the most records of one PutRecords call
	// (the KPL's CollectionMaxCount).
	MaxRecordsPerRequest = 500
	// MaxBytesPerRequest is the most bytes of one PutRecords call (the
	// KPL's CollectionMaxSize): data and partition keys.
	MaxBytesPerRequest = 5 << 20
	// DefaultMaxBufferedTime is the KPL's RecordMaxBufferedTime.
	DefaultMaxBufferedTime = 100 * time.Millisecond
)

// ProducerOptions configure a Producer.
type ProducerOptions struct {
	// Aggregation is the aggregates' limits (the KPL's AggregationMaxSize
	// and AggregationMaxCount).
	Aggregation AggregatorOptions
	// DisableAggregation puts every user record as its own Kinesis record
	// (the KPL's AggregationEnabled=false); batching is unchanged.
	DisableAggregation bool
	// ListShards gives the stream's open shards, so that user records are
	// aggregated per shard. Without it nothing is aggregated, as the KPL
	// does while it has no shard map. It is called again when a put lands
	// on another shard than predicted (the stream was resharded).
	ListShards ListShardsFunc
	// MaxBufferedTime is the longest a user record waits before it is
	// sent (the KPL's RecordMaxBufferedTime); default 100 ms.
	MaxBufferedTime time.Duration
	// RecordsPerRequest and BytesPerRequest bound one PutRecords call;
	// defaults (and maxima) 500 records and 5 MiB.
	RecordsPerRequest int
	BytesPerRequest   int
	// Retry is the retry policy of failed calls and of failed entries;
	// default 100 ms doubling to 5 s with jitter, for at most 30 s (the
	// KPL's RecordTtl).
	Retry backoff.Policy
	// Clock drives the linger timer and the retry waits; default real.
	Clock clock.Clock
}

// ProducerStats counts what a Producer sent.
type ProducerStats struct {
	UserRecords    int64 // user records acknowledged
	KinesisRecords int64 // Kinesis records (aggregates or single records) acknowledged
	Requests       int64 // PutRecords calls made, retries included
	RetriedEntries int64 // entries sent again after an error code
	ShardMapLoads  int64 // ListShards calls
}

// Producer batches user records into aggregates and PutRecords calls, as
// the KPL does. Put may block while a full request is sent (that is its
// backpressure). A failure that outlasts the retry policy is returned by
// that Put, the next Put, Flush or Close, and the producer stops. Entries
// that fail inside a call are retried after the others of that call, so a
// retry may reorder records of one partition key, as with the KPL. A
// Producer is safe for use by several goroutines.
type Producer struct {
	put  PutRecordsFunc
	opts ProducerOptions
	clk  clock.Clock

	mu       sync.Mutex
	agg      *Aggregator
	pending  []Entry
	pendSize int
	oldest   time.Time // arrival of the oldest buffered user record
	reload   bool      // load the shard map before the next record
	err      error
	stats    ProducerStats
	closed   bool

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

// NewProducer returns a producer that puts through put. It loads the
// shard map with opts.ListShards (if set) before returning.
func NewProducer(ctx context.Context, put PutRecordsFunc, opts ProducerOptions) (*Producer, error) {
	if put == nil {
		return nil, errors.New("kpl: producer: nil PutRecords function")
	}
	if opts.MaxBufferedTime == 0 {
		opts.MaxBufferedTime = DefaultMaxBufferedTime
	}
	if opts.RecordsPerRequest == 0 {
		opts.RecordsPerRequest = MaxRecordsPerRequest
	}
	if opts.BytesPerRequest == 0 {
		opts.BytesPerRequest = MaxBytesPerRequest
	}
	if opts.Retry == (backoff.Policy{}) {
		opts.Retry = backoff.Policy{Initial: 100 * time.Millisecond, Multiplier: 2, Max: 5 * time.Second, Jitter: true, Within: 30 * time.Second}
	}
	switch {
	case opts.MaxBufferedTime < 0:
		return nil, fmt.Errorf("kpl: producer: negative MaxBufferedTime %s", opts.MaxBufferedTime)
	case opts.RecordsPerRequest < 1 || opts.RecordsPerRequest > MaxRecordsPerRequest:
		return nil, fmt.Errorf("kpl: producer: RecordsPerRequest %d is outside [1, %d]", opts.RecordsPerRequest, MaxRecordsPerRequest)
	case opts.BytesPerRequest < 1 || opts.BytesPerRequest > MaxBytesPerRequest:
		return nil, fmt.Errorf("kpl: producer: BytesPerRequest %d is outside [1, %d]", opts.BytesPerRequest, MaxBytesPerRequest)
	}
	if err := opts.Retry.Validate(); err != nil {
		return nil, fmt.Errorf("kpl: producer: %w", err)
	}
	agg, err := NewAggregator(opts.Aggregation, nil)
	if err != nil {
		return nil, fmt.Errorf("kpl: producer: %w", err)
	}
	p := &Producer{put: put, opts: opts, clk: clock.Or(opts.Clock), agg: agg, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	if !opts.DisableAggregation && opts.ListShards != nil {
		if err := p.loadShards(ctx); err != nil {
			return nil, err
		}
	}
	p.wg.Add(1)
	go p.linger()
	return p, nil
}

func (p *Producer) loadShards(ctx context.Context) error {
	p.stats.ShardMapLoads++
	rs, err := p.opts.ListShards(ctx)
	if err != nil {
		return fmt.Errorf("kpl: producer: list shards: %w", err)
	}
	m, err := NewShardMap(rs)
	if err != nil {
		return fmt.Errorf("kpl: producer: %w", err)
	}
	p.pending = p.agg.SetShards(p.pending, m)
	for _, e := range p.pending {
		p.pendSize += entrySize(e)
	}
	p.reload = false
	return nil
}

func entrySize(e Entry) int { return len(e.Data) + len(e.PartitionKey) }

// Put adds a user record. Its data is copied.
func (p *Producer) Put(ctx context.Context, r UserRecord) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if p.closed {
		return errors.New("kpl: producer: Put after Close")
	}
	if r.PartitionKey == "" {
		return errors.New("kpl: producer: a user record needs a partition key")
	}
	if p.reload {
		if err := p.loadShards(ctx); err != nil {
			p.err = err
			return err
		}
	}
	n := len(p.pending)
	var err error
	p.pending, err = p.agg.Add(p.pending, r)
	if err != nil {
		return fmt.Errorf("kpl: producer: %w", err)
	}
	for _, e := range p.pending[n:] {
		p.pendSize += entrySize(e)
	}
	if p.oldest.IsZero() {
		p.oldest = p.clk.Now()
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	for len(p.pending) >= p.opts.RecordsPerRequest || p.pendSize >= p.opts.BytesPerRequest {
		if err := p.sendLocked(ctx); err != nil {
			return err
		}
	}
	if len(p.pending) == 0 && p.agg.Buffered() == 0 {
		p.oldest = time.Time{}
	}
	return nil
}

// Flush sends every buffered user record and waits for them.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flushLocked(ctx)
}

func (p *Producer) flushLocked(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	p.pending = p.agg.Flush(p.pending)
	p.pendSize = 0
	for _, e := range p.pending {
		p.pendSize += entrySize(e)
	}
	for len(p.pending) > 0 {
		if err := p.sendLocked(ctx); err != nil {
			return err
		}
	}
	p.oldest = time.Time{}
	return nil
}

// Close flushes and stops the producer.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.err
	}
	err := p.flushLocked(ctx)
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	return err
}

// Stats returns what the producer has sent so far.
func (p *Producer) Stats() ProducerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// linger flushes once the oldest buffered record has waited
// MaxBufferedTime.
func (p *Producer) linger() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		oldest, failed := p.oldest, p.err != nil
		p.mu.Unlock()
		// Nothing buffered, or a failure that sticks (the records stay
		// buffered and no flush may run): wait for a Put or Close rather
		// than spin on a deadline that has passed.
		if oldest.IsZero() || failed {
			select {
			case <-p.kick:
				continue
			case <-p.stop:
				return
			}
		}
		if wait := oldest.Add(p.opts.MaxBufferedTime).Sub(p.clk.Now()); wait > 0 {
			t := p.clk.NewTimer(wait)
			select {
			case <-t.C():
			case <-p.kick:
				t.Stop()
				continue
			case <-p.stop:
				t.Stop()
				return
			}
		}
		p.mu.Lock()
		if !p.oldest.IsZero() && !p.clk.Now().Before(p.oldest.Add(p.opts.MaxBufferedTime)) && p.err == nil {
			// Failures are kept in p.err for the caller's next call.
			_ = p.flushLocked(context.Background())
		}
		p.mu.Unlock()
	}
}

// sendLocked sends one request from the head of pending, retrying failed
// entries.
func (p *Producer) sendLocked(ctx context.Context) error {
	n, size := 0, 0
	for n < len(p.pending) && n < p.opts.RecordsPerRequest {
		s := entrySize(p.pending[n])
		if n > 0 && size+s > p.opts.BytesPerRequest {
			break
		}
		size += s
		n++
	}
	batch := append([]Entry(nil), p.pending[:n]...)
	p.pending = p.pending[:copy(p.pending, p.pending[n:])]
	p.pendSize -= size
	_, err := backoff.Retry(ctx, p.clk, p.opts.Retry, func(int) error {
		p.stats.Requests++
		res, err := p.put(ctx, batch)
		if err != nil {
			return err
		}
		if len(res) != len(batch) {
			return backoff.Permanent(fmt.Errorf("kpl: producer: PutRecords returned %d results for %d records", len(res), len(batch)))
		}
		failed := batch[:0:0]
		var last PutResult
		for i, r := range res {
			e := batch[i]
			if r.ErrorCode != "" {
				failed = append(failed, e)
				last = r
				continue
			}
			if e.ShardID != "" && r.ShardID != "" && r.ShardID != e.ShardID {
				// Aggregated for a shard that no longer takes its keys.
				p.reload = p.opts.ListShards != nil && !p.opts.DisableAggregation
			}
			p.stats.KinesisRecords++
			p.stats.UserRecords += int64(e.UserRecords)
		}
		if len(failed) == 0 {
			return nil
		}
		p.stats.RetriedEntries += int64(len(failed))
		batch = failed
		return fmt.Errorf("kpl: producer: %d of the records failed, the last with %s: %s", len(failed), last.ErrorCode, last.ErrorMessage)
	})
	if err != nil {
		p.err = fmt.Errorf("kpl: producer: giving up on %d records: %w", len(batch), err)
		return p.err
	}
	return nil
}
