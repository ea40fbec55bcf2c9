package trigger

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// DefaultRetry is the wait between retries of a failing or throttled
// batch.
var DefaultRetry = backoff.Policy{Initial: 100 * time.Millisecond, Multiplier: 2, Max: 10 * time.Second, Jitter: true}

// rescanEvery is how often a running trigger looks for shards it has not
// started (new shards otherwise appear when a parent ends).
const rescanEvery = 10 * time.Second

// Options are what a trigger runs with besides its Config.
type Options struct {
	// Log holds the source stream (and an on-failure stream).
	Log *shardlog.Log
	// Source is the stream to read instead of the log's (KinesisSource:
	// any Kinesis endpoint); nil: the stream EventSourceArn names in Log.
	Source Source
	// StateDir holds the trigger's shard positions.
	StateDir string
	// Invoker calls the function; nil: NewInvoker(cfg.Function).
	Invoker Invoker
	// Destination receives on-failure records; nil: the one
	// cfg.DestinationConfig names (none: failed batches are discarded
	// with a log line, as Lambda discards them).
	Destination Destination
	// Clock times batching windows, record ages and retry waits; nil:
	// the real clock.
	Clock clock.Clock
	// Retry is the wait between retries; zero: DefaultRetry.
	Retry backoff.Policy
	// Logf receives a line for each discarded batch, throttled call and
	// refused partial response; nil: none.
	Logf func(format string, args ...any)
}

// Stats are a trigger's counters since it started.
type Stats struct {
	Invocations      int64 // calls of the function
	FunctionErrors   int64 // calls that failed (complete failures and partial batch failures)
	Throttles        int64 // calls that did not reach the function
	RecordsProcessed int64 // records the function reported done
	RecordsFailed    int64 // records sent to the on-failure destination or discarded
}

// Trigger runs one Config against a stream of the embedded log. Run it
// with Run; it is safe to read Stats, Positions and Changed meanwhile.
type Trigger struct {
	cfg         Config
	s           settings
	log         *shardlog.Log
	ref         shardlog.StreamRef
	src         Source
	region      string
	functionArn string
	stateDir    string
	inv         Invoker
	dest        Destination
	clock       clock.Clock
	retry       backoff.Policy
	logf        func(string, ...any)

	pos *positions

	invocations, functionErrors, throttles, processed, failed atomic.Int64

	mu      sync.Mutex
	changed chan struct{}
}

// New checks cfg and returns its trigger.
func New(cfg Config, opts Options) (*Trigger, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	if (opts.Log == nil && opts.Source == nil) || opts.StateDir == "" {
		return nil, errors.New("trigger: Options.Log (or Options.Source) and Options.StateDir are required")
	}
	region, account, stream, _ := ParseStreamARN(cfg.EventSourceArn)
	t := &Trigger{
		cfg:         cfg,
		s:           cfg.settings(),
		log:         opts.Log,
		ref:         shardlog.StreamRef{Name: stream},
		region:      region,
		functionArn: "arn:aws:lambda:" + region + ":" + account + ":function:" + cfg.Name,
		stateDir:    opts.StateDir,
		inv:         opts.Invoker,
		dest:        opts.Destination,
		clock:       clock.Or(opts.Clock),
		retry:       opts.Retry,
		logf:        opts.Logf,
		src:         opts.Source,
		changed:     make(chan struct{}),
	}
	if t.src == nil {
		t.src = &logSource{l: opts.Log, ref: t.ref}
	}
	if t.inv == nil {
		t.inv = NewInvoker(cfg.Function)
	}
	if t.retry == (backoff.Policy{}) {
		t.retry = DefaultRetry
	}
	if err := t.retry.Validate(); err != nil {
		return nil, fmt.Errorf("trigger %s: %w", cfg.Name, err)
	}
	if t.logf == nil {
		t.logf = func(string, ...any) {}
	}
	if t.dest == nil && t.s.destination != "" {
		ks, viaKinesis := t.src.(*KinesisSource)
		switch {
		case viaKinesis && !strings.HasPrefix(t.s.destination, "file://"):
			// The on-failure stream is on the source's endpoint.
			_, _, name, _ := ParseStreamARN(t.s.destination)
			t.dest = &KinesisDestination{Client: ks.Client, Stream: name}
		case opts.Log == nil && !strings.HasPrefix(t.s.destination, "file://"):
			return nil, fmt.Errorf("trigger %s: the on-failure stream %s needs Options.Log or Options.Destination", cfg.Name, t.s.destination)
		default:
			d, err := NewDestination(opts.Log, t.s.destination)
			if err != nil {
				return nil, fmt.Errorf("trigger %s: %w", cfg.Name, err)
			}
			t.dest = d
		}
	}
	return t, nil
}

// Config is the trigger's normalized configuration.
func (t *Trigger) Config() Config { return t.cfg }

// Stats returns the trigger's counters.
func (t *Trigger) Stats() Stats {
	return Stats{
		Invocations:      t.invocations.Load(),
		FunctionErrors:   t.functionErrors.Load(),
		Throttles:        t.throttles.Load(),
		RecordsProcessed: t.processed.Load(),
		RecordsFailed:    t.failed.Load(),
	}
}

// Changed returns a channel closed at the trigger's next checkpoint.
func (t *Trigger) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

func (t *Trigger) notify() {
	t.mu.Lock()
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// Positions returns the checkpointed position of every shard the trigger
// has started (nil before Run has opened them).
func (t *Trigger) Positions() map[string]ShardPosition {
	t.mu.Lock()
	p := t.pos
	t.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.snapshot()
}

// CaughtUp reports whether the trigger has done every record the stream
// holds now: every closed shard finished, every open shard checkpointed at
// its end.
func (t *Trigger) CaughtUp() (bool, error) {
	if _, ok := t.src.(*logSource); !ok {
		return false, errors.New("trigger: CaughtUp needs the embedded log as the source")
	}
	lin, err := t.log.Lineage(t.ref)
	if err != nil {
		return false, err
	}
	ps := t.Positions()
	for _, sh := range lin.Shards {
		p, ok := ps[sh.ID]
		switch {
		case ok && p.Finished:
		case sh.Closed:
			return false, nil
		case !ok:
			if sh.End != 0 {
				return false, nil
			}
		default:
			seq, ok := shardlog.ParseSequenceNumber(p.SequenceNumber)
			if !ok || seq.Pos < sh.End {
				return false, nil
			}
		}
	}
	return true, nil
}

type shardDone struct {
	id  string
	err error
}

// Run runs the trigger until ctx ends (returning nil) or it meets an error
// it cannot get past (the stream deleted, the state directory unwritable).
// Each shard is read by its own loop from its checkpointed position; a
// shard starts once its parents are finished, so that the function sees a
// key's records in order across a reshard.
func (t *Trigger) Run(ctx context.Context) error {
	created, shards, err := t.src.Shards(ctx)
	if err != nil {
		return fmt.Errorf("trigger %s: %w", t.cfg.Name, err)
	}
	pos, err := openPositions(t.stateDir, created.UnixMilli(), t.logf)
	if err != nil {
		return fmt.Errorf("trigger %s: %w", t.cfg.Name, err)
	}
	if len(pos.snapshot()) == 0 && t.s.start != TrimHorizon {
		// A first run: every shard the stream holds now starts at the
		// configured position, children included; only shards born later
		// start at TRIM_HORIZON.
		for _, sh := range shards {
			start := t.startPosition(false)
			r, err := t.src.Open(ctx, sh.ID, start)
			if err != nil {
				return fmt.Errorf("trigger %s: %w", t.cfg.Name, err)
			}
			if err := pos.set(sh.ID, startRecord(r.Position(), start, t.src.Now())); err != nil {
				return fmt.Errorf("trigger %s: %w", t.cfg.Name, err)
			}
		}
	}
	t.mu.Lock()
	t.pos = pos
	t.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	running := map[string]bool{}
	done := make(chan shardDone)
	wait := func() {
		for len(running) > 0 {
			d := <-done
			delete(running, d.id)
		}
	}
	for {
		_, shards, err := t.src.Shards(ctx)
		if err != nil {
			cancel()
			wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("trigger %s: %w", t.cfg.Name, err)
		}
		retained := make(map[string]bool, len(shards))
		for _, sh := range shards {
			retained[sh.ID] = true
		}
		for _, sh := range shards {
			if running[sh.ID] {
				continue
			}
			p, ok := pos.get(sh.ID)
			if ok && p.Finished {
				continue
			}
			ready, child := true, false
			for _, parent := range sh.Parents {
				pp, seen := pos.get(parent)
				child = child || seen
				if retained[parent] && !pp.Finished {
					ready = false
				}
			}
			if !ready {
				continue
			}
			running[sh.ID] = true
			go func(id string, child bool) {
				done <- shardDone{id, t.runShard(ctx, id, child)}
			}(sh.ID, child)
		}
		timer := t.clock.NewTimer(rescanEvery)
		select {
		case d := <-done:
			timer.Stop()
			delete(running, d.id)
			if d.err != nil && ctx.Err() == nil {
				cancel()
				wait()
				return fmt.Errorf("trigger %s: shard %s: %w", t.cfg.Name, d.id, d.err)
			}
		case <-timer.C():
		case <-ctx.Done():
			timer.Stop()
			wait()
			return nil
		}
		if ctx.Err() != nil {
			wait()
			return nil
		}
	}
}

// startPosition is where a shard without a checkpoint starts: a child of a
// shard this trigger read starts at its beginning, any other at the
// configured StartingPosition.
func (t *Trigger) startPosition(child bool) shardlog.StartPosition {
	switch {
	case child || t.s.start == TrimHorizon:
		return shardlog.StartPosition{Type: shardlog.TrimHorizon}
	case t.s.start == AtTimestamp:
		ts := t.s.startTime
		if now := t.src.Now(); ts.After(now) {
			// Not yet there: nothing to skip; read what arrives.
			return shardlog.StartPosition{Type: shardlog.Latest}
		}
		return shardlog.StartPosition{Type: shardlog.AtTimestamp, Timestamp: ts}
	}
	return shardlog.StartPosition{Type: shardlog.Latest}
}

// runShard runs one shard to its end (nil), until ctx ends (nil), or to an
// error. The shard's records go to ParallelizationFactor lanes by
// partition key; each lane calls the function with one batch at a time,
// in order, so that a key's records are done in order; the checkpoint is
// the last record before which every record is done.
func (t *Trigger) runShard(ctx context.Context, shardID string, child bool) error {
	p, resumed := t.pos.get(shardID)
	var start shardlog.StartPosition
	switch {
	case !resumed:
		start = t.startPosition(child)
	case p.SequenceNumber != "":
		start = shardlog.StartPosition{Type: shardlog.AfterSequenceNumber, SequenceNumber: p.SequenceNumber}
	case p.AtTimestampMs != 0:
		start = shardlog.StartPosition{Type: shardlog.AtTimestamp, Timestamp: time.UnixMilli(p.AtTimestampMs)}
	default:
		start = shardlog.StartPosition{Type: shardlog.TrimHorizon}
	}
	r, err := t.src.Open(ctx, shardID, start)
	if err != nil {
		return err
	}
	first := r.Position()
	if !resumed {
		// Keep where a LATEST or AT_TIMESTAMP start is, so that a restart
		// resumes there rather than at a later LATEST.
		if err := t.pos.set(shardID, startRecord(first, start, t.src.Now())); err != nil {
			return err
		}
		t.notify()
	}
	tr := &tracker{t: t, shard: shardID, position: first}
	src := &eventSource{shardID: shardID, region: t.region, eventSourceARN: t.cfg.EventSourceArn, identityARN: t.cfg.InvokeIdentityArn}
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	lanes := make([]*lane, t.s.parallel)
	errc := make(chan error, len(lanes))
	for i := range lanes {
		lanes[i] = &lane{t: t, src: src, tr: tr, in: make(chan []Record, laneChunks)}
		go func(l *lane) {
			err := l.run(lctx)
			if err != nil {
				lcancel()
			}
			errc <- err
		}(lanes[i])
	}
	ended, readErr := t.readShard(lctx, r, tr, lanes)
	for _, l := range lanes {
		close(l.in)
	}
	var laneErr error
	for range lanes {
		if err := <-errc; err != nil && laneErr == nil && !errors.Is(err, context.Canceled) {
			laneErr = err
		}
	}
	switch {
	case laneErr != nil:
		return laneErr
	case ctx.Err() != nil:
		return nil
	case readErr != nil:
		return readErr
	case !ended:
		return nil
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err := t.pos.set(shardID, ShardPosition{SequenceNumber: tr.position, Finished: true}); err != nil {
		return err
	}
	t.notify()
	return nil
}

// readShard reads r into the lanes until the shard ends (true) or ctx
// ends. Each read's records go to their lanes as one chunk per lane, so
// that a lane sees at once what one read brought.
func (t *Trigger) readShard(ctx context.Context, r ShardSource, tr *tracker, lanes []*lane) (bool, error) {
	// A read fills every lane's batch when keys spread evenly.
	max := min(t.s.batchSize*len(lanes), shardlog.MaxGetRecords)
	chunks := make([][]Record, len(lanes))
	for {
		recs, ended, err := r.Read(ctx, max)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		for i := range recs {
			rec := recs[i]
			tr.add(&rec)
			k := 0
			if len(lanes) > 1 {
				h := fnv.New32a()
				h.Write(rec.PartitionKey)
				k = int(h.Sum32() % uint32(len(lanes)))
			}
			chunks[k] = append(chunks[k], rec)
		}
		for k, c := range chunks {
			if len(c) == 0 {
				continue
			}
			select {
			case lanes[k].in <- c:
			case <-ctx.Done():
				return false, nil
			}
			chunks[k] = nil
		}
		if ended {
			return true, nil
		}
	}
}

// startRecord is the position stored for a shard started at start whose
// reader names its position pos ("" when a source cannot before a read):
// a LATEST start is kept as the time it began, so that a restart does not
// skip what arrived meanwhile.
func startRecord(pos string, start shardlog.StartPosition, now time.Time) ShardPosition {
	if pos != "" {
		return ShardPosition{SequenceNumber: pos}
	}
	switch start.Type {
	case shardlog.Latest:
		return ShardPosition{AtTimestampMs: now.UnixMilli()}
	case shardlog.AtTimestamp:
		return ShardPosition{AtTimestampMs: start.Timestamp.UnixMilli()}
	}
	return ShardPosition{}
}

// tracker keeps a shard's checkpoint: records enter in read order and
// leave done in any order (lanes run concurrently); the checkpoint is the
// last record of the done prefix.
type tracker struct {
	t     *Trigger
	shard string

	mu       sync.Mutex
	next     uint64 // the index the next record read gets
	base     uint64 // the index of pending[0]
	pending  []trackEntry
	position string // every record up to this one is done
}

type trackEntry struct {
	seq  string
	done bool
}

func (tr *tracker) add(r *Record) {
	tr.mu.Lock()
	r.idx = tr.next
	tr.next++
	tr.pending = append(tr.pending, trackEntry{seq: r.SequenceNumber})
	tr.mu.Unlock()
}

// done marks batch done and checkpoints the shard if its done prefix grew.
func (tr *tracker) done(batch []Record) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := range batch {
		tr.pending[batch[i].idx-tr.base].done = true
	}
	n := 0
	for n < len(tr.pending) && tr.pending[n].done {
		n++
	}
	if n == 0 {
		return nil
	}
	tr.position = tr.pending[n-1].seq
	tr.pending = tr.pending[n:]
	tr.base += uint64(n)
	if err := tr.t.pos.set(tr.shard, ShardPosition{SequenceNumber: tr.position}); err != nil {
		return err
	}
	tr.t.notify()
	return nil
}

// lane is one of a shard's ParallelizationFactor concurrent batch loops.
type lane struct {
	t       *Trigger
	src     *eventSource
	tr      *tracker
	in      chan []Record
	pending []Record // received, not yet in a batch
	batch   []Record
	event   []byte
}

// laneChunks is how many read chunks may wait for a lane.
const laneChunks = 2

func (l *lane) run(ctx context.Context) error {
	for {
		open := l.collect(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(l.batch) > 0 {
			if err := l.settle(ctx, l.batch, 0); err != nil {
				return err
			}
			if err := l.tr.done(l.batch); err != nil {
				return err
			}
		}
		if !open && len(l.pending) == 0 {
			return nil
		}
	}
}

// collect gathers the next batch into l.batch: up to BatchSize records and
// 6 MB of event, waiting up to the batching window after the first record
// (with a window of 0, what has arrived). It reports false once the input
// is closed.
func (l *lane) collect(ctx context.Context) bool {
	s := &l.t.s
	l.batch = l.batch[:0]
	size := 0
	full := false
	// take moves pending records into the batch while they fit.
	take := func() {
		n := 0
		for n < len(l.pending) && len(l.batch) < s.batchSize {
			sz := recordSize(&l.pending[n])
			if len(l.batch) > 0 && size+sz > maxPayload {
				full = true
				break
			}
			l.batch = append(l.batch, l.pending[n])
			size += sz
			n++
		}
		l.pending = l.pending[n:]
		if len(l.batch) >= s.batchSize {
			full = true
		}
	}
	take()
	if len(l.batch) == 0 {
		select {
		case c, ok := <-l.in:
			if !ok {
				return false
			}
			l.pending = c
			take()
		case <-ctx.Done():
			return false
		}
	}
	var timeout <-chan time.Time
	if s.window > 0 && !full {
		timer := l.t.clock.NewTimer(s.window)
		defer timer.Stop()
		timeout = timer.C()
	}
	for !full && len(l.pending) == 0 {
		if s.window == 0 {
			select {
			case c, ok := <-l.in:
				if !ok {
					return false
				}
				l.pending = c
				take()
			default:
				return true
			}
			continue
		}
		select {
		case c, ok := <-l.in:
			if !ok {
				return false
			}
			l.pending = c
			take()
		case <-timeout:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// settle calls the function with batch until every record of it is done
// or given to the on-failure destination, as Lambda does: a function error
// bisects the batch (with BisectBatchOnFunctionError) or retries it, up to
// MaximumRetryAttempts retries, with waits between; a partial batch
// response retries from the lowest failed record; records older than
// MaximumRecordAgeInSeconds are given up; a throttled call is retried
// without counting. retries is how many the batch's records have used.
func (l *lane) settle(ctx context.Context, batch []Record, retries int) error {
	t := l.t
	s := &t.s
	invokes, throttles := 0, 0
	var last *FunctionError
	for len(batch) > 0 {
		if s.maxAge > 0 {
			cutoff := t.clock.Now().Add(-s.maxAge)
			n := 0
			for n < len(batch) && batch[n].ArrivalTime.Before(cutoff) {
				n++
			}
			if n > 0 {
				if err := l.fail(ctx, batch[:n], ConditionRecordAge, invokes, last); err != nil {
					return err
				}
				batch = batch[n:]
				continue
			}
		}
		l.event = appendEvent(l.event[:0], l.src, batch)
		invokes++
		t.invocations.Add(1)
		resp, err := t.inv.Invoke(ctx, l.event)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fe *FunctionError
		switch {
		case err == nil && !s.partial:
			t.processed.Add(int64(len(batch)))
			return nil
		case err == nil:
			pr := parsePartial(resp, batch)
			if pr.invalid == "" && pr.retryFrom == len(batch) {
				t.processed.Add(int64(len(batch)))
				return nil
			}
			if pr.invalid != "" {
				t.logf("trigger %s: shard %s: the partial batch response fails the whole batch: %s", t.cfg.Name, l.src.shardID, pr.invalid)
				fe = &FunctionError{StatusCode: 200, Message: "invalid partial batch response: " + pr.invalid}
				break
			}
			// The records before the lowest failure are done; retry from it.
			t.functionErrors.Add(1)
			t.processed.Add(int64(pr.retryFrom))
			batch = batch[pr.retryFrom:]
			last = &FunctionError{StatusCode: 200, Message: "partial batch failure"}
			retries++
			if s.maxRetries >= 0 && retries > s.maxRetries {
				return l.fail(ctx, batch, ConditionRetriesExhausted, invokes, last)
			}
			if err := clock.Sleep(ctx, t.clock, t.retry.Wait(retries)); err != nil {
				return err
			}
			continue
		case errors.As(err, &fe):
		default:
			throttles++
			t.throttles.Add(1)
			if throttles == 1 || throttles%100 == 0 {
				t.logf("trigger %s: shard %s: %v (retrying, %d times so far)", t.cfg.Name, l.src.shardID, err, throttles)
			}
			if err := clock.Sleep(ctx, t.clock, t.retry.Wait(min(throttles, 30))); err != nil {
				return err
			}
			continue
		}
		// A complete failure.
		t.functionErrors.Add(1)
		last = fe
		if s.bisect && len(batch) > 1 {
			h := len(batch) / 2
			if err := l.settle(ctx, batch[:h], retries); err != nil {
				return err
			}
			return l.settle(ctx, batch[h:], retries)
		}
		retries++
		if s.maxRetries >= 0 && retries > s.maxRetries {
			return l.fail(ctx, batch, ConditionRetriesExhausted, invokes, last)
		}
		if err := clock.Sleep(ctx, t.clock, t.retry.Wait(min(retries, 30))); err != nil {
			return err
		}
	}
	return nil
}

// fail gives recs up: their on-failure record goes to the destination
// (retried until it is taken), or, with none, a log line says they are
// discarded.
func (l *lane) fail(ctx context.Context, recs []Record, condition string, invokes int, last *FunctionError) error {
	t := l.t
	t.failed.Add(int64(len(recs)))
	rec := &FailureRecord{
		RequestContext: RequestContext{
			RequestID:              uuid.NewString(),
			FunctionArn:            t.functionArn,
			Condition:              condition,
			ApproximateInvokeCount: invokes,
		},
		Version:          "1.0",
		Timestamp:        t.clock.Now().UTC().Format(isoMillis),
		KinesisBatchInfo: batchInfo(l.src, recs),
	}
	if last != nil {
		rec.ResponseContext = &ResponseContext{StatusCode: last.StatusCode, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"}
	}
	b := &rec.KinesisBatchInfo
	if t.dest == nil {
		t.logf("trigger %s: discarded %d records of %s (%s to %s): %s", t.cfg.Name, b.BatchSize, b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, condition)
		return nil
	}
	for n := 1; ; n++ {
		err := t.dest.Send(ctx, rec, recs)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.logf("trigger %s: on-failure record of %s (%s to %s): %v (retrying)", t.cfg.Name, b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, err)
		if err := clock.Sleep(ctx, t.clock, t.retry.Wait(min(n, 30))); err != nil {
			return err
		}
	}
}
