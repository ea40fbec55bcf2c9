package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// task runs one subtask of an operator chain in one goroutine: either a
// source reader followed by its chained operators, or an input gate
// followed by its chained operators.
type task struct {
	exec        *execution
	ctx         context.Context
	cfg         Config
	name        string // e.g. "map -> filter (2/4)"
	subtask     int
	parallelism int
	batchSize   int

	insts   []*opInstance // the chain's operators, head first
	head    *opInstance
	src     sourceDriver  // source tasks
	split   *splitRuntime // the source's split coordinator, if it has one
	gate    *inputGate    // other tasks
	writers []exchangeOut

	lastWm   int64
	idle     bool // the task told downstream it is idle
	nextWmAt time.Time

	pendingSince time.Time // when an exchange buffer became non-empty
	backpressure backpressure
	// idleNs is the time the task has waited for input with none to read
	// (runInput's sleep), in nanoseconds: Flink's idle time.
	idleNs atomic.Int64

	callbacks callbackHeap
	procTimer clock.Timer
	procAt    int64 // when procTimer fires; MaxTime if not armed

	mbox          *mailbox
	inputEnded    bool // finish() ran: waiting for the final checkpoint
	exitRequested bool
	lastSnapshot  int64 // id of the last checkpoint this task took
	align         *alignment
	pendingOps    []*pendingOp
	lastOps       []*pendingOp // a harness's last snapshot

	// harnessSides, set in an operator test harness, receives the records
	// of side outputs that no stream consumes.
	harnessSides func(id string, rs []Record[any])
}

func (t *task) String() string { return t.name }

// run executes the task to the end of its input, a failure, or cancellation.
func (t *task) run() (err error) {
	defer func() {
		if cerr := t.closeAll(); err == nil {
			err = cerr
		}
	}()
	err = t.openAll()
	if t.exec != nil && t.exec.coord != nil {
		t.exec.opened.Done()
	}
	if err != nil {
		return err
	}
	if t.src != nil {
		err = t.runSource()
	} else {
		err = t.runInput()
	}
	if err != nil {
		return err
	}
	if err := t.finish(); err != nil {
		return err
	}
	return t.awaitFinalCheckpoint()
}

// awaitFinalCheckpoint keeps a task whose input has ended alive, when the
// job takes checkpoints, until the final checkpoint has completed and its
// operators were told, so that staged sink output is committed.
func (t *task) awaitFinalCheckpoint() error {
	if t.exec == nil || t.exec.coord == nil || t.cfg.Checkpoint.storage() == nil {
		return nil
	}
	t.inputEnded = true
	t.exec.coord.inputEnded(t)
	for !t.exitRequested {
		select {
		case <-t.mbox.wake:
			if err := t.checkControl(); err != nil {
				return err
			}
		case <-t.ctx.Done():
			return context.Cause(t.ctx)
		}
	}
	return nil
}

func (t *task) openAll() error {
	// Open downstream operators first, so that an operator can emit from
	// Open (and the source reader is opened last).
	for i := len(t.insts) - 1; i >= 0; i-- {
		inst := t.insts[i]
		if err := t.initializeState(inst); err != nil {
			return err
		}
		if inst.opener != nil {
			if err := inst.call(inst.opener); err != nil {
				return err
			}
		}
		inst.opened = true
		if err := t.checkRestoredStates(inst); err != nil {
			return err
		}
	}
	if t.src != nil {
		if err := t.src.open(t.ctx); err != nil {
			return t.head.wrap(err)
		}
	}
	t.procAt = MaxTime
	return t.armProcessingTimer()
}

func (t *task) closeAll() error {
	var errs []error
	if t.src != nil {
		if err := t.src.close(); err != nil {
			errs = append(errs, t.head.wrap(err))
		}
	}
	for _, inst := range t.insts {
		if inst.opened && inst.closer != nil {
			if err := inst.callNoFlush(inst.closer); err != nil {
				errs = append(errs, err)
			}
		}
		if ks := inst.keyedStore; ks != nil {
			if err := ks.store.Close(); err != nil {
				errs = append(errs, inst.wrap(fmt.Errorf("close state: %w", err)))
			}
		}
	}
	if t.procTimer != nil {
		t.procTimer.Stop()
	}
	return errors.Join(errs...)
}

// initializeState gives an operator with operator state its restored
// entries before Open.
func (t *task) initializeState(inst *opInstance) error {
	h := inst.stateHook
	if h == nil {
		return nil
	}
	var restored [][]byte
	if t.exec != nil && t.exec.restore != nil {
		restored = t.exec.restore.operatorState(inst.node.uid, inst.subtask, inst.parallelism)
	}
	return inst.callNoFlush(func() error { return h.InitializeState(restored) })
}

// checkRestoredStates refuses a restored keyed operator whose states
// changed since the checkpoint.
func (t *task) checkRestoredStates(inst *opInstance) error {
	if inst.keyedStore == nil || t.exec == nil || t.exec.restore == nil {
		return nil
	}
	return t.exec.restore.checkStates(inst, inst.keyedStore.backend.Registered(), t.cfg.Checkpoint.AllowNonRestoredState)
}

// finish ends a task whose input is exhausted: the final watermark, then end
// of input, travel down the chain and to downstream tasks.
func (t *task) finish() error {
	if err := t.emitWatermark(MaxTime); err != nil {
		return err
	}
	if err := t.head.control(control{kind: ctlEndOfInput}); err != nil {
		return err
	}
	return t.flushWriters()
}

// emitWatermark sends wm down the chain if it advances the task's
// watermark.
func (t *task) emitWatermark(wm int64) error {
	if wm <= t.lastWm {
		return nil
	}
	t.lastWm = wm
	return t.head.control(control{kind: ctlWatermark, wm: wm})
}

func (t *task) setIdle(idle bool) error {
	if idle == t.idle {
		return nil
	}
	t.idle = idle
	kind := ctlActive
	if idle {
		kind = ctlIdle
	}
	return t.head.control(control{kind: kind})
}

func (t *task) flushWriters() error {
	t.pendingSince = time.Time{}
	for _, w := range t.writers {
		if err := w.flush(); err != nil {
			return err
		}
	}
	return nil
}

// onPending is called by exchange writers when a buffer becomes non-empty.
func (t *task) onPending() {
	if t.pendingSince.IsZero() {
		t.pendingSince = t.cfg.Clock.Now()
	}
}

// maybeFlush sends partly filled exchange batches older than the buffer
// timeout, by the job's clock. (A task that runs out of input flushes at
// once, so a clock that stands still delays no batch forever.)
func (t *task) maybeFlush() error {
	if !t.pendingSince.IsZero() && clock.Since(t.cfg.Clock, t.pendingSince) >= t.cfg.BufferTimeout {
		return t.flushWriters()
	}
	return nil
}

func (t *task) runSource() error {
	clk := t.cfg.Clock
	ctx := t.ctx
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if err := t.checkControl(); err != nil {
			return err
		}
		if err := t.fireProcessingTime(); err != nil {
			return err
		}
		readFrom := clk.Now()
		eof, emitted, err := t.src.read(ctx)
		if err != nil {
			return err
		}
		if !emitted {
			// A read that found nothing is the source's idle time.
			t.addIdle(readFrom)
		}
		if eof {
			return nil
		}
		if !t.src.none() {
			now := clk.Now()
			if t.cfg.WatermarkInterval < 0 || !now.Before(t.nextWmAt) {
				t.nextWmAt = now.Add(t.cfg.WatermarkInterval)
				wm, active := t.src.watermark(now)
				if active {
					err = t.setIdle(false)
				}
				if err == nil {
					err = t.emitWatermark(wm)
				}
				if err == nil && !active {
					err = t.setIdle(true)
				}
				if err != nil {
					return err
				}
			}
		}
		if !emitted {
			err = t.flushWriters()
		} else {
			err = t.maybeFlush()
		}
		if err != nil {
			return err
		}
	}
}

func (t *task) runInput() error {
	g := t.gate
	ctx := t.ctx
	n := len(g.channels)
	for g.nEnded < n {
		progressed := false
		for k := 0; k < n; k++ {
			i := g.next + k
			if i >= n {
				i -= n
			}
			if g.ended[i] || g.blocked[i] {
				continue
			}
			c, ok, err := g.channels[i].poll()
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			progressed = true
			if c.kind != ctlNone {
				if err := t.onChannelControl(i, c); err != nil {
					return err
				}
			}
		}
		if g.next++; g.next >= n {
			g.next = 0
		}
		if progressed {
			if err := t.maybeFlush(); err != nil {
				return err
			}
			continue
		}
		// Nothing to read: send what is buffered, then sleep until a
		// sender pokes the gate, a timer is due, or the job stops.
		if err := t.flushWriters(); err != nil {
			return err
		}
		var procC <-chan time.Time
		if t.procTimer != nil && t.procAt != MaxTime {
			procC = t.procTimer.C()
		}
		idleFrom := t.cfg.Clock.Now()
		select {
		case <-g.ready:
			t.addIdle(idleFrom)
		case <-procC:
			t.addIdle(idleFrom)
			t.procAt = MaxTime
			if err := t.fireProcessingTime(); err != nil {
				return err
			}
		case <-t.mbox.wake:
			t.addIdle(idleFrom)
			if err := t.checkControl(); err != nil {
				return err
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// onChannelControl handles a control event from input channel i.
func (t *task) onChannelControl(i int, c control) error {
	g := t.gate
	switch c.kind {
	case ctlWatermark:
		if c.wm > g.wm[i] {
			g.wm[i] = c.wm
		}
	case ctlIdle:
		g.idle[i] = true
	case ctlActive:
		g.idle[i] = false
	case ctlEndOfInput:
		g.ended[i] = true
		g.nEnded++
		if err := t.maybeAligned(); err != nil {
			return err
		}
		if g.nEnded == len(g.channels) {
			return nil // finish() sends the final watermark and end of input
		}
	case ctlBarrier:
		return t.onBarrier(i, c.cp)
	}
	wm, active := g.minWatermark()
	if !active {
		// Every live channel is idle. As Flink's watermark valve does, let
		// event time reach the largest watermark any channel got to, so the
		// progress made before everything went quiet is not lost.
		if err := t.emitWatermark(g.maxWatermark()); err != nil {
			return err
		}
		return t.setIdle(true)
	}
	if err := t.setIdle(false); err != nil {
		return err
	}
	return t.emitWatermark(wm)
}

// registerCallback schedules a processing-time callback.
func (t *task) registerCallback(at int64, inst *opInstance, fn func(int64) error) {
	heap.Push(&t.callbacks, callback{at: at, inst: inst, fn: fn, seq: t.callbacks.seq()})
	t.scheduleProcessingTime(at)
}

// scheduleProcessingTime makes sure the task wakes up at `at`.
func (t *task) scheduleProcessingTime(at int64) {
	if at >= t.procAt {
		return
	}
	t.procAt = at
	d := time.Duration(at-t.cfg.Clock.Now().UnixMilli()) * time.Millisecond
	if t.procTimer == nil {
		t.procTimer = t.cfg.Clock.NewTimer(d)
	} else {
		t.procTimer.Stop()
		select { // drain a stale fire
		case <-t.procTimer.C():
		default:
		}
		t.procTimer.Reset(d)
	}
}

// armProcessingTimer schedules the wake-up for the earliest pending
// processing-time timer or callback.
func (t *task) armProcessingTimer() error {
	next := MaxTime
	if len(t.callbacks.items) > 0 {
		next = t.callbacks.items[0].at
	}
	for _, inst := range t.insts {
		if inst.keyed != nil {
			next = min(next, inst.keyed.nextProcessingTimer())
		}
	}
	if next != MaxTime {
		t.scheduleProcessingTime(next)
	}
	return nil
}

// fireProcessingTime runs the callbacks and keyed processing-time timers
// that are due.
func (t *task) fireProcessingTime() error {
	if len(t.callbacks.items) == 0 && !t.hasKeyed() {
		return nil
	}
	now := t.cfg.Clock.Now().UnixMilli()
	for len(t.callbacks.items) > 0 && t.callbacks.items[0].at <= now {
		cb := heap.Pop(&t.callbacks).(callback)
		if err := cb.inst.call(func() error { return cb.fn(now) }); err != nil {
			return err
		}
	}
	for _, inst := range t.insts {
		if inst.keyed == nil {
			continue
		}
		if err := inst.call(func() error {
			_, err := inst.keyed.fireProcessingTimers(now)
			return err
		}); err != nil {
			return err
		}
	}
	t.procAt = MaxTime
	return t.armProcessingTimer()
}

func (t *task) hasKeyed() bool {
	for _, inst := range t.insts {
		if inst.keyed != nil {
			return true
		}
	}
	return false
}

type callback struct {
	at   int64
	seq  uint64
	inst *opInstance
	fn   func(int64) error
}

type callbackHeap struct {
	items []callback
	n     uint64
}

func (h *callbackHeap) seq() uint64 { h.n++; return h.n }
func (h *callbackHeap) Len() int    { return len(h.items) }
func (h *callbackHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}
func (h *callbackHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *callbackHeap) Push(x any)    { h.items = append(h.items, x.(callback)) }
func (h *callbackHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// mailbox carries the coordinator's requests to a task.
type mailbox struct {
	mu   sync.Mutex
	msgs []taskMsg
	wake chan struct{}
}

type taskMsgKind int

type taskMsg struct {
	kind      taskMsgKind
	id        int64
	savepoint bool
	dir       string
	splits    any // msgSplits: a []S of the source's split type
}

func newMailbox() *mailbox { return &mailbox{wake: make(chan struct{}, 1)} }

func (m *mailbox) post(msg taskMsg) {
	m.mu.Lock()
	m.msgs = append(m.msgs, msg)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mailbox) take() []taskMsg {
	// The wake-up is consumed here too: a source task never waits on it
	// (its reader may, through SourceInfo.Interrupt), and every message
	// posted before this point is taken below.
	select {
	case <-m.wake:
	default:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs := m.msgs
	m.msgs = nil
	return msgs
}

const (
	msgTrigger      taskMsgKind = iota // start a checkpoint (source tasks) or snapshot now (ended tasks)
	msgComplete                        // a checkpoint completed
	msgExit                            // the job is done: stop
	msgSplits                          // splits for the source reader (SplitContext.Assign)
	msgNoMoreSplits                    // no more splits for the source reader
)

// checkControl handles the coordinator's requests, if any.
func (t *task) checkControl() error {
	if t.mbox == nil {
		return nil
	}
	for _, m := range t.mbox.take() {
		switch m.kind {
		case msgTrigger:
			if m.id <= t.lastSnapshot {
				continue
			}
			if t.src != nil && !t.inputEnded {
				// A source task starts the checkpoint: the barrier goes
				// down the chain and out to every receiver.
				if err := t.snapshot(checkpointBarrier{id: m.id, savepoint: m.savepoint}, m.dir, true); err != nil {
					return err
				}
			} else if t.inputEnded {
				if err := t.snapshot(checkpointBarrier{id: m.id, savepoint: m.savepoint}, m.dir, false); err != nil {
					return err
				}
			}
			// A running non-source task ignores the trigger: the barrier
			// reaches it in-band.
		case msgComplete:
			for _, inst := range t.insts {
				if l, ok := inst.checkpointListener(); ok {
					if err := inst.call(func() error { return l.NotifyCheckpointComplete(m.id) }); err != nil {
						return err
					}
				}
			}
		case msgExit:
			t.exitRequested = true
		case msgSplits:
			if t.src == nil || t.inputEnded {
				return t.head.wrap(fmt.Errorf("split coordinator assigned splits to subtask %d, whose reader has ended", t.subtask))
			}
			if err := t.src.addSplits(m.splits); err != nil {
				return err
			}
		case msgNoMoreSplits:
			if t.src != nil && !t.inputEnded {
				if err := t.src.noMoreSplits(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
