package kinesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// SourceOptions configure a Source.
type SourceOptions struct {
	// Stream is the stream's name; StreamARN its ARN. One is required;
	// with both, the ARN is used.
	Stream    string
	StreamARN string
	// Start is where a fresh start (not restored from a checkpoint) reads
	// the shards that exist then: TrimHorizon (the default), Latest or
	// AtTimestamp (with StartTimestamp). Latest is taken as AT_TIMESTAMP
	// of the moment the job first starts, so that a restore before the
	// first checkpoint reads from the same point, and closed shards are
	// then not read at all. Shards created while the job runs are read
	// from their first record.
	Start          string
	StartTimestamp time.Time
	// Bounded makes the source end: each shard is read until it is closed
	// (then its children are read too) or until a read returns no records
	// with MillisBehindLatest 0 — the shard's present. For tests and
	// backfills.
	Bounded bool
	// MaxRecordsPerRead is GetRecords' Limit. Default (and maximum) 10000,
	// Flink's shard.getrecords.maxrecordcount.
	MaxRecordsPerRead int
	// PollInterval is how long a shard rests after a read that found it
	// caught up (no records, MillisBehindLatest 0). A shard that returned
	// records, or is behind, is read again at once. Default 200 ms.
	PollInterval time.Duration
	// DiscoveryInterval is how often an unbounded source lists the shards
	// to find new ones. Children a closed shard names are known at once.
	// Default 10 s.
	DiscoveryInterval time.Duration
	// InitialBackoff and MaxBackoff bound the wait before a read that was
	// throttled (ProvisionedThroughputExceededException, KMS throttling,
	// LimitExceededException) is tried again; it doubles, with jitter.
	// Defaults 100 ms and 5 s.
	InitialBackoff, MaxBackoff time.Duration
	// Checkpointed says that the job takes periodic checkpoints even when
	// the engine does not report it (SourceInfo.Checkpointing): a shard
	// whose parent another subtask reads then starts only once a completed
	// checkpoint records the parent's end.
	Checkpointed bool
	// KeepAggregates passes records in the KPL's aggregated format on as
	// they are stored. By default, as the KCL does, such a record is split
	// into its user records (connectors/kpl), each emitted with the
	// record's sequence number and its sub-sequence number; a checkpoint
	// taken inside an aggregate holds AT_SEQUENCE_NUMBER with the
	// sub-sequence number, so that a restore neither repeats nor skips
	// user records.
	KeepAggregates bool
	// OnCorruptAggregate, if set, hears of every record with the
	// aggregated format's magic prefix that is not a valid aggregate (bad
	// MD5, truncated or invalid protobuf, an index out of range); the
	// record is emitted whole and counted (Source.CorruptAggregates)
	// either way. It is called on the reading subtask's goroutine.
	OnCorruptAggregate func(shardID, sequenceNumber string, err error)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SourceOptions) EnsureDefaults() {
	if o.Start == "" {
		o.Start = TrimHorizon
	}
	if o.MaxRecordsPerRead == 0 {
		o.MaxRecordsPerRead = 10000
	}
	if o.PollInterval == 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.DiscoveryInterval == 0 {
		o.DiscoveryInterval = 10 * time.Second
	}
	if o.InitialBackoff == 0 {
		o.InitialBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Second
	}
}

// Validate reports options that cannot work.
func (o *SourceOptions) Validate() error {
	switch {
	case o.Stream == "" && o.StreamARN == "":
		return errors.New("kinesis: source: a stream name or ARN is required")
	case o.Start != TrimHorizon && o.Start != Latest && o.Start != AtTimestamp:
		return fmt.Errorf("kinesis: source: unknown start position %q (want TRIM_HORIZON, LATEST or AT_TIMESTAMP)", o.Start)
	case o.Start == AtTimestamp && o.StartTimestamp.IsZero():
		return errors.New("kinesis: source: AT_TIMESTAMP needs a start timestamp")
	case o.MaxRecordsPerRead < 1 || o.MaxRecordsPerRead > 10000:
		return fmt.Errorf("kinesis: source: MaxRecordsPerRead %d is outside [1, 10000]", o.MaxRecordsPerRead)
	case o.PollInterval < 0 || o.DiscoveryInterval <= 0:
		return fmt.Errorf("kinesis: source: poll interval %s, discovery interval %s", o.PollInterval, o.DiscoveryInterval)
	case o.InitialBackoff <= 0 || o.MaxBackoff < o.InitialBackoff:
		return fmt.Errorf("kinesis: source: backoff %s..%s", o.InitialBackoff, o.MaxBackoff)
	}
	return nil
}

func (o *SourceOptions) streamName() string {
	if o.StreamARN != "" {
		return o.StreamARN
	}
	return o.Stream
}

// Record is one Kinesis record as a Source reads it, or one user record of
// a KPL aggregate: the aggregate's sequence number and arrival time, its
// own partition key, explicit hash key and data, and its sub-sequence
// number (0 and Aggregated false for a record that is not aggregated).
type Record struct {
	ShardID           string
	SequenceNumber    string
	SubSequenceNumber uint64
	Aggregated        bool
	// ArrivalTime is the record's approximate arrival timestamp.
	ArrivalTime     time.Time
	PartitionKey    string
	ExplicitHashKey string
	Data            []byte
}

// Source is the engine source of one Kinesis stream. Every shard is a
// split with its own watermark, read by the subtask its shard number names
// (modulo the parallelism). Each shard's position — the sequence number of
// the last record emitted — is checkpointed, and a restored job, at any
// parallelism, resumes each shard AFTER_SEQUENCE_NUMBER.
//
// A shard is read only once every parent it has in the stream's listing
// has been read to its end, so each partition key's records are emitted in
// order across splits and merges; when a parent is read by another
// subtask, the child starts only once a completed checkpoint records the
// parent's end (in jobs with checkpoints), whose barriers order the
// parent's last records before the child's first downstream.
//
// A record's source timestamp is its approximate arrival time. Records
// that the Kinesis Producer Library aggregated are de-aggregated into their
// user records unless KeepAggregates. A Read emits about as many records
// as the output batch has room for: the rest of a GetRecords response, or
// of an aggregate, waits for the next Read.
type Source[T any] struct {
	api     API
	opts    SourceOptions
	conv    func(*Record) (T, error)
	corrupt *atomic.Int64
}

// CorruptAggregates returns how many records with the aggregated format's
// prefix were not valid aggregates and were emitted whole, over every job
// run with this source.
func (s *Source[T]) CorruptAggregates() int64 { return s.corrupt.Load() }

// NewSource returns a source of opts' stream, read through api.
func NewSource(api API, opts SourceOptions) (*Source[Record], error) {
	return NewSourceWith(api, opts, func(r *Record) (Record, error) { return *r, nil })
}

// NewSourceWith returns a source whose records conv makes from each
// Kinesis record (it decodes them, say). An error from conv fails the job.
func NewSourceWith[T any](api API, opts SourceOptions, conv func(*Record) (T, error)) (*Source[T], error) {
	if api == nil {
		return nil, errors.New("kinesis: source: nil API")
	}
	if conv == nil {
		return nil, errors.New("kinesis: source: nil conversion")
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Source[T]{api: api, opts: opts, conv: conv, corrupt: new(atomic.Int64)}, nil
}

// Options returns the source's options, defaults filled in.
func (s *Source[T]) Options() SourceOptions { return s.opts }

// SplitCoordination implements engine.SplitSource.
func (s *Source[T]) SplitCoordination() engine.SplitCoordination {
	return engine.CoordinateSplits(func(ctx *engine.SplitContext[shardSplit]) (engine.SplitCoordinator, error) {
		return newCoordinator(s.api, &s.opts, ctx)
	})
}

// Open implements engine.Source. The reader is given its shards by the
// job's split coordinator, so it opens only inside a job.
func (s *Source[T]) Open(ctx context.Context, info engine.SourceInfo) (engine.SourceReader[T], error) {
	if info.Splits == nil {
		return nil, errors.New("kinesis: source: the reader needs the job's split coordinator (open it in a job)")
	}
	clk := clock.Or(info.Clock)
	r := &reader[T]{src: s, clock: clk, send: info.Splits.SendEvent, interrupt: info.Interrupt,
		shards: map[string]*shard{}, finished: map[string]bool{},
		policy: backoff.Policy{Initial: s.opts.InitialBackoff, Multiplier: 2, Max: s.opts.MaxBackoff, Jitter: true}}
	return r, nil
}

// shardSplit is the unit of assignment: one shard, where to start it, and
// whether it may be read yet (pending: its parents are not done) or is
// already finished (for the owner to record).
type shardSplit struct {
	ID       string
	Start    position
	Pending  bool
	Finished bool
}

// shardEnded is a reader's event: it read the shard to its end (closed, or
// the present of a bounded source) and passed its records on; children
// are those GetRecords named at a closed shard's end.
type shardEnded struct {
	ID       string
	Children []types.ChildShard
}

// shard is one shard a reader owns and has not finished.
type shard struct {
	id      string
	start   position
	pending bool
	started bool   // being read (not pending)
	iter    string // current shard iterator; "" to get one
	lastSeq string // sequence number of the last record emitted
	next    time.Time
	retries int

	// pend are records of the last response not yet wholly emitted, the
	// first with pendSub user records emitted; pendEnd: the response
	// closed the shard (with pendChildren).
	pend         []types.Record
	pendSub      uint64
	pendEnd      bool
	pendChildren []types.ChildShard
	// skip: restored inside an aggregate, skip skipSub user records of
	// the record skipSeq when it is read first.
	skipSeq string
	skipSub uint64
}

func (sh *shard) pos() position {
	if len(sh.pend) > 0 {
		return position{Type: AtSequenceNumber, Seq: aws.ToString(sh.pend[0].SequenceNumber), Sub: sh.pendSub}
	}
	if sh.lastSeq != "" {
		return position{Type: AfterSequenceNumber, Seq: sh.lastSeq}
	}
	return sh.start
}

type reader[T any] struct {
	src       *Source[T]
	clock     clock.Clock
	send      func(any) error
	interrupt <-chan struct{}
	policy    backoff.Policy

	incoming []shardSplit
	noMore   bool
	shards   map[string]*shard
	active   []*shard // started shards, in the order they are read
	outs     map[string]*engine.SplitOutput[T]
	finished map[string]bool
	// unpublished are ends not yet told to the coordinator: that happens
	// at the next Read, after the shard's last records went downstream.
	unpublished []shardEnded
	rr          int
	started     bool
	eof         bool
	timer       clock.Timer
	deagg       kpl.Deaggregator
	users       []kpl.UserRecord
}

// AddSplits implements engine.SplitReader.
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
const idleSplit = "kinesis:no-shard"

// Read implements engine.SourceReader.
func (r *reader[T]) Read(ctx context.Context, out *engine.SourceOutput[T]) error {
	if !r.started {
		r.started = true
		r.outs = map[string]*engine.SplitOutput[T]{}
		out.Split(idleSplit)
		out.ReleaseSplit(idleSplit)
	}
	for len(r.unpublished) > 0 {
		if err := r.send(r.unpublished[0]); err != nil {
			return fmt.Errorf("kinesis: source: %w", err)
		}
		r.unpublished = r.unpublished[1:]
	}
	if r.eof {
		return io.EOF
	}
	r.takeIncoming(out)
	if r.src.opts.Bounded && r.noMore && len(r.shards) == 0 {
		r.eof = true
		return io.EOF
	}
	now := r.clock.Now()
	got, ended := 0, false
	n := len(r.active)
	for k := 0; k < n; k++ {
		sh := r.active[(r.rr+k)%n]
		if sh.next.After(now) {
			continue
		}
		c, done, children, err := r.poll(ctx, sh, out)
		if err != nil {
			return err
		}
		got += c
		if done {
			r.finish(sh, out, children)
			ended = true
		}
	}
	r.rr++
	if ended {
		live := r.active[:0]
		for _, sh := range r.active {
			if r.shards[sh.id] != nil {
				live = append(live, sh)
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

func (r *reader[T]) takeIncoming(out *engine.SourceOutput[T]) {
	for _, a := range r.incoming {
		if a.Finished {
			r.finished[a.ID] = true
			continue
		}
		if r.finished[a.ID] {
			continue
		}
		sh := r.shards[a.ID]
		if sh == nil {
			sh = &shard{id: a.ID, start: a.Start, pending: true}
			if a.Start.Type == AtSequenceNumber {
				sh.skipSeq, sh.skipSub = a.Start.Seq, a.Start.Sub
			}
			r.shards[a.ID] = sh
			// The split exists from now on: until it has records it holds
			// the subtask's watermark, so that a key moving here from a
			// parent is not late.
			r.outs[a.ID] = out.Split(a.ID)
		}
		if !a.Pending && !sh.started {
			sh.pending, sh.started = false, true
			r.active = append(r.active, sh)
		}
	}
	r.incoming = r.incoming[:0]
}

// throttled reports errors after which a call is tried again later:
// throttling, and failures on the service's side (InternalFailure, HTTP
// 5xx) that outlasted the SDK's own retries.
func throttled(err error) bool {
	var pt *types.ProvisionedThroughputExceededException
	var le *types.LimitExceededException
	var kt *types.KMSThrottlingException
	if errors.As(err, &pt) || errors.As(err, &le) || errors.As(err, &kt) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultServer {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}

// timestampInFuture reports Kinesis's refusal of an AT_TIMESTAMP after
// its own clock.
func timestampInFuture(err error) bool {
	var ia *types.InvalidArgumentException
	return errors.As(err, &ia) && strings.Contains(aws.ToString(ia.Message), "cannot be greater than the currentTimestampInMillis")
}

// poll reads sh once. done reports that it has ended: closed (children are
// those it named) or, bounded, caught up.
func (r *reader[T]) poll(ctx context.Context, sh *shard, out *engine.SourceOutput[T]) (int, bool, []types.ChildShard, error) {
	o := &r.src.opts
	api := r.src.api
	backoffOn := func(err error) bool {
		if !throttled(err) {
			return false
		}
		sh.retries++
		sh.next = r.clock.Now().Add(r.policy.Wait(sh.retries))
		return true
	}
	if len(sh.pend) > 0 {
		// The rest of the last response first.
		n, err := r.drain(sh, out)
		if err != nil || len(sh.pend) > 0 {
			return n, false, nil, err
		}
		sh.pend = nil
		if sh.pendEnd {
			return n, true, sh.pendChildren, nil
		}
		return n, false, nil, nil
	}
	if sh.iter == "" {
		p := sh.pos()
		in := &kinesis.GetShardIteratorInput{ShardId: aws.String(sh.id), ShardIteratorType: types.ShardIteratorType(p.Type)}
		r.src.opts.streamInput(&in.StreamName, &in.StreamARN)
		switch p.Type {
		case AtTimestamp:
			in.Timestamp = aws.Time(time.UnixMilli(p.Timestamp))
		case AfterSequenceNumber, AtSequenceNumber:
			in.StartingSequenceNumber = aws.String(p.Seq)
		}
		res, err := api.GetShardIterator(ctx, in)
		if err != nil && p.Latest && timestampInFuture(err) {
			// The endpoint's clock is behind the job's: LATEST is the
			// same point or an earlier one.
			in.ShardIteratorType, in.Timestamp = types.ShardIteratorTypeLatest, nil
			res, err = api.GetShardIterator(ctx, in)
		}
		if err != nil {
			if backoffOn(err) {
				return 0, false, nil, nil
			}
			return 0, false, nil, fmt.Errorf("kinesis: source: GetShardIterator %s %s at %s: %w", r.src.opts.streamName(), sh.id, p, err)
		}
		sh.iter = aws.ToString(res.ShardIterator)
		if sh.iter == "" {
			return 0, false, nil, fmt.Errorf("kinesis: source: GetShardIterator %s %s returned no iterator", r.src.opts.streamName(), sh.id)
		}
	}
	res, err := api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(sh.iter), Limit: aws.Int32(int32(o.MaxRecordsPerRead))})
	if err != nil {
		var ei *types.ExpiredIteratorException
		if errors.As(err, &ei) {
			sh.iter = "" // get a new one from the last position
			return 0, false, nil, nil
		}
		if backoffOn(err) {
			return 0, false, nil, nil
		}
		return 0, false, nil, fmt.Errorf("kinesis: source: GetRecords %s %s: %w", r.src.opts.streamName(), sh.id, err)
	}
	sh.retries = 0
	if res.NextShardIterator != nil {
		sh.iter = *res.NextShardIterator
	}
	sh.pend, sh.pendSub = res.Records, 0
	sh.pendEnd, sh.pendChildren = res.NextShardIterator == nil, res.ChildShards
	n, err := r.drain(sh, out)
	if err != nil || len(sh.pend) > 0 {
		return n, false, nil, err
	}
	sh.pend = nil
	if sh.pendEnd {
		return n, true, sh.pendChildren, nil
	}
	caughtUp := len(res.Records) == 0 && aws.ToInt64(res.MillisBehindLatest) == 0
	if caughtUp && o.Bounded {
		return 0, true, nil, nil
	}
	if caughtUp {
		sh.next = r.clock.Now().Add(o.PollInterval)
	}
	return n, false, nil, nil
}

// drain emits sh's pending records, about as many as out has room for,
// de-aggregating KPL aggregates unless KeepAggregates.
func (r *reader[T]) drain(sh *shard, out *engine.SourceOutput[T]) (int, error) {
	budget := max(out.Room(), 1)
	so := r.outs[sh.id]
	n := 0
	rec := Record{ShardID: sh.id}
	emit := func() error {
		v, err := r.src.conv(&rec)
		if err != nil {
			if rec.Aggregated {
				return fmt.Errorf("kinesis: source: user record %s/%d of %s: %w", rec.SequenceNumber, rec.SubSequenceNumber, sh.id, err)
			}
			return fmt.Errorf("kinesis: source: record %s of %s: %w", rec.SequenceNumber, sh.id, err)
		}
		so.CollectAt(v, rec.ArrivalTime.UnixMilli())
		n++
		return nil
	}
	for len(sh.pend) > 0 && n < budget {
		kr := &sh.pend[0]
		rec.SequenceNumber = aws.ToString(kr.SequenceNumber)
		rec.ArrivalTime = aws.ToTime(kr.ApproximateArrivalTimestamp)
		rec.SubSequenceNumber, rec.Aggregated, rec.ExplicitHashKey = 0, false, ""
		rec.PartitionKey = aws.ToString(kr.PartitionKey)
		rec.Data = kr.Data
		skip := sh.pendSub
		if sh.skipSeq != "" {
			if sh.skipSeq == rec.SequenceNumber && skip == 0 {
				skip = sh.skipSub
			}
			sh.skipSeq = ""
		}
		if r.src.opts.KeepAggregates || !kpl.IsAggregated(kr.Data) {
			if err := emit(); err != nil {
				return n, err
			}
		} else {
			users, ce := r.deagg.Append(r.users[:0], rec.PartitionKey, "", kr.Data)
			r.users = users
			if ce != nil {
				r.src.corrupt.Add(1)
				if h := r.src.opts.OnCorruptAggregate; h != nil {
					h(sh.id, rec.SequenceNumber, ce)
				}
				if err := emit(); err != nil {
					return n, err
				}
			} else {
				for i := skip; i < uint64(len(users)); i++ {
					if n >= budget {
						sh.pendSub = i
						clear(r.users)
						return n, nil
					}
					u := &users[i]
					rec.SubSequenceNumber, rec.Aggregated = u.SubSequenceNumber, true
					rec.PartitionKey, rec.ExplicitHashKey, rec.Data = u.PartitionKey, u.ExplicitHashKey, u.Data
					if err := emit(); err != nil {
						return n, err
					}
				}
				clear(r.users)
			}
		}
		sh.lastSeq = rec.SequenceNumber
		sh.pend[0] = types.Record{}
		sh.pend, sh.pendSub = sh.pend[1:], 0
	}
	return n, nil
}

func (o *SourceOptions) streamInput(name, arn **string) {
	streamInput(o.Stream, o.StreamARN, name, arn)
}

// streamInput names the stream in a request: by ARN if there is one.
func streamInput(stream, streamARN string, name, arn **string) {
	if streamARN != "" {
		*arn = aws.String(streamARN)
	} else {
		*name = aws.String(stream)
	}
}

func (r *reader[T]) finish(sh *shard, out *engine.SourceOutput[T], children []types.ChildShard) {
	out.ReleaseSplit(sh.id)
	delete(r.outs, sh.id)
	delete(r.shards, sh.id)
	r.finished[sh.id] = true
	r.unpublished = append(r.unpublished, shardEnded{ID: sh.id, Children: children})
}

// maxWait bounds a Read's wait, so that the task stays responsive.
const maxWait = 100 * time.Millisecond

// wait blocks until the earliest shard is due, the engine has something
// for the task, ctx ends, or maxWait passes.
func (r *reader[T]) wait(ctx context.Context) {
	d := maxWait
	now := r.clock.Now()
	for _, sh := range r.active {
		if w := sh.next.Sub(now); w < d {
			d = w
		}
	}
	if d <= 0 {
		return
	}
	if r.timer == nil {
		r.timer = r.clock.NewTimer(d)
	} else {
		r.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
	case <-r.interrupt:
	case <-r.timer.C():
		return
	}
	if !r.timer.Stop() {
		select { // a stale fire
		case <-r.timer.C():
		default:
		}
	}
}

// SnapshotPosition implements engine.CheckpointedReader: every shard this
// reader owns, with its position or its end.
func (r *reader[T]) SnapshotPosition() ([]byte, error) {
	ents := make([]posEntry, 0, len(r.shards)+len(r.finished)+len(r.incoming))
	for id := range r.finished {
		ents = append(ents, posEntry{ID: id, Finished: true})
	}
	for _, sh := range r.shards {
		p := sh.pos()
		ents = append(ents, posEntry{ID: sh.id, Pos: &p})
	}
	for _, a := range r.incoming {
		switch {
		case a.Finished:
			ents = append(ents, posEntry{ID: a.ID, Finished: true})
		case r.shards[a.ID] == nil && !r.finished[a.ID]:
			p := a.Start
			ents = append(ents, posEntry{ID: a.ID, Pos: &p})
		}
	}
	sortEntries(ents)
	return encodePositions(r.src.opts.streamName(), ents)
}

// Close implements engine.SourceReader.
func (r *reader[T]) Close() error {
	if r.timer != nil {
		r.timer.Stop()
	}
	return nil
}

var (
	_ engine.CheckpointedReader      = (*reader[Record])(nil)
	_ engine.SplitReader[shardSplit] = (*reader[Record])(nil)
	_ engine.SplitSource[Record]     = (*Source[Record])(nil)
	_ engine.SourceReader[Record]    = (*reader[Record])(nil)
)
