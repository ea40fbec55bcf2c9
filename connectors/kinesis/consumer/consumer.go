package consumer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/internal/clock"
)

// Consumer processes a stream's shards together with the other workers
// that share its lease table, as a KCL 2.x Scheduler does: it creates the
// leases of the stream's shards (parents before children), takes free and
// expired leases up to its share (ceil(leases / workers)), asks the most
// loaded worker for one lease per cycle when it has less, renews the leases
// it holds, and runs one record processor per lease.
type Consumer struct {
	cfg   Config
	api   API
	clk   clock.Clock
	store LeaseStore

	consumerARN string // FanOut's

	mu   sync.Mutex
	held map[string]*heldLease
	seen map[string]observation
	rng  *rand.Rand

	syncNow chan struct{}
	ended   chan *heldLease
	stopped chan struct{} // closed when Run returns
	ran     atomic.Bool
	// shuttingDown: leases are released, not handed over (the worker
	// that asked may be shutting down too). Run's goroutine only.
	shuttingDown bool

	// hooks let tests see the clock readings the lease decisions use.
	hooks struct {
		deliver func(shard string, at time.Time) // a batch passed the validity check
		took    func(shard string, at time.Time) // a lease taken (the write's send time)
	}
}

// observation is when this worker first saw a lease's counter at its
// current value: the lease expires FailoverTime after that if the counter
// does not move (KCL's lastCounterIncrementNanos).
type observation struct {
	owner   string
	counter int64
	at      time.Time
}

// heldLease is a lease this worker holds, and the processing of its shard.
type heldLease struct {
	shard string

	mu         sync.Mutex
	lease      Lease
	validUntil time.Time // no delivery and no checkpoint after it
	lost       bool
	// handoff: another worker asked for the lease (PendingOwner).
	handoff bool

	stop    chan stopReason // buffered 1: why the shard consumer must stop
	done    chan struct{}   // closed when the shard consumer has returned
	outcome shardOutcome    // set before done is closed
}

type stopReason int

const (
	stopShutdown stopReason = iota + 1
	stopHandoff
	stopLost
)

type shardOutcome int

const (
	outcomeStopped shardOutcome = iota // stopped on request (shutdown, handoff)
	outcomeLost                        // lease lost
	outcomeEnded                       // shard end checkpointed
	outcomeFailed                      // processor or read error
)

// New makes a Consumer reading through api.
func New(api API, cfg Config) (*Consumer, error) {
	if api == nil {
		return nil, errors.New("consumer: no Kinesis client")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Consumer{
		cfg: cfg, api: api, clk: cfg.Clock, store: cfg.Leases,
		held: map[string]*heldLease{}, seen: map[string]observation{},
		rng:     rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15)),
		syncNow: make(chan struct{}, 1),
		ended:   make(chan *heldLease, 64),
		stopped: make(chan struct{}),
	}, nil
}

// WorkerID is the worker's name in the lease table.
func (c *Consumer) WorkerID() string { return c.cfg.WorkerID }

// Run processes shards until ctx is cancelled, then shuts down gracefully:
// each processor gets ShutdownRequested (and may checkpoint), and the
// leases are released for the other workers. It returns nil after a
// graceful shutdown, or the error that stopped it.
//
// A Consumer runs once: make a new one to run again.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.ran.CompareAndSwap(false, true) {
		return errors.New("consumer: Run called twice (a Consumer runs once)")
	}
	// Store and Kinesis calls outlive ctx: a graceful shutdown still
	// renews, checkpoints and releases.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	defer close(c.stopped)
	if c.cfg.Retrieval == FanOut {
		if err := c.registerConsumer(ctx); err != nil {
			return err
		}
	}
	if err := c.syncShards(ctx); err != nil {
		return err
	}
	renew := c.clk.NewTimer(c.cfg.renewInterval())
	defer renew.Stop()
	take := c.clk.NewTimer(0)
	defer take.Stop()
	syncT := c.clk.NewTimer(c.cfg.ShardSyncInterval)
	defer syncT.Stop()
	for {
		select {
		case <-ctx.Done():
			return c.shutdown(work)
		case <-renew.C():
			c.renewAll(work)
			renew.Reset(c.cfg.renewInterval())
		case <-take.C():
			if err := c.takeLeases(work); err != nil {
				c.cfg.Logger.Warn("consumer: taking leases", "worker", c.cfg.WorkerID, "err", err)
			}
			take.Reset(c.cfg.takeInterval())
		case <-syncT.C():
			c.syncOrLog(work)
			syncT.Reset(c.cfg.ShardSyncInterval)
		case <-c.syncNow:
			c.syncOrLog(work)
			// Children may be leased now: take without waiting a cycle.
			if err := c.takeLeases(work); err != nil {
				c.cfg.Logger.Warn("consumer: taking leases", "worker", c.cfg.WorkerID, "err", err)
			}
		case h := <-c.ended:
			c.finish(work, h)
		}
	}
}

func (c *Consumer) syncOrLog(ctx context.Context) {
	if err := c.syncShards(ctx); err != nil {
		c.cfg.Logger.Warn("consumer: shard sync", "worker", c.cfg.WorkerID, "err", err)
	}
}

func (c *Consumer) streamInput(name, arn **string) {
	if c.cfg.StreamARN != "" {
		*arn = aws.String(c.cfg.StreamARN)
	} else {
		*name = aws.String(c.cfg.StreamName)
	}
}

// listShards returns every shard of the stream.
func (c *Consumer) listShards(ctx context.Context) ([]types.Shard, error) {
	var out []types.Shard
	in := &kinesis.ListShardsInput{}
	c.streamInput(&in.StreamName, &in.StreamARN)
	for {
		var res *kinesis.ListShardsOutput
		err := c.retry(ctx, func() error {
			var err error
			res, err = c.api.ListShards(ctx, in)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("consumer: ListShards: %w", err)
		}
		out = append(out, res.Shards...)
		if res.NextToken == nil {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: res.NextToken}
	}
}

// syncShards creates the leases of shards that have none, parents first:
// a shard whose parent has a lease starts at TRIM_HORIZON (its parent's
// records come first); one without starts at the initial position — or,
// closed under LATEST, is marked finished.
func (c *Consumer) syncShards(ctx context.Context) error {
	shards, err := c.listShards(ctx)
	if err != nil {
		return err
	}
	leases, err := c.store.List(ctx)
	if err != nil {
		return fmt.Errorf("consumer: list leases: %w", err)
	}
	have := map[string]bool{}
	for _, l := range leases {
		have[l.ShardID] = true
	}
	skipped := map[string]bool{} // closed shards marked finished under LATEST now
	byID := map[string]types.Shard{}
	for _, s := range shards {
		byID[aws.ToString(s.ShardId)] = s
	}
	var order []string
	visited := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		if visited[id] {
			return
		}
		visited[id] = true
		s := byID[id]
		for _, p := range parentsOf(s) {
			if _, ok := byID[p]; ok {
				visit(p)
			}
		}
		order = append(order, id)
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		visit(id)
	}
	for _, id := range order {
		if have[id] {
			continue
		}
		s := byID[id]
		parents := parentsOf(s)
		cp := c.cfg.InitialPositionInStream.Type
		for _, p := range parents {
			if have[p] && !skipped[p] {
				cp = TrimHorizon
			}
		}
		if cp == Latest && s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			cp = ShardEnd
			skipped[id] = true
		}
		_, err := c.store.Create(ctx, Lease{ShardID: id, Checkpoint: ExtendedSequenceNumber{SequenceNumber: cp}, ParentShardIDs: parents})
		if err != nil && !errors.Is(err, ErrLeaseExists) {
			return fmt.Errorf("consumer: create lease: %w", err)
		}
		have[id] = true
	}
	return nil
}

func parentsOf(s types.Shard) []string {
	var ps []string
	if p := aws.ToString(s.ParentShardId); p != "" {
		ps = append(ps, p)
	}
	if p := aws.ToString(s.AdjacentParentShardId); p != "" {
		ps = append(ps, p)
	}
	return ps
}

// expired reports whether another worker's lease may be taken: it has no
// owner, or its counter has not moved for the failover time as this
// worker saw it.
func (c *Consumer) expired(l *Lease, now time.Time) bool {
	if l.Owner == "" {
		return true
	}
	o := c.seen[l.ShardID]
	return now.Sub(o.at) > c.cfg.FailoverTime
}

// takeLeases is one cycle of KCL's LeaseTaker.
func (c *Consumer) takeLeases(ctx context.Context) error {
	leases, err := c.store.List(ctx)
	if err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	now := c.clk.Now()
	byID := map[string]*Lease{}
	c.mu.Lock()
	for i := range leases {
		l := &leases[i]
		byID[l.ShardID] = l
		if o, ok := c.seen[l.ShardID]; !ok || o.counter != l.Counter || o.owner != l.Owner {
			c.seen[l.ShardID] = observation{owner: l.Owner, counter: l.Counter, at: now}
		}
	}
	held := map[string]bool{}
	mine := 0
	for id, h := range c.held {
		held[id] = true
		h.mu.Lock()
		if !h.handoff && !h.lost {
			mine++
		}
		h.mu.Unlock()
	}
	// Active leases: unfinished shards whose parents are finished.
	var active []*Lease
	counts := map[string]int{}
	for _, l := range leases {
		l := byID[l.ShardID]
		if l.Finished() || !parentsDone(l, byID) {
			continue
		}
		active = append(active, l)
		if l.Owner != "" && l.Owner != c.cfg.WorkerID && !c.expired(l, now) {
			counts[l.Owner]++
		}
	}
	c.mu.Unlock()
	// Leases asked for and not handed over yet count as this worker's,
	// so that it does not ask for more than its share meanwhile.
	for _, l := range active {
		if l.PendingOwner == c.cfg.WorkerID && l.Owner != c.cfg.WorkerID && !c.expired(l, now) {
			mine++
		}
	}
	workers := len(counts) + 1
	target := (len(active) + workers - 1) / workers
	if c.cfg.MaxLeasesForWorker > 0 && target > c.cfg.MaxLeasesForWorker {
		target = c.cfg.MaxLeasesForWorker
	}
	// Leases that name this worker but that it does not run: handed over
	// by their previous owner.
	var adopt, free []*Lease
	for _, l := range active {
		if held[l.ShardID] {
			continue
		}
		if l.Owner == c.cfg.WorkerID {
			adopt = append(adopt, l)
		} else if c.expired(l, now) {
			free = append(free, l)
		}
	}
	for _, l := range adopt {
		if c.take(ctx, *l) {
			mine++
		}
	}
	needed := target - mine
	if needed <= 0 {
		return nil
	}
	c.rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	took := 0
	for _, l := range free {
		if took == needed {
			break
		}
		if c.take(ctx, *l) {
			took++
		}
	}
	if took > 0 || len(free) > 0 {
		return nil
	}
	// Nothing free: ask the most loaded worker for a lease.
	most, mostN := "", 0
	for w, n := range counts {
		if n > mostN || n == mostN && w < most {
			most, mostN = w, n
		}
	}
	steal := 0
	switch {
	case mostN > target:
		steal = min(mostN-target, needed)
	case mostN == target && needed > 1:
		steal = 1
	}
	steal = min(steal, c.cfg.MaxLeasesToStealAtOneTime)
	var victims []*Lease
	for _, l := range active {
		if l.Owner == most && l.PendingOwner == "" {
			victims = append(victims, l)
		}
	}
	c.rng.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })
	for _, l := range victims[:min(steal, len(victims))] {
		ask := *l
		ask.PendingOwner = c.cfg.WorkerID
		if _, err := c.store.Update(ctx, ask); err != nil && !errors.Is(err, ErrRevisionChanged) {
			return fmt.Errorf("ask for lease of %s: %w", l.ShardID, err)
		}
	}
	return nil
}

// parentsDone reports whether every parent of l that has a lease is
// finished (a parent without one is past the stream's retention).
func parentsDone(l *Lease, byID map[string]*Lease) bool {
	for _, p := range l.ParentShardIDs {
		if pl, ok := byID[p]; ok && !pl.Finished() {
			return false
		}
	}
	return true
}

// take writes this worker into l (compare-and-swap on the revision read)
// and starts processing its shard.
func (c *Consumer) take(ctx context.Context, l Lease) bool {
	if l.Owner != c.cfg.WorkerID {
		l.OwnerSwitchesSinceCheckpoint++
	}
	l.Owner, l.PendingOwner = c.cfg.WorkerID, ""
	l.Counter++
	sent := c.clk.Now()
	nl, err := c.store.Update(ctx, l)
	if err != nil {
		if !errors.Is(err, ErrRevisionChanged) {
			c.cfg.Logger.Warn("consumer: take lease", "worker", c.cfg.WorkerID, "shard", l.ShardID, "err", err)
		}
		return false
	}
	if c.hooks.took != nil {
		c.hooks.took(l.ShardID, sent)
	}
	h := &heldLease{shard: l.ShardID, lease: nl, validUntil: c.deadline(sent), stop: make(chan stopReason, 1), done: make(chan struct{})}
	c.mu.Lock()
	c.held[l.ShardID] = h
	c.mu.Unlock()
	go c.runShard(h)
	return true
}

// deadline is the end of a lease renewed by a write sent at sent: another
// worker sees the write no earlier than it was sent and waits FailoverTime
// from then before taking the lease.
func (c *Consumer) deadline(sent time.Time) time.Time {
	return sent.Add(c.cfg.FailoverTime - c.cfg.Epsilon)
}

// renewAll renews every lease held: counter+1, conditional on the
// revision. A lease found taken is lost; one asked for by another worker
// is handed over once its processor has stopped.
func (c *Consumer) renewAll(ctx context.Context) {
	c.mu.Lock()
	hs := make([]*heldLease, 0, len(c.held))
	for _, h := range c.held {
		hs = append(hs, h)
	}
	c.mu.Unlock()
	for _, h := range hs {
		if err := c.renew(ctx, h); err != nil {
			c.cfg.Logger.Warn("consumer: renew lease", "worker", c.cfg.WorkerID, "shard", h.shard, "err", err)
		}
	}
}

func (c *Consumer) renew(ctx context.Context, h *heldLease) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost {
		return nil
	}
	_, err := c.writeLocked(ctx, h, func(l *Lease) {})
	if errors.Is(err, ErrLeaseLost) {
		return nil // writeLocked told the shard consumer
	}
	if err != nil && !c.clk.Now().Before(h.validUntil) {
		c.loseLocked(h)
	}
	return err
}

// writeLocked writes change(lease) with counter+1 while the lease is this
// worker's; h.mu is held. On a changed revision it reads the lease again:
// still this worker's (another asked for it), it writes again; someone
// else's, the lease is lost (ErrLeaseLost).
func (c *Consumer) writeLocked(ctx context.Context, h *heldLease, change func(l *Lease)) (Lease, error) {
	for attempt := 0; ; attempt++ {
		l := h.lease
		change(&l)
		l.Counter++
		sent := c.clk.Now()
		nl, err := c.store.Update(ctx, l)
		if err == nil {
			h.lease, h.validUntil = nl, c.deadline(sent)
			if nl.PendingOwner != "" && !h.handoff {
				h.handoff = true
				c.signal(h, stopHandoff)
			}
			return nl, nil
		}
		if !errors.Is(err, ErrRevisionChanged) && !errors.Is(err, ErrLeaseNotFound) {
			return Lease{}, err
		}
		fresh, ferr := c.get(ctx, h.shard)
		if ferr != nil {
			return Lease{}, ferr
		}
		if fresh == nil || fresh.Owner != c.cfg.WorkerID || attempt >= 3 {
			c.loseLocked(h)
			return Lease{}, leaseLost(h.shard, err)
		}
		h.lease = *fresh
	}
}

func (c *Consumer) get(ctx context.Context, shard string) (*Lease, error) {
	ls, err := c.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	for i := range ls {
		if ls[i].ShardID == shard {
			return &ls[i], nil
		}
	}
	return nil, nil
}

// loseLocked marks the lease lost and stops its processor (h.mu held).
func (c *Consumer) loseLocked(h *heldLease) {
	if !h.lost {
		h.lost = true
		c.signal(h, stopLost)
	}
}

// signal tells the shard consumer to stop; a lost lease overrides a
// handoff or shutdown not yet seen.
func (c *Consumer) signal(h *heldLease, r stopReason) {
	select {
	case h.stop <- r:
	default:
		if r == stopLost {
			select {
			case <-h.stop:
			default:
			}
			select {
			case h.stop <- r:
			default:
			}
		}
	}
}

// valid reports whether records may still be delivered under h.
func (h *heldLease) valid(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.lost && now.Before(h.validUntil)
}

// finish settles a lease whose shard consumer has returned: a finished or
// failed shard's lease is released; a handed-over one goes to the worker
// that asked; a lost one is forgotten.
func (c *Consumer) finish(ctx context.Context, h *heldLease) {
	c.mu.Lock()
	delete(c.held, h.shard)
	c.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost {
		return
	}
	var err error
	switch {
	case h.outcome == outcomeStopped && h.handoff && !c.shuttingDown:
		_, err = c.writeLocked(ctx, h, func(l *Lease) {
			l.Owner, l.PendingOwner = l.PendingOwner, ""
			l.OwnerSwitchesSinceCheckpoint++
		})
	default:
		_, err = c.writeLocked(ctx, h, func(l *Lease) { l.Owner, l.PendingOwner = "", "" })
	}
	h.lost = true // no longer this worker's
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		c.cfg.Logger.Warn("consumer: release lease", "worker", c.cfg.WorkerID, "shard", h.shard, "err", err)
	}
	if h.outcome == outcomeEnded {
		select {
		case c.syncNow <- struct{}{}:
		default:
		}
	}
}

// shutdown stops every processor with ShutdownRequested, renewing the
// leases meanwhile, and releases them.
func (c *Consumer) shutdown(ctx context.Context) error {
	c.shuttingDown = true
	c.mu.Lock()
	hs := make([]*heldLease, 0, len(c.held))
	for _, h := range c.held {
		hs = append(hs, h)
	}
	c.mu.Unlock()
	for _, h := range hs {
		c.signal(h, stopShutdown)
	}
	renew := c.clk.NewTimer(c.cfg.renewInterval())
	defer renew.Stop()
	limit := c.clk.NewTimer(c.cfg.ShutdownTimeout)
	defer limit.Stop()
	for {
		c.mu.Lock()
		n := len(c.held)
		c.mu.Unlock()
		if n == 0 {
			return c.releaseUnheld(ctx)
		}
		select {
		case h := <-c.ended:
			c.finish(ctx, h)
		case <-renew.C():
			c.renewAll(ctx)
			renew.Reset(c.cfg.renewInterval())
		case <-limit.C():
			return fmt.Errorf("consumer: shutdown: %d processors still running after %v; their leases are left to expire", n, c.cfg.ShutdownTimeout)
		}
	}
}

// releaseUnheld, at the end of a shutdown, releases the leases handed
// over to this worker that it has not started on, and withdraws its
// requests for others' leases, so that none waits for this worker's
// expiry.
func (c *Consumer) releaseUnheld(ctx context.Context) error {
	ls, err := c.store.List(ctx)
	if err != nil {
		return fmt.Errorf("consumer: shutdown: list leases: %w", err)
	}
	for _, l := range ls {
		switch {
		case l.Owner == c.cfg.WorkerID:
			l.Owner, l.PendingOwner = "", ""
			l.Counter++
		case l.PendingOwner == c.cfg.WorkerID:
			l.PendingOwner = ""
		default:
			continue
		}
		if _, err := c.store.Update(ctx, l); err != nil && !errors.Is(err, ErrRevisionChanged) {
			return fmt.Errorf("consumer: shutdown: release lease of %s: %w", l.ShardID, err)
		}
	}
	return nil
}

// retry runs op again after throttling and transient failures.
func (c *Consumer) retry(ctx context.Context, op func() error) error {
	for n := 1; ; n++ {
		err := op()
		if err == nil || !transient(err) || (c.cfg.Retry.MaxAttempts > 0 && n >= c.cfg.Retry.MaxAttempts) {
			return err
		}
		if err := clock.Sleep(ctx, c.clk, c.cfg.Retry.Wait(n)); err != nil {
			return err
		}
	}
}
