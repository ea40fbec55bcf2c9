package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// Delivery guarantees of a sink, as Flink's sink.delivery-guarantee names
// them.
const (
	AtLeastOnce = "at-least-once"
	ExactlyOnce = "exactly-once"
	NoGuarantee = "none"
)

// Compression codecs a sink can write.
const (
	CompressionNone   = "none"
	CompressionGzip   = "gzip"
	CompressionSnappy = "snappy"
	CompressionLz4    = "lz4"
	CompressionZstd   = "zstd"
)

// SinkOptions configure a sink.
type SinkOptions struct {
	Client ClientOptions
	// Topic is where a message without a topic of its own goes.
	Topic string
	// Guarantee is at-least-once (the default: an idempotent producer,
	// flushed at every checkpoint barrier), exactly-once (Kafka
	// transactions committed once their checkpoint completes) or none
	// (flushed only when the job ends).
	Guarantee string
	// TransactionalIDPrefix names the sink's transactions,
	// <prefix>-<subtask>-<n>; exactly-once requires it, and it must be
	// unique to the sink among every job writing to the cluster.
	TransactionalIDPrefix string
	// TransactionTimeout is each transaction's timeout (transaction.timeout.ms):
	// it must outlast the checkpoint interval, and stay within the brokers'
	// transaction.max.timeout.ms. Default 15 min.
	TransactionTimeout time.Duration
	// CheckpointInterval is the job's checkpoint interval, for the check
	// that the transaction timeout outlasts it (SinkTo fills it in).
	CheckpointInterval time.Duration
	// Compression is none (default), gzip, snappy, lz4 or zstd.
	Compression string
	// Linger is how long the producer waits to fill a batch (default 0).
	Linger time.Duration
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SinkOptions) EnsureDefaults() {
	o.Client.ensureDefaults()
	if o.Guarantee == "" {
		o.Guarantee = AtLeastOnce
	}
	if o.TransactionTimeout == 0 {
		o.TransactionTimeout = 15 * time.Minute
	}
	if o.Compression == "" {
		o.Compression = CompressionNone
	}
}

// Validate reports options that cannot work.
func (o *SinkOptions) Validate() error {
	if err := o.Client.validate(); err != nil {
		return fmt.Errorf("kafka: sink: %w", err)
	}
	switch o.Guarantee {
	case AtLeastOnce, NoGuarantee:
	case ExactlyOnce:
		if o.TransactionalIDPrefix == "" {
			return errors.New("kafka: sink: exactly-once needs a transactional id prefix (sink.transactional-id-prefix)")
		}
		if o.CheckpointInterval > 0 && o.TransactionTimeout <= o.CheckpointInterval {
			return fmt.Errorf("kafka: sink: the transaction timeout (properties.transaction.timeout.ms, %s) must be longer than the checkpoint interval (execution.checkpointing.interval, %s): raise the one or lower the other", o.TransactionTimeout, o.CheckpointInterval)
		}
	default:
		return fmt.Errorf("kafka: sink: unknown delivery guarantee %q (want at-least-once, exactly-once or none)", o.Guarantee)
	}
	if _, err := codec(o.Compression); err != nil {
		return err
	}
	if o.TransactionTimeout < time.Millisecond || o.TransactionTimeout.Milliseconds() > 1<<31-1 {
		return fmt.Errorf("kafka: sink: transaction timeout %s out of range", o.TransactionTimeout)
	}
	return nil
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case CompressionNone:
		return kgo.NoCompression(), nil
	case CompressionGzip:
		return kgo.GzipCompression(), nil
	case CompressionSnappy:
		return kgo.SnappyCompression(), nil
	case CompressionLz4:
		return kgo.Lz4Compression(), nil
	case CompressionZstd:
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("kafka: sink: unknown compression %q (want none, gzip, snappy, lz4 or zstd)", name)
}

// Message is one record a sink writes.
type Message struct {
	// Topic overrides the sink's topic.
	Topic string
	// Partition, if HasPartition, is the partition to write to; otherwise
	// a keyed message goes to the partition its key hashes to (murmur2,
	// as Kafka's Java producer), an unkeyed one to a sticky partition.
	Partition    int32
	HasPartition bool
	Key, Value   []byte
	Headers      []Header
	// Timestamp, if set, is the record's CreateTime; otherwise the
	// producer's clock gives it.
	Timestamp time.Time
}

// Sink writes messages made from the stream's records. Build it with
// NewSink and attach it with SinkTo.
type Sink[T any] struct {
	opts SinkOptions
	conv func(T) (Message, error)
	// base is the largest checkpoint id a committer of this sink has
	// committed (or restored): a writer numbers its transactions above it.
	base atomic.Int64
}

// NewSink returns a sink whose messages conv makes.
func NewSink[T any](opts SinkOptions, conv func(T) (Message, error)) (*Sink[T], error) {
	if conv == nil {
		return nil, errors.New("kafka: sink: nil conversion")
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Sink[T]{opts: opts, conv: conv}, nil
}

// Options returns the sink's options, defaults filled in.
func (s *Sink[T]) Options() SinkOptions { return s.opts }

// SinkTo writes stream to sink: with exactly-once, as a two-phase-commit
// sink with a global committer. It checks the transaction timeout against
// the job's checkpoint interval (an error reported on the job).
func SinkTo[T any](stream *engine.Stream[T], name string, sink *Sink[T]) *engine.Stream[struct{}] {
	j := stream.Job()
	if sink.opts.Guarantee == ExactlyOnce {
		o := sink.opts
		o.CheckpointInterval = j.Config().Checkpoint.Interval
		if err := o.Validate(); err != nil {
			j.ReportError(name, err)
		}
		return engine.SinkTo[T](stream, name, &txSink[T]{sink})
	}
	return engine.SinkTo[T](stream, name, &plainSink[T]{sink})
}

// plainSink is the at-least-once (or no-guarantee) sink.
type plainSink[T any] struct{ s *Sink[T] }

// txSink is the exactly-once sink, with a global committer.
type txSink[T any] struct{ s *Sink[T] }

func (s *Sink[T]) producerOpts(more ...kgo.Opt) []kgo.Opt {
	c, _ := codec(s.opts.Compression) // validated
	opts := []kgo.Opt{kgo.ProducerBatchCompression(c), kgo.RecordPartitioner(partitioner{kgo.StickyKeyPartitioner(nil)}),
		kgo.ProducerLinger(s.opts.Linger), kgo.RequiredAcks(kgo.AllISRAcks())}
	if s.opts.Topic != "" {
		opts = append(opts, kgo.DefaultProduceTopic(s.opts.Topic))
	}
	return append(opts, more...)
}

// partitioner writes a record whose partition was given (Partition >= 0)
// there, and hands the others to the default partitioner.
type partitioner struct{ def kgo.Partitioner }

func (p partitioner) ForTopic(t string) kgo.TopicPartitioner {
	return topicPartitioner{p.def.ForTopic(t)}
}

type topicPartitioner struct{ def kgo.TopicPartitioner }

func (p topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || p.def.RequiresConsistency(r)
}

func (p topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return p.def.Partition(r, n)
}

func (p topicPartitioner) OnNewBatch() {
	if nb, ok := p.def.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// producer is one kgo client and the first error of its records.
type producer struct {
	cl      *kgo.Client
	mu      sync.Mutex
	err     error
	written int64
	promise func(*kgo.Record, error)
}

func newProducer(cl *kgo.Client) *producer {
	p := &producer{cl: cl}
	p.promise = func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.err == nil {
				p.err = err
			}
			p.mu.Unlock()
		}
	}
	return p
}

func (p *producer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// write produces the batch, converted, asynchronously.
func write[T any](ctx context.Context, s *Sink[T], p *producer, batch []engine.Record[T]) error {
	if err := p.failed(); err != nil {
		return fmt.Errorf("kafka: sink: %w", err)
	}
	for i := range batch {
		m, err := s.conv(batch[i].Value)
		if err != nil {
			return fmt.Errorf("kafka: sink: %w", err)
		}
		r := &kgo.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Partition: -1, Timestamp: m.Timestamp}
		if m.Topic == "" && s.opts.Topic == "" {
			return errors.New("kafka: sink: a message without a topic, and the sink has no default topic")
		}
		if m.HasPartition {
			r.Partition = m.Partition
		}
		if len(m.Headers) > 0 {
			r.Headers = make([]kgo.RecordHeader, len(m.Headers))
			for i, h := range m.Headers {
				r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
			}
		}
		p.cl.Produce(ctx, r, p.promise)
		p.written++
	}
	return nil
}

// flush waits for every record produced so far.
func (p *producer) flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka: sink: flush: %w", err)
	}
	if err := p.failed(); err != nil {
		return fmt.Errorf("kafka: sink: %w", err)
	}
	return nil
}

// Open implements engine.Sink.
func (s *plainSink[T]) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	cl, err := s.s.opts.Client.newClient(s.s.producerOpts()...)
	if err != nil {
		return nil, err
	}
	return &plainWriter[T]{s: s.s, ctx: ctx, p: newProducer(cl)}, nil
}

type plainWriter[T any] struct {
	s   *Sink[T]
	ctx context.Context
	p   *producer
}

func (w *plainWriter[T]) Write(batch []engine.Record[T]) error { return write(w.ctx, w.s, w.p, batch) }

// Prepare implements engine.CommittingWriter: at-least-once flushes at
// every barrier; there is nothing to commit.
func (w *plainWriter[T]) Prepare(int64) ([]byte, error) {
	if w.s.opts.Guarantee == NoGuarantee {
		return nil, w.p.failed()
	}
	return nil, w.p.flush(w.ctx)
}

// Commit implements engine.CommittingWriter.
func (w *plainWriter[T]) Commit([][]byte) error { return nil }

// EndInput implements engine.EndInputHook.
func (w *plainWriter[T]) EndInput() error { return w.p.flush(w.ctx) }

func (w *plainWriter[T]) Close() error {
	w.p.cl.Close()
	return nil
}

// txnCommittable is what an exactly-once writer prepares: the open
// transaction's id and the producer id and epoch that can end it.
type txnCommittable struct {
	TxnID string `json:"txn"`
	PID   int64  `json:"pid"`
	Epoch int16  `json:"epoch"`
}

// Open implements engine.Sink.
func (s *txSink[T]) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	w := &txWriter[T]{s: s.s, ctx: ctx, subtask: info.Subtask, seq: s.s.base.Load() + 1}
	if err := w.begin(); err != nil {
		return nil, err
	}
	return w, nil
}

// txWriter writes one subtask's records in one transaction per
// checkpoint. Its transactions are named <prefix>-<subtask>-<n>, n above
// every checkpoint the sink's committer has committed or restored, and
// after a barrier of checkpoint c the next is numbered c+1: a name is never
// used again while a checkpoint that holds it may still be committed.
type txWriter[T any] struct {
	s       *Sink[T]
	ctx     context.Context
	subtask int
	seq     int64
	name    string
	p       *producer
}

func txnName(prefix string, subtask int, seq int64) string {
	return prefix + "-" + strconv.Itoa(subtask) + "-" + strconv.FormatInt(seq, 10)
}

func (w *txWriter[T]) begin() error {
	w.name = txnName(w.s.opts.TransactionalIDPrefix, w.subtask, w.seq)
	cl, err := w.s.opts.Client.newClient(w.s.producerOpts(kgo.TransactionalID(w.name), kgo.TransactionTimeout(w.s.opts.TransactionTimeout))...)
	if err != nil {
		return err
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		return fmt.Errorf("kafka: sink: begin transaction %s: %w", w.name, err)
	}
	w.p = newProducer(cl)
	return nil
}

func (w *txWriter[T]) Write(batch []engine.Record[T]) error {
	if err := write(w.ctx, w.s, w.p, batch); err != nil {
		return fmt.Errorf("%w (transaction %s)", err, w.name)
	}
	return nil
}

// Prepare implements engine.StagingWriter: flush the transaction, leave it
// open for the committer, and begin the next.
func (w *txWriter[T]) Prepare(id int64) ([]byte, error) {
	if w.p.written == 0 {
		return nil, nil // the transaction has not begun on the brokers: keep it for later
	}
	if err := w.p.flush(w.ctx); err != nil {
		return nil, fmt.Errorf("%w (transaction %s)", err, w.name)
	}
	pid, epoch, err := w.p.cl.ProducerID(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka: sink: producer id of transaction %s: %w", w.name, err)
	}
	c, err := json.Marshal(txnCommittable{TxnID: w.name, PID: pid, Epoch: epoch})
	if err != nil {
		return nil, fmt.Errorf("kafka: sink: %w", err)
	}
	// Closing the client leaves its transaction open on the brokers.
	w.p.cl.Close()
	w.seq = max(w.seq, id) + 1
	if err := w.begin(); err != nil {
		return nil, err
	}
	return c, nil
}

// Close implements engine.SinkWriter: a transaction no barrier prepared is
// aborted.
func (w *txWriter[T]) Close() error {
	defer w.p.cl.Close()
	if w.p.written == 0 || w.p.failed() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 5*time.Second)
	defer cancel()
	if err := w.p.cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("kafka: sink: abort transaction %s: %w", w.name, err)
	}
	if err := w.p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("kafka: sink: abort transaction %s: %w", w.name, err)
	}
	return nil
}

// NewGlobalCommitter implements engine.GlobalCommitSink.
func (s *txSink[T]) NewGlobalCommitter(ctx context.Context, info engine.CommitterInfo) (engine.GlobalCommitter, error) {
	cl, err := s.s.opts.Client.newClient()
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	if err := s.s.opts.Client.reachable(ctx, adm); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka: sink: %w", err)
	}
	return &committer[T]{s: s.s, cl: cl, adm: adm, clock: clock.Or(info.Clock)}, nil
}

// committer ends the transactions of completed checkpoints, from any
// producer instance: EndTxn with the committable's producer id and epoch.
type committer[T any] struct {
	s     *Sink[T]
	cl    *kgo.Client
	adm   *kadm.Client
	clock clock.Clock
}

var retryPolicy = backoff.Policy{Initial: 20 * time.Millisecond, Multiplier: 2, Max: time.Second, Jitter: true, MaxAttempts: 20}

// Commit implements engine.GlobalCommitter. Committing a transaction that
// is already committed succeeds (Kafka answers a repeated EndTxn of the
// same outcome as a success), so a restored checkpoint is committed again
// safely.
func (c *committer[T]) Commit(ctx context.Context, id int64, cs []engine.Committable) error {
	for _, e := range cs {
		var tc txnCommittable
		if err := json.Unmarshal(e.Data, &tc); err != nil {
			return fmt.Errorf("kafka: sink: corrupt committable of subtask %d, checkpoint %d: %w", e.Subtask, e.Checkpoint, err)
		}
		if err := c.endTxn(ctx, tc); err != nil {
			return err
		}
	}
	for {
		old := c.s.base.Load()
		if id <= old || c.s.base.CompareAndSwap(old, id) {
			break
		}
	}
	return nil
}

func (c *committer[T]) endTxn(ctx context.Context, tc txnCommittable) error {
	_, err := backoff.Retry(ctx, c.clock, retryPolicy, func(int) error {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = tc.TxnID, tc.PID, tc.Epoch, true
		resp, err := req.RequestWith(ctx, c.cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if kerr.IsRetriable(err) || errors.Is(err, kerr.ConcurrentTransactions) {
				return err
			}
			return backoff.Permanent(err)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidTxnState) {
			return fmt.Errorf("kafka: sink: commit transaction %s (producer %d, epoch %d): it was aborted or fenced before the commit, perhaps because it outlived its timeout: %w", tc.TxnID, tc.PID, tc.Epoch, err)
		}
		return fmt.Errorf("kafka: sink: commit transaction %s (producer %d, epoch %d): %w", tc.TxnID, tc.PID, tc.Epoch, err)
	}
	return nil
}

// Cleanup implements engine.GlobalCommitter: every transaction of this
// sink still open now was left by an earlier attempt after its last
// completed checkpoint; it is aborted (InitProducerID with its id fences
// its producer and aborts it), so that read_committed consumers are not
// held back until it times out.
func (c *committer[T]) Cleanup(ctx context.Context) error {
	ls, err := c.adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		return fmt.Errorf("kafka: sink: list transactions: %w", err)
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(c.s.opts.TransactionalIDPrefix) + `-[0-9]+-[0-9]+$`)
	for _, t := range ls.Sorted() {
		if t.State != "Ongoing" || !re.MatchString(t.TxnID) {
			continue
		}
		if err := c.abort(ctx, t.TxnID); err != nil {
			return err
		}
	}
	return nil
}

func (c *committer[T]) abort(ctx context.Context, txnID string) error {
	_, err := backoff.Retry(ctx, c.clock, retryPolicy, func(int) error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &txnID
		req.TransactionTimeoutMillis = int32(c.s.opts.TransactionTimeout.Milliseconds())
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, c.cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if kerr.IsRetriable(err) || errors.Is(err, kerr.ConcurrentTransactions) {
				return err
			}
			return backoff.Permanent(err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kafka: sink: abort the transaction %s left by an earlier attempt: %w", txnID, err)
	}
	return nil
}

// Close implements engine.GlobalCommitter.
func (c *committer[T]) Close() error {
	c.cl.Close()
	return nil
}

var (
	_ engine.GlobalCommitSink[int] = (*txSink[int])(nil)
	_ engine.StagingWriter         = (*txWriter[int])(nil)
	_ engine.CommittingWriter      = (*plainWriter[int])(nil)
	_ engine.EndInputHook          = (*plainWriter[int])(nil)
)
