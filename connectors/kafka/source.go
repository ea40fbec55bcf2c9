package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/clock"
)

// Start modes of a fresh start, as Flink's scan.startup.mode names them.
const (
	StartEarliest        = "earliest-offset"
	StartLatest          = "latest-offset"
	StartTimestamp       = "timestamp"
	StartGroupOffsets    = "group-offsets"
	StartSpecificOffsets = "specific-offsets"
)

// SourceOptions configure a Source.
type SourceOptions struct {
	Client ClientOptions
	// Topics are the topics to read; TopicPattern, a regular expression
	// (matched against the whole name), reads every topic it matches
	// instead, those created later included. One of them is required.
	Topics       []string
	TopicPattern string
	// Start is where a fresh start reads the partitions that exist then
	// (default earliest-offset). StartTimestamp is timestamp's;
	// SpecificOffsets, per partition, specific-offsets' (partitions it
	// leaves out start at their earliest offset). group-offsets starts at
	// the group's committed offsets, at the earliest offset where the group
	// has none. Partitions that appear while the job runs are read from
	// their earliest offset.
	Start           string
	StartTimestamp  time.Time
	SpecificOffsets map[string]map[int32]int64
	// GroupID is the consumer group whose offsets group-offsets starts
	// from and to which the offsets of every completed checkpoint are
	// committed (unless DisableCommit). Sluice does not join the group.
	GroupID       string
	DisableCommit bool
	// Bounded makes the source end: each partition is read up to the end
	// it had when the source first saw it (its last stable offset with
	// read_committed, its high watermark otherwise). No new partitions
	// are discovered. For tests and backfills.
	Bounded bool
	// ReadUncommitted reads records of open and aborted transactions too
	// (isolation.level read_uncommitted); the default is read_committed.
	ReadUncommitted bool
	// DiscoveryInterval is how often an unbounded source looks for new
	// partitions and topics; default 30 s, negative never.
	DiscoveryInterval time.Duration
	// MaxPollRecords bounds the records taken from the client per read
	// (default 10000).
	MaxPollRecords int
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SourceOptions) EnsureDefaults() {
	o.Client.ensureDefaults()
	if o.Start == "" {
		o.Start = StartEarliest
	}
	if o.DiscoveryInterval == 0 {
		o.DiscoveryInterval = 30 * time.Second
	}
	if o.MaxPollRecords == 0 {
		o.MaxPollRecords = 10000
	}
}

// Validate reports options that cannot work.
func (o *SourceOptions) Validate() error {
	if err := o.Client.validate(); err != nil {
		return fmt.Errorf("kafka: source: %w", err)
	}
	switch {
	case len(o.Topics) == 0 && o.TopicPattern == "":
		return errors.New("kafka: source: a topic list or a topic pattern is required")
	case len(o.Topics) > 0 && o.TopicPattern != "":
		return errors.New("kafka: source: give a topic list or a topic pattern, not both")
	}
	if o.TopicPattern != "" {
		if _, err := regexp.Compile("^(?:" + o.TopicPattern + ")$"); err != nil {
			return fmt.Errorf("kafka: source: topic pattern %q: %w", o.TopicPattern, err)
		}
	}
	for _, t := range o.Topics {
		if t == "" {
			return errors.New("kafka: source: an empty topic name")
		}
	}
	switch o.Start {
	case StartEarliest, StartLatest, StartSpecificOffsets:
	case StartTimestamp:
		if o.StartTimestamp.IsZero() {
			return errors.New("kafka: source: start mode timestamp needs a start timestamp")
		}
	case StartGroupOffsets:
		if o.GroupID == "" {
			return errors.New("kafka: source: start mode group-offsets needs a group id")
		}
	default:
		return fmt.Errorf("kafka: source: unknown start mode %q (want earliest-offset, latest-offset, timestamp, group-offsets or specific-offsets)", o.Start)
	}
	if o.Start == StartSpecificOffsets && len(o.SpecificOffsets) == 0 {
		return errors.New("kafka: source: start mode specific-offsets needs offsets")
	}
	if o.MaxPollRecords < 1 {
		return fmt.Errorf("kafka: source: MaxPollRecords %d is below 1", o.MaxPollRecords)
	}
	return nil
}

func (o *SourceOptions) pattern() *regexp.Regexp {
	if o.TopicPattern == "" {
		return nil
	}
	return regexp.MustCompile("^(?:" + o.TopicPattern + ")$")
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Timestamp types of a record.
const (
	CreateTime    = "CreateTime"
	LogAppendTime = "LogAppendTime"
)

// Record is one Kafka record as a Source reads it.
type Record struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Timestamp   time.Time
	// TimestampType is CreateTime or LogAppendTime.
	TimestampType string
	Key, Value    []byte
	Headers       []Header
}

// ErrSkip, returned by a source's conversion, drops the record: its offset
// counts as read.
var ErrSkip = errors.New("kafka: skip record")

// Source is the engine source of Kafka topics: every partition is a split
// with its own watermark, assigned by the source's split coordinator. A
// record's source timestamp is its Kafka timestamp.
type Source[T any] struct {
	opts SourceOptions
	conv func(*Record) (T, error)
}

// NewSource returns a source of opts' topics.
func NewSource(opts SourceOptions) (*Source[Record], error) {
	return NewSourceWith(opts, func(r *Record) (Record, error) {
		c := *r
		c.Headers = slices.Clone(r.Headers)
		return c, nil
	})
}

// NewSourceWith returns a source whose records conv makes from each Kafka
// record. The Record and its slices are the reader's until conv returns:
// conv copies what it keeps. An error from conv fails the job, except
// ErrSkip, which drops the record.
func NewSourceWith[T any](opts SourceOptions, conv func(*Record) (T, error)) (*Source[T], error) {
	if conv == nil {
		return nil, errors.New("kafka: source: nil conversion")
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Source[T]{opts: opts, conv: conv}, nil
}

// Options returns the source's options, defaults filled in.
func (s *Source[T]) Options() SourceOptions { return s.opts }

// SplitCoordination implements engine.SplitSource.
func (s *Source[T]) SplitCoordination() engine.SplitCoordination {
	return engine.CoordinateSplits(func(ctx *engine.SplitContext[split]) (engine.SplitCoordinator, error) {
		c, err := newCoordinator(&s.opts, ctx)
		if err != nil {
			return nil, err // not a nil *coordinator in an interface
		}
		return c, nil
	})
}

// Open implements engine.Source.
func (s *Source[T]) Open(ctx context.Context, info engine.SourceInfo) (engine.SourceReader[T], error) {
	if info.Splits == nil {
		return nil, errors.New("kafka: source: the reader needs the job's split coordinator (open it in a job)")
	}
	return &reader[T]{src: s, clock: clock.Or(info.Clock), send: info.Splits.SendEvent, interrupt: info.Interrupt,
		parts: map[tp]*part{}}, nil
}

// offsetsEvent is what a reader sends its coordinator from every snapshot
// when offsets are committed to a group: the next offset of each partition
// it owns. The coordinator commits those of a checkpoint once it
// completes.
type offsetsEvent struct {
	Offsets map[tp]int64
}

type part struct {
	tp   tp
	id   string
	next int64
	stop int64
	done bool
}

type reader[T any] struct {
	src       *Source[T]
	clock     clock.Clock
	send      func(any) error
	interrupt <-chan struct{}

	cl       *kgo.Client
	incoming []split
	noMore   bool
	parts    map[tp]*part
	outs     map[tp]*engine.SplitOutput[T]
	live     int // parts not done
	started  bool
	rec      Record
}

// AddSplits implements engine.SplitReader.
func (r *reader[T]) AddSplits(splits []split) error {
	r.incoming = append(r.incoming, splits...)
	return nil
}

// NoMoreSplits implements engine.SplitReader.
func (r *reader[T]) NoMoreSplits() error {
	r.noMore = true
	return nil
}

// idleSplit is a split id no partition has: claiming and releasing it at
// once tells the engine that the reader uses splits, so that a reader
// without partitions is idle rather than holding the watermark back.
const idleSplit = "kafka:no-partition"

// maxWait bounds a Read's wait, so that the task stays responsive.
const maxWait = 100 * time.Millisecond

func (r *reader[T]) client() (*kgo.Client, error) {
	if r.cl != nil {
		return r.cl, nil
	}
	o := &r.src.opts
	iso := kgo.ReadCommitted()
	if o.ReadUncommitted {
		iso = kgo.ReadUncommitted()
	}
	cl, err := o.Client.newClient(kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{}), kgo.FetchMaxWait(maxWait))
	if err != nil {
		return nil, fmt.Errorf("kafka: source: %w", err)
	}
	r.cl = cl
	return cl, nil
}

func (r *reader[T]) takeIncoming(out *engine.SourceOutput[T]) error {
	add := map[string]map[int32]kgo.Offset{}
	for _, s := range r.incoming {
		k := s.tp()
		if r.parts[k] != nil {
			continue
		}
		p := &part{tp: k, id: k.String(), next: s.Next, stop: s.Stop}
		r.parts[k] = p
		if p.stop >= 0 && p.next >= p.stop {
			p.done = true
			continue
		}
		r.live++
		r.outs[k] = out.Split(p.id)
		if add[k.Topic] == nil {
			add[k.Topic] = map[int32]kgo.Offset{}
		}
		add[k.Topic][k.Partition] = kgo.NewOffset().At(s.Next)
	}
	r.incoming = r.incoming[:0]
	if len(add) == 0 {
		return nil
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	cl.AddConsumePartitions(add)
	return nil
}

// Read implements engine.SourceReader.
func (r *reader[T]) Read(ctx context.Context, out *engine.SourceOutput[T]) error {
	if !r.started {
		r.started = true
		r.outs = map[tp]*engine.SplitOutput[T]{}
		out.Split(idleSplit)
		out.ReleaseSplit(idleSplit)
	}
	if err := r.takeIncoming(out); err != nil {
		return err
	}
	if r.live == 0 {
		if r.src.opts.Bounded && r.noMore {
			return io.EOF
		}
		r.idle(ctx)
		return nil
	}
	fs := r.cl.PollRecords(nil, r.src.opts.MaxPollRecords) // a nil context takes only what is buffered
	if fs.NumRecords() == 0 && len(fs.Errors()) == 0 {
		wctx, cancel := context.WithTimeout(ctx, maxWait)
		stop := make(chan struct{})
		go func() {
			select {
			case <-r.interrupt:
				cancel()
			case <-stop:
			}
		}()
		fs = r.cl.PollRecords(wctx, r.src.opts.MaxPollRecords)
		close(stop)
		cancel()
	}
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		return fmt.Errorf("kafka: source: fetch %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	var err error
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if err != nil {
			return
		}
		p := r.parts[tp{fp.Topic, fp.Partition}]
		if p == nil || p.done {
			return
		}
		so := r.outs[p.tp]
		for _, kr := range fp.Records {
			if kr.Offset < p.next {
				continue
			}
			if p.stop >= 0 && kr.Offset >= p.stop {
				break
			}
			p.next = kr.Offset + 1
			if kr.Attrs.IsControl() {
				continue
			}
			v, cerr := r.convert(kr)
			if errors.Is(cerr, ErrSkip) {
				continue
			}
			if cerr != nil {
				err = fmt.Errorf("kafka: source: record %s-%d@%d: %w", kr.Topic, kr.Partition, kr.Offset, cerr)
				return
			}
			so.CollectAt(v, kr.Timestamp.UnixMilli())
		}
		if p.stop >= 0 && p.next >= p.stop {
			r.finish(p, out)
		}
	})
	return err
}

func (r *reader[T]) convert(kr *kgo.Record) (T, error) {
	rec := &r.rec
	rec.Topic, rec.Partition, rec.Offset, rec.LeaderEpoch = kr.Topic, kr.Partition, kr.Offset, kr.LeaderEpoch
	rec.Timestamp, rec.Key, rec.Value = kr.Timestamp, kr.Key, kr.Value
	rec.TimestampType = CreateTime
	if kr.Attrs.TimestampType() == 1 {
		rec.TimestampType = LogAppendTime
	}
	rec.Headers = rec.Headers[:0]
	for _, h := range kr.Headers {
		rec.Headers = append(rec.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return r.src.conv(rec)
}

func (r *reader[T]) finish(p *part, out *engine.SourceOutput[T]) {
	p.done = true
	r.live--
	out.ReleaseSplit(p.id)
	delete(r.outs, p.tp)
	r.cl.RemoveConsumePartitions(map[string][]int32{p.tp.Topic: {p.tp.Partition}})
}

// idle waits, for a reader with nothing to read, until the engine has
// something for the task, ctx ends or maxWait passes.
func (r *reader[T]) idle(ctx context.Context) {
	t := r.clock.NewTimer(maxWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-r.interrupt:
	case <-t.C():
	}
}

// SnapshotPosition implements engine.CheckpointedReader: every partition
// the reader owns, and those assigned to it that it has not taken yet.
func (r *reader[T]) SnapshotPosition() ([]byte, error) {
	ss := make([]split, 0, len(r.parts)+len(r.incoming))
	var offs map[tp]int64
	commit := r.src.opts.GroupID != "" && !r.src.opts.DisableCommit
	if commit {
		offs = make(map[tp]int64, len(r.parts))
	}
	for _, p := range r.parts {
		ss = append(ss, split{Topic: p.tp.Topic, Partition: p.tp.Partition, Next: p.next, Stop: p.stop})
		if commit {
			offs[p.tp] = p.next
		}
	}
	for _, s := range r.incoming {
		if r.parts[s.tp()] == nil {
			ss = append(ss, s)
		}
	}
	b, err := encodePositions(ss)
	if err != nil {
		return nil, err
	}
	if commit && len(offs) > 0 {
		if err := r.send(offsetsEvent{Offsets: offs}); err != nil {
			return nil, fmt.Errorf("kafka: source: %w", err)
		}
	}
	return b, nil
}

// Close implements engine.SourceReader.
func (r *reader[T]) Close() error {
	if r.cl != nil {
		r.cl.Close()
	}
	return nil
}

var (
	_ engine.CheckpointedReader   = (*reader[Record])(nil)
	_ engine.SplitReader[split]   = (*reader[Record])(nil)
	_ engine.SplitSource[Record]  = (*Source[Record])(nil)
	_ engine.SourceReader[Record] = (*reader[Record])(nil)
)
