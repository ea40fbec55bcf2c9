package shardlog

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ConsumerStatus values.
const (
	ConsumerCreating = "CREATING"
	ConsumerActive   = "ACTIVE"
	ConsumerDeleting = "DELETING"
)

// Consumer describes a registered enhanced fan-out consumer.
type Consumer struct {
	Name      string
	ARN       string
	Status    string
	Created   time.Time
	StreamARN string
}

// statusAt is the consumer's status at now, "" once deregistration is done.
func (c *consumer) statusAt(now time.Time) string {
	switch c.status {
	case ConsumerCreating:
		if !now.Before(c.until) {
			return ConsumerActive
		}
	case ConsumerDeleting:
		if !now.Before(c.until) {
			return ""
		}
	}
	return c.status
}

func (st *stream) describeConsumer(c *consumer, now time.Time) Consumer {
	return Consumer{Name: c.name, ARN: c.arn, Status: c.statusAt(now), Created: c.created, StreamARN: st.arn}
}

// pruneConsumersLocked drops consumers whose deregistration is complete.
func (st *stream) pruneConsumersLocked(now time.Time) bool {
	kept := st.consumers[:0]
	for _, c := range st.consumers {
		if c.statusAt(now) != "" {
			kept = append(kept, c)
		}
	}
	changed := len(kept) != len(st.consumers)
	st.consumers = kept
	return changed
}

// RegisterStreamConsumer registers an enhanced fan-out consumer (at most 20
// per stream). It is CREATING for Options.StatusDelay, then ACTIVE.
func (l *Log) RegisterStreamConsumer(streamARN, name string) (Consumer, error) {
	if !validName(name, MaxConsumerNameLen) {
		e := refuse(CodeValidation, ReasonConsumerNameInvalid)
		e.Value = name
		return Consumer{}, e
	}
	st, err := l.streamRef(StreamRef{ARN: streamARN})
	if err != nil {
		return Consumer{}, err
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.readableLocked(now); err != nil {
		return Consumer{}, err
	}
	st.pruneConsumersLocked(now)
	for _, c := range st.consumers {
		if c.name == name {
			e := refuse(CodeResourceInUse, ReasonConsumerExists)
			e.Stream, e.Consumer = st.name, c.arn
			return Consumer{}, e
		}
	}
	if len(st.consumers) >= MaxConsumers {
		e := refuse(CodeLimitExceeded, ReasonConsumerLimit)
		e.Stream, e.Limit = st.name, MaxConsumers
		return Consumer{}, e
	}
	// Kinesis ARNs carry the creation time in seconds; the stored time is
	// truncated to match so the ARN is stable across restarts.
	created := now.Truncate(time.Millisecond)
	c := &consumer{name: name, created: created, status: ConsumerActive}
	if l.opts.StatusDelay > 0 {
		c.status, c.until = ConsumerCreating, now.Add(l.opts.StatusDelay)
	}
	c.arn = consumerARN(st.arn, name, created)
	st.consumers = append(st.consumers, c)
	if err := st.saveLocked(); err != nil {
		return Consumer{}, err
	}
	out := st.describeConsumer(c, now)
	out.Status = ConsumerCreating // Kinesis always answers CREATING
	return out, nil
}

// consumerByARN finds a consumer from its ARN.
func (l *Log) consumerByARN(arn string) (*stream, *consumer, error) {
	i := strings.Index(arn, "/consumer/")
	if i < 0 {
		e := refuse(CodeInvalidArgument, ReasonConsumerARNInvalid)
		e.Consumer = arn
		return nil, nil, e
	}
	st, err := l.streamRef(StreamRef{ARN: arn[:i]})
	if err != nil {
		return nil, nil, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, c := range st.consumers {
		if c.arn == arn && c.statusAt(now) != "" {
			return st, c, nil
		}
	}
	e := refuse(CodeResourceNotFound, ReasonConsumerNotFound)
	e.Consumer = arn
	return nil, nil, e
}

func (l *Log) findConsumer(streamARN, name, arn string) (*stream, *consumer, error) {
	if arn != "" {
		return l.consumerByARN(arn)
	}
	if streamARN == "" || name == "" {
		return nil, nil, refuse(CodeInvalidArgument, ReasonNoConsumerRef)
	}
	st, err := l.streamRef(StreamRef{ARN: streamARN})
	if err != nil {
		return nil, nil, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, c := range st.consumers {
		if c.name == name && c.statusAt(now) != "" {
			return st, c, nil
		}
	}
	e := refuse(CodeResourceNotFound, ReasonConsumerNameNotFound)
	e.Stream, e.Consumer = st.name, name
	return nil, nil, e
}

// DescribeStreamConsumer describes a consumer given its ARN, or its stream
// ARN and name.
func (l *Log) DescribeStreamConsumer(streamARN, name, arn string) (Consumer, error) {
	st, c, err := l.findConsumer(streamARN, name, arn)
	if err != nil {
		return Consumer{}, err
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.describeConsumer(c, l.clock.Now()), nil
}

// DeregisterStreamConsumer deregisters a consumer; it is DELETING for
// Options.StatusDelay, then gone, and its subscriptions end.
func (l *Log) DeregisterStreamConsumer(streamARN, name, arn string) error {
	st, c, err := l.findConsumer(streamARN, name, arn)
	if err != nil {
		return err
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	c.status, c.until = ConsumerDeleting, now.Add(l.opts.StatusDelay)
	st.pruneConsumersLocked(now)
	return st.saveLocked()
}

// ListStreamConsumers lists a stream's consumers in registration order.
func (l *Log) ListStreamConsumers(streamARN string) ([]Consumer, error) {
	st, err := l.streamRef(StreamRef{ARN: streamARN})
	if err != nil {
		return nil, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []Consumer
	for _, c := range st.consumers {
		if c.statusAt(now) != "" {
			out = append(out, st.describeConsumer(c, now))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// --- SubscribeToShard ---

// SubscribeEvent is one event pushed to a subscription.
type SubscribeEvent struct {
	Records []Record
	// ContinuationSequenceNumber resumes the subscription with
	// AFTER_SEQUENCE_NUMBER.
	ContinuationSequenceNumber SequenceNumber
	MillisBehindLatest         int64
	// ChildShards is set on the last event of a closed shard.
	ChildShards []ChildShard
}

// Subscription pushes a shard's records to an enhanced fan-out consumer. It
// lasts Options.SubscriptionTTL (5 minutes); then Next returns
// ErrSubscriptionCompleted and the consumer subscribes again from the last
// continuation sequence number. Not safe for concurrent use.
type Subscription struct {
	l        *Log
	st       *stream
	sh       *shard
	c        *consumer
	next     uint64
	deadline time.Time
	done     bool
	buf      RecordBuffer
	ev       SubscribeEvent
	closeMu  sync.Mutex
	closed   chan struct{}
	first    bool
	// takenOver is set when a later SubscribeToShard of the same consumer
	// and shard took this subscription over: it then ends with
	// ResourceInUseException, as in Kinesis.
	takenOver atomic.Bool
}

// SubscribeToShard starts pushing shardID's records to the consumer from
// start (AT_/AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP). A
// second subscription of the same consumer to the same shard within 5
// seconds is refused with ResourceInUseException; a later one ends the
// earlier one.
func (l *Log) SubscribeToShard(consumerARN, shardID string, start StartPosition) (*Subscription, error) {
	st, c, err := l.consumerByARN(consumerARN)
	if err != nil {
		return nil, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.readableLocked(now); err != nil {
		return nil, err
	}
	if s := c.statusAt(now); s != ConsumerActive {
		e := refuse(CodeResourceInUse, ReasonConsumerNotActive)
		e.Consumer, e.Value = c.arn, s
		return nil, e
	}
	sh, err := st.shardLocked(shardID)
	if err != nil {
		return nil, err
	}
	sh.lim.mu.Lock()
	if sh.lim.subscribeTimes == nil {
		sh.lim.subscribeTimes = map[string]time.Time{}
	}
	last, seen := sh.lim.subscribeTimes[c.arn]
	if seen && now.Sub(last) < subscribeCooldown {
		sh.lim.mu.Unlock()
		e := refuse(CodeResourceInUse, ReasonSubscribedTooSoon)
		e.Consumer, e.Shard = c.arn, sh.id
		return nil, e
	}
	off, err := st.startOffset(sh, start, now)
	if err != nil {
		sh.lim.mu.Unlock()
		return nil, err
	}
	sub := &Subscription{l: l, st: st, sh: sh, c: c, next: off, deadline: now.Add(l.opts.SubscriptionTTL), closed: make(chan struct{}), first: true}
	sh.lim.subscribeTimes[c.arn] = now
	if sh.lim.subs == nil {
		sh.lim.subs = map[string]*Subscription{}
	}
	if old := sh.lim.subs[c.arn]; old != nil {
		old.takenOver.Store(true)
		old.end()
	}
	sh.lim.subs[c.arn] = sub
	sh.lim.mu.Unlock()
	return sub, nil
}

// Close ends the subscription; a blocked Next returns
// ErrSubscriptionCompleted.
func (s *Subscription) Close() {
	s.sh.lim.mu.Lock()
	if s.sh.lim.subs[s.c.arn] == s {
		delete(s.sh.lim.subs, s.c.arn)
	}
	s.sh.lim.mu.Unlock()
	s.end()
}

// end wakes and ends the subscription (without touching the shard's
// registry, so it may be called with the limiter's mutex held).
func (s *Subscription) end() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

// Next blocks until records arrive (returned at once), a heartbeat interval
// passes with none (an event without records), the shard ends (a last event
// with ChildShards), the subscription's lifetime ends or it is closed
// (ErrSubscriptionCompleted), a newer subscription takes it over
// (ResourceInUseException), or ctx ends. The event and its records stay
// valid until the next call.
func (s *Subscription) Next(ctx context.Context) (*SubscribeEvent, error) {
	var heartbeat <-chan time.Time
	var stopHB func()
	defer func() {
		if stopHB != nil {
			stopHB()
		}
	}()
	for {
		if s.done {
			return nil, ErrSubscriptionCompleted
		}
		select {
		case <-s.closed:
			s.done = true
			if s.takenOver.Load() {
				e := refuse(CodeResourceInUse, ReasonSubscriptionTakenOver)
				e.Consumer, e.Shard = s.c.arn, s.sh.id
				return nil, e
			}
			return nil, ErrSubscriptionCompleted
		default:
		}
		now := s.l.clock.Now()
		if !now.Before(s.deadline) {
			s.done = true
			return nil, ErrSubscriptionCompleted
		}
		// A reshard of this shard pending until the stream is ACTIVE
		// again ends the shard then: wake up for it.
		reshardAt, err := s.st.settle(now)
		if err != nil {
			return nil, err
		}
		s.st.mu.RLock()
		if s.st.deleted || s.c.statusAt(now) != ConsumerActive {
			s.st.mu.RUnlock()
			s.done = true
			return nil, ErrSubscriptionCompleted
		}
		res, err := s.st.readLocked(s.sh, s.next, MaxGetRecords, MaxGetRecordsBytes, now, &s.buf)
		closedCh, pendingCh := s.sh.closedCh, s.st.pendingCh
		s.st.mu.RUnlock()
		if err != nil {
			return nil, err
		}
		s.next = res.Next.Pos
		if len(res.Records) > 0 || res.ShardEnded || s.first {
			// The first event goes out at once, so a client learns where
			// it stands without waiting for a record or a heartbeat.
			s.first = false
			s.ev = SubscribeEvent{Records: res.Records, ContinuationSequenceNumber: res.Next, MillisBehindLatest: res.MillisBehindLatest, ChildShards: res.ChildShards}
			s.c.noteLag(s.sh.id, res.MillisBehindLatest)
			if res.ShardEnded {
				s.done = true
			}
			return &s.ev, nil
		}
		if heartbeat == nil {
			hb := s.l.clock.NewTimer(s.l.opts.HeartbeatInterval)
			heartbeat, stopHB = hb.C(), func() { hb.Stop() }
		}
		until := s.deadline
		if !reshardAt.IsZero() && reshardAt.Before(until) {
			until = reshardAt
		}
		lt := s.l.clock.NewTimer(until.Sub(now))
		lifetime, stopLT := lt.C(), func() { lt.Stop() }
		if !reshardAt.IsZero() && !s.l.clock.Now().Before(reshardAt) {
			// The clock passed the reshard while the timer was being
			// armed (a timer is set from the clock's time when armed).
			stopLT()
			continue
		}
		notify := s.sh.log.Notify()
		if s.sh.log.Next() > s.next {
			stopLT()
			continue
		}
		select {
		case <-notify:
		case <-closedCh:
		case <-pendingCh:
		case <-lifetime:
		case <-s.closed:
		case <-heartbeat:
			stopLT()
			s.ev = SubscribeEvent{ContinuationSequenceNumber: res.Next, MillisBehindLatest: res.MillisBehindLatest}
			s.c.noteLag(s.sh.id, res.MillisBehindLatest)
			return &s.ev, nil
		case <-ctx.Done():
			stopLT()
			return nil, ctx.Err()
		}
		stopLT()
	}
}

func (c *consumer) noteLag(shard string, ms int64) {
	v, ok := c.lag.Load(shard)
	if !ok {
		v, _ = c.lag.LoadOrStore(shard, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(ms)
}

// Lag is how far readers of a stream are behind its shards' tips, as the
// last answers to them said (MillisBehindLatest), for monitoring.
type Lag struct {
	// Shards is, by open or closed shard id, the MillisBehindLatest of the
	// shard's last GetRecords answer; shards never read are left out.
	Shards map[string]int64
	// Consumers is, by registered consumer name, the largest
	// MillisBehindLatest over the shards of the last SubscribeToShard
	// events sent to it; consumers that never subscribed are left out.
	Consumers map[string]int64
}

// Lag returns the stream's read lag.
func (l *Log) Lag(ref StreamRef) (Lag, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return Lag{}, err
	}
	out := Lag{Shards: map[string]int64{}, Consumers: map[string]int64{}}
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, sh := range st.shards {
		if v := sh.readLag.Load(); v >= 0 {
			out.Shards[sh.id] = v
		}
	}
	for _, c := range st.consumers {
		c.lag.Range(func(_, v any) bool {
			ms := v.(*atomic.Int64).Load()
			if cur, ok := out.Consumers[c.name]; !ok || ms > cur {
				out.Consumers[c.name] = ms
			}
			return true
		})
	}
	return out, nil
}
