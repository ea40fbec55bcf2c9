package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"reflect"

	"github.com/sluicehq/sluice/internal/clock"
)

// kit makes the typed runtime pieces of one output slot. The planner works
// on untyped nodes and edges; a kit, created where the element type is
// known, builds collectors, channels and exchange writers of that type. The
// `any` values it hands around are used only while wiring a job, never per
// record.
type kit interface {
	typ() reflect.Type
	// collector returns a *Collector[T] feeding consumers ([]Input[T]).
	collector(size int, consumers []any) (flusher, any)
	// channel returns a new *channel[T] into gate g from sender index.
	channel(capacity, batchSize int, g *inputGate) any
	// writer returns an exchange writer over channels ([]*channel[T]).
	writer(ctx context.Context, spec writerSpec, channels []any) (exchangeOut, any)
	// inputChannel adapts a *channel[T] to the gate, delivering its batches
	// to dst (an Input[T]).
	inputChannel(ch any, dst any) inputChannel
	// codecFor returns the records' codec over a transport
	// (remote_exchange.go): explicit, else the built-in one.
	codecFor(explicit any) (any, error)
	// remoteChannel returns a *remoteChan[T] over a transport's ends.
	remoteChannel(id ChannelID, snd RemoteSender, rcv RemoteReceiver, codec any, batchSize int, ready chan struct{}) any
}

type typedKit[T any] struct{}

func (typedKit[T]) typ() reflect.Type { return reflect.TypeFor[T]() }

func (typedKit[T]) collector(size int, consumers []any) (flusher, any) {
	c := newCollector[T](size, fanout[T](consumers))
	return c, c
}

func (typedKit[T]) channel(capacity, batchSize int, g *inputGate) any {
	return &channel[T]{
		ch:   make(chan envelope[T], capacity),
		free: make(chan []Record[T], capacity+2),
		gate: g,
		size: batchSize,
	}
}

func (typedKit[T]) writer(ctx context.Context, spec writerSpec, channels []any) (exchangeOut, any) {
	w := &exchangeWriter[T]{ctx: ctx, spec: spec}
	for _, c := range channels {
		switch c := c.(type) {
		case *remoteChan[T]:
			w.chans = append(w.chans, &c.out)
		default:
			w.chans = append(w.chans, c.(*channel[T]))
		}
	}
	w.bufs = make([][]Record[T], len(w.chans))
	if spec.part == partHash {
		w.kgOf = spec.keyGroupOf().(func(T) int)
	}
	return w, w
}

func (typedKit[T]) inputChannel(ch any, dst any) inputChannel {
	if rc, ok := ch.(*remoteChan[T]); ok {
		rc.in.dst = dst.(Input[T])
		return &rc.in
	}
	return &inChannel[T]{c: ch.(*channel[T]), dst: dst.(Input[T])}
}

// control is an in-band event that travels with the records.
type control struct {
	kind ctlKind
	wm   int64
	cp   checkpointBarrier
}

type ctlKind uint8

const (
	ctlNone ctlKind = iota
	ctlWatermark
	ctlIdle   // the sender has no active input: leave it out of watermark minimums
	ctlActive // the sender is active again
	ctlBarrier
	ctlEndOfInput
)

// checkpointBarrier identifies a checkpoint (see checkpoint.go).
type checkpointBarrier struct {
	id        int64
	savepoint bool
}

// envelope is what an exchange channel carries: a batch or a control event.
type envelope[T any] struct {
	batch []Record[T]
	ctl   control
}

// channel connects one sender subtask to one receiver subtask. It holds at
// most `capacity` envelopes; a sender blocks when it is full. Batch buffers
// go back to the sender through free, so a steady stream allocates nothing.
type channel[T any] struct {
	ch   chan envelope[T]
	free chan []Record[T]
	gate *inputGate
	size int
}

func (c *channel[T]) getBuf() []Record[T] {
	select {
	case b := <-c.free:
		return b[:0]
	default:
		return make([]Record[T], 0, c.size)
	}
}

func (c *channel[T]) putBuf(b []Record[T]) {
	clear(b)
	select {
	case c.free <- b[:0]:
	default:
	}
}

// send blocks until the envelope is queued or ctx is done; the time it
// waits for a full channel is backpressure, added to bp.
func (c *channel[T]) send(ctx context.Context, e envelope[T], bp *backpressure) error {
	select {
	case c.ch <- e:
	default:
		var start time.Time
		if bp != nil {
			start = bp.clk.Now()
			bp.waiting.Store(true)
		}
		select {
		case c.ch <- e:
			if bp != nil {
				bp.waiting.Store(false)
				bp.add(start)
			}
		case <-ctx.Done():
			if bp != nil {
				bp.waiting.Store(false)
			}
			return context.Cause(ctx)
		}
	}
	c.gate.notify()
	return nil
}

// chanOut is the sending face of a channel: in-process (*channel[T]) or
// over a transport (*remoteOut[T], remote_exchange.go).
type chanOut[T any] interface {
	getBuf() []Record[T]
	send(ctx context.Context, e envelope[T], bp *backpressure) error
}

// writerSpec describes an exchange writer.
type writerSpec struct {
	part       partitioning
	subtask    int // the sender's index
	maxPar     int
	keyGroupOf func() any
	batchSize  int
	onPending  func() // called when a buffer goes from empty to non-empty
	// backpressure meters the sender task's time blocked on full channels
	// (nil: not metered).
	backpressure *backpressure
}

// backpressure is the time one task has spent blocked sending to a full
// exchange channel (Flink's back-pressured time), on the job's clock.
type backpressure struct {
	clk     clock.Clock
	ns      atomic.Int64
	waiting atomic.Bool // blocked right now
}

func (b *backpressure) add(since time.Time) { b.ns.Add(int64(clock.Since(b.clk, since))) }

// blocked is the time so far.
func (b *backpressure) blocked() time.Duration { return time.Duration(b.ns.Load()) }

// exchangeOut is the untyped face of an exchange writer.
type exchangeOut interface {
	flush() error
	control(c control) error
	sentRecords() int64
}

// exchangeWriter partitions the records of one sender subtask over the
// channels to the receiving subtasks.
type exchangeWriter[T any] struct {
	ctx   context.Context
	spec  writerSpec
	chans []chanOut[T]
	bufs  [][]Record[T]
	kgOf  func(T) int
	rr    int
	sent  int64
}

func (w *exchangeWriter[T]) ProcessBatch(b []Record[T]) error {
	n := len(w.chans)
	switch {
	case w.spec.part == partForward || n == 1:
		for _, r := range b {
			if err := w.add(0, r); err != nil {
				return err
			}
		}
	case w.spec.part == partHash:
		maxPar := w.spec.maxPar
		for _, r := range b {
			kg := w.kgOf(r.Value)
			if err := w.add(kg*n/maxPar, r); err != nil {
				return err
			}
		}
	case w.spec.part == partBroadcast:
		for _, r := range b {
			for i := range w.chans {
				if err := w.add(i, r); err != nil {
					return err
				}
			}
		}
	default: // rebalance
		for _, r := range b {
			w.rr++
			if w.rr >= n {
				w.rr = 0
			}
			if err := w.add(w.rr, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *exchangeWriter[T]) add(i int, r Record[T]) error {
	buf := w.bufs[i]
	if buf == nil {
		buf = w.chans[i].getBuf()
		if w.spec.onPending != nil {
			w.spec.onPending()
		}
	}
	buf = append(buf, r)
	if len(buf) >= w.spec.batchSize {
		w.bufs[i] = nil
		w.sent += int64(len(buf))
		return w.chans[i].send(w.ctx, envelope[T]{batch: buf}, w.spec.backpressure)
	}
	w.bufs[i] = buf
	return nil
}

func (w *exchangeWriter[T]) flush() error {
	for i, buf := range w.bufs {
		if len(buf) > 0 {
			w.bufs[i] = nil
			w.sent += int64(len(buf))
			if err := w.chans[i].send(w.ctx, envelope[T]{batch: buf}, w.spec.backpressure); err != nil {
				return err
			}
		}
	}
	return nil
}

// control flushes every buffer, then sends c to every receiver, so that c
// follows every record sent before it.
func (w *exchangeWriter[T]) control(c control) error {
	if err := w.flush(); err != nil {
		return err
	}
	for _, ch := range w.chans {
		if err := ch.send(w.ctx, envelope[T]{ctl: c}, w.spec.backpressure); err != nil {
			return err
		}
	}
	return nil
}

func (w *exchangeWriter[T]) sentRecords() int64 { return w.sent }

// inputChannel is the untyped face of a channel at its receiver.
type inputChannel interface {
	// poll takes one envelope if one is queued: a batch is delivered to the
	// receiving operator at once (ok, no control); a control event is
	// returned. ok is false when nothing was queued.
	poll() (c control, ok bool, err error)
	// wait blocks for one envelope (used when this is the gate's only
	// unblocked channel).
	wait(ctx context.Context) (c control, err error)
}

type inChannel[T any] struct {
	c   *channel[T]
	dst Input[T]
}

func (ic *inChannel[T]) poll() (control, bool, error) {
	select {
	case e := <-ic.c.ch:
		return ic.deliver(e)
	default:
		return control{}, false, nil
	}
}

func (ic *inChannel[T]) wait(ctx context.Context) (control, error) {
	select {
	case e := <-ic.c.ch:
		c, _, err := ic.deliver(e)
		return c, err
	case <-ctx.Done():
		return control{}, context.Cause(ctx)
	}
}

func (ic *inChannel[T]) deliver(e envelope[T]) (control, bool, error) {
	if e.batch == nil {
		return e.ctl, true, nil
	}
	err := ic.dst.ProcessBatch(e.batch)
	ic.c.putBuf(e.batch)
	return control{}, true, err
}

// inputGate is where a task receives from all its input channels. Senders
// poke ready after each envelope; the receiver polls its unblocked channels
// and sleeps on ready when all are empty.
type inputGate struct {
	ready    chan struct{}
	channels []inputChannel
	// per channel: which logical input (0/1) and its watermark state
	input   []int
	wm      []int64
	idle    []bool
	ended   []bool
	blocked []bool // held back for checkpoint alignment
	nEnded  int
	next    int // round-robin start
}

func newInputGate() *inputGate { return &inputGate{ready: make(chan struct{}, 1)} }

func (g *inputGate) notify() {
	select {
	case g.ready <- struct{}{}:
	default:
	}
}

func (g *inputGate) add(ic inputChannel, input int) {
	g.channels = append(g.channels, ic)
	g.input = append(g.input, input)
	g.wm = append(g.wm, MinTime)
	g.idle = append(g.idle, false)
	g.ended = append(g.ended, false)
	g.blocked = append(g.blocked, false)
}

// minWatermark returns the minimum watermark over channels that are neither
// idle nor ended, and whether there is any such channel.
func (g *inputGate) minWatermark() (int64, bool) {
	wm, any := MaxTime, false
	for i := range g.wm {
		if g.ended[i] || g.idle[i] {
			continue
		}
		any = true
		wm = min(wm, g.wm[i])
	}
	return wm, any
}

// maxWatermark returns the largest watermark over channels that have not
// ended.
func (g *inputGate) maxWatermark() int64 {
	wm := MinTime
	for i := range g.wm {
		if !g.ended[i] {
			wm = max(wm, g.wm[i])
		}
	}
	return wm
}

func (g *inputGate) String() string { return fmt.Sprintf("gate(%d channels)", len(g.channels)) }
