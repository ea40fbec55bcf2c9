// Package clock is Sluice's one time source: the engine's runtime (buffer
// timeout, watermark interval, idleness, checkpoint interval and timeout,
// restart delay), operators' processing time, state TTL, the log (arrival
// times, retention, iterator expiry, throttling, subscriptions) and
// Firehose delivery (buffer intervals, retries) all read a Clock.
//
// Code that needs the time takes a Clock instead of calling time.Now, so that
// tests drive time explicitly with a Manual clock: timers fire only when the
// test advances the clock, and a test that covers a five-minute expiry or a
// 24-hour retention runs in microseconds.
//
// The package imports nothing of Sluice's, so every layer may use it. Public
// APIs re-export it (engine.Clock, engine.NewManualClock, shardlog.Clock).
//
// Real and Manual are safe for concurrent use.
package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d has
	// passed on this clock.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer, like time.Timer.
type Timer interface {
	// C returns the channel on which the time is delivered. It has a buffer
	// of one, so a timer that fires while nobody listens does not block.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether it stopped
	// the timer, false if it had already fired or been stopped.
	Stop() bool
	// Reset changes the timer to fire after d. It reports whether the timer
	// had been active.
	Reset(d time.Duration) bool
}

// Real is the wall clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Or returns c, or Real if c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Since returns the time elapsed on c since t.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Sleep waits for d on c, or until ctx is done, whichever comes first; it
// returns ctx's cause in the second case.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Millis returns t as milliseconds since the Unix epoch, the unit of event
// time and processing time in Sluice.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// NowMillis returns c's current time in milliseconds since the Unix epoch.
func NowMillis(c Clock) int64 { return c.Now().UnixMilli() }

// Manual is a clock that moves only when told to. Timers fire, in deadline
// order, during Advance or Set.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64
	auto   bool
}

// AutoAdvance makes every timer created from now on move the clock to its
// deadline at once (firing whatever is due on the way), so that code that
// waits — a retry loop's backoff, say — runs through its waits without a
// second goroutine to advance the clock. Off by default.
func (m *Manual) AutoAdvance(on bool) {
	m.mu.Lock()
	m.auto = on
	m.mu.Unlock()
}

// NewManual returns a manual clock set to start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now returns the clock's current time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Advance moves the clock forward by d and fires the timers that are due.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	t := m.now.Add(d)
	m.mu.Unlock()
	m.Set(t)
}

// Set moves the clock to t (never backwards) and fires the timers that are
// due, each with its own deadline as the time sent.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.Before(m.now) {
		return
	}
	for len(m.timers) > 0 && !m.timers[0].when.After(t) {
		mt := heap.Pop(&m.timers).(*manualTimer)
		mt.index = -1
		m.now = mt.when
		select {
		case mt.c <- mt.when:
		default:
		}
	}
	m.now = t
}

// Pending returns the number of timers that have not fired yet.
func (m *Manual) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers)
}

// NewTimer returns a timer that fires when the clock reaches Now()+d. A
// timer with d <= 0 fires at once.
func (m *Manual) NewTimer(d time.Duration) Timer {
	mt := &manualTimer{clock: m, c: make(chan time.Time, 1), index: -1}
	mt.Reset(d)
	m.mu.Lock()
	auto := m.auto
	m.mu.Unlock()
	if auto && d > 0 {
		m.Advance(d)
	}
	return mt
}

type manualTimer struct {
	clock *Manual
	c     chan time.Time
	when  time.Time
	seq   uint64
	index int // position in the heap; -1 when not scheduled
}

func (t *manualTimer) C() <-chan time.Time { return t.c }

func (t *manualTimer) Stop() bool {
	m := t.clock
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&m.timers, t.index)
	t.index = -1
	return true
}

func (t *manualTimer) Reset(d time.Duration) bool {
	m := t.clock
	m.mu.Lock()
	defer m.mu.Unlock()
	active := t.index >= 0
	if active {
		heap.Remove(&m.timers, t.index)
		t.index = -1
	}
	t.when = m.now.Add(d)
	if d <= 0 {
		select {
		case t.c <- t.when:
		default:
		}
		return active
	}
	m.seq++
	t.seq = m.seq
	heap.Push(&m.timers, t)
	return active
}

type timerHeap []*manualTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*manualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
