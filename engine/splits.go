package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// Split coordination follows Flink's split enumerator (FLIP-27). A
// SplitSource has one SplitCoordinator per job attempt: it discovers the
// source's splits (shards, partitions, files), assigns them to the readers
// (one per subtask), hears back from them (ReaderEvent), and is part of every
// checkpoint. The coordinator of an attempt is created before any reader of
// that attempt opens and closed when the attempt ends; all its calls run on
// one goroutine of its own, so it needs no locks.
//
// An assignment travels to its reader through the reader's task mailbox, the
// queue that also carries checkpoint triggers, and reaches the reader
// (SplitReader.AddSplits) between two Read calls. The coordinator's
// snapshot for checkpoint n is taken on the coordinator's goroutine in one
// step with posting trigger n to every subtask of the source, so each
// assignment the snapshot records reaches its reader before the reader
// snapshots n, and each assignment made after it is in neither snapshot.
//
// A reader's event carries the id of the last checkpoint the reader
// snapshotted before it sent the event: the reader snapshots of every
// checkpoint with a larger id hold the event's effect. Once
// NotifyCheckpointComplete reports such a checkpoint, the effect survives
// any restore — which is how a coordinator orders a split after its parent
// when another subtask reads the parent: it assigns the child only after
// the completion of a checkpoint that holds the parent's end. That
// checkpoint's barriers, aligned at every downstream operator, separate the
// parent's records from the child's.

// SplitSource is a Source whose splits a split coordinator discovers and
// assigns to the readers, instead of the readers sharing that work among
// themselves. SourceOf recognises it; its readers implement SplitReader of
// the coordination's split type.
type SplitSource[T any] interface {
	Source[T]
	// SplitCoordination says how the source's splits are coordinated;
	// build it with CoordinateSplits. It is called once, when the job is
	// built.
	SplitCoordination() SplitCoordination
}

// SplitCoordination ties a split coordinator and the readers of a
// SplitSource to one split type. Build it with CoordinateSplits; the zero
// value is not usable.
type SplitCoordination struct{ b *splitBinding }

// CoordinateSplits returns the coordination of a SplitSource whose splits
// have type S: newCoordinator is called once per job attempt, before any
// reader of the attempt opens, on the goroutine that then runs every call
// of the coordinator. The readers must implement SplitReader[S].
func CoordinateSplits[S any](newCoordinator func(ctx *SplitContext[S]) (SplitCoordinator, error)) SplitCoordination {
	if newCoordinator == nil {
		return SplitCoordination{}
	}
	return SplitCoordination{b: &splitBinding{
		newCoordinator: func(rt *splitRuntime) (SplitCoordinator, error) {
			return newCoordinator(newSplitContext[S](rt))
		},
		isReader: func(r any) bool { _, ok := r.(SplitReader[S]); return ok },
		addSplits: func(r any, splits any) error {
			sr, ok := r.(SplitReader[S])
			if !ok {
				return fmt.Errorf("engine: reader %T does not implement SplitReader", r)
			}
			return sr.AddSplits(splits.([]S))
		},
		noMoreSplits: func(r any) error {
			sr, ok := r.(SplitReader[S])
			if !ok {
				return fmt.Errorf("engine: reader %T does not implement SplitReader", r)
			}
			return sr.NoMoreSplits()
		},
		splitType: fmt.Sprintf("%T", *new(S)),
	}}
}

// splitBinding is a coordination with its split type erased: the typed
// conversions live in the closures CoordinateSplits made, so that the
// runtime (mailboxes, tasks) carries splits as `any` without a type
// switch that could fail.
type splitBinding struct {
	newCoordinator func(rt *splitRuntime) (SplitCoordinator, error)
	isReader       func(r any) bool
	addSplits      func(r any, splits any) error
	noMoreSplits   func(r any) error
	splitType      string
}

// SplitCoordinator discovers and assigns the splits of a SplitSource for
// one job attempt. The engine calls it from one goroutine only, never
// concurrently. An error it returns (or a panic) fails the attempt with an
// *OperatorError naming the source (Role RoleSplitCoordinator); the next
// attempt builds a new coordinator from the restored checkpoint.
type SplitCoordinator interface {
	// HandleReaderEvent handles an event a reader sent with
	// SplitReaderContext.SendEvent. Events of one reader arrive in the
	// order it sent them.
	HandleReaderEvent(ev ReaderEvent) error
	// SnapshotState returns the coordinator's state for checkpoint id
	// (nil for none). It is called in one step with posting the
	// checkpoint's trigger to the readers (see the package comment), and
	// is restored as SplitContext.RestoredState. Events that readers sent
	// before the trigger may still be on their way: a coordinator that
	// needs their effect after a restore finds it in the readers'
	// positions (SplitContext.RestoredPositions).
	SnapshotState(checkpointID int64) ([]byte, error)
	// NotifyCheckpointComplete reports that checkpoint (or savepoint) id is
	// complete: its manifest has been written. Completions arrive in
	// order, each after the snapshot of its own checkpoint. The
	// completion of the attempt's last checkpoint may not arrive when the
	// job ends right after it.
	NotifyCheckpointComplete(checkpointID int64) error
	// Close releases the coordinator's resources when the attempt ends,
	// however it ends.
	Close() error
}

// ReaderEvent is an event a source reader sent to its split coordinator.
type ReaderEvent struct {
	// Subtask is the reader's subtask.
	Subtask int
	// Snapshot is the id of the last checkpoint the reader snapshotted, in
	// this attempt, before it sent the event (0 if none). A reader sends an
	// event once its own state reflects what the event says, so the
	// reader's snapshots of checkpoints with a larger id hold the event's
	// effect, and a completed checkpoint with a larger id makes it
	// permanent.
	Snapshot int64
	// Event is what the reader sent.
	Event any
}

// SplitReader is implemented by the readers of a SplitSource. The engine
// calls its methods on the reader's task goroutine, between two Read calls,
// in the order the coordinator made the assignments and in order with the
// checkpoints the reader takes.
type SplitReader[S any] interface {
	// AddSplits gives the reader splits to read. The reader owns them from
	// now on: it records their progress in SnapshotPosition.
	AddSplits(splits []S) error
	// NoMoreSplits tells the reader that the coordinator will assign it
	// nothing more. A reader of a bounded source returns io.EOF only after
	// it was told so and has read all its splits; a reader that ends
	// earlier and is then assigned splits fails the job.
	NoMoreSplits() error
}

// SplitReaderContext connects a reader of a SplitSource to the source's
// coordinator; SourceInfo.Splits holds it.
type SplitReaderContext struct {
	t  *task
	rt *splitRuntime
}

// SendEvent sends event to the source's split coordinator, which receives
// it as a ReaderEvent stamped with the id of this reader's last snapshot.
// Call it only from the reader's own methods (Read, AddSplits, ...): they
// run on the task goroutine, which knows that id. An event sent from
// SnapshotPosition counts as sent after that snapshot. SendEvent blocks
// while the coordinator's queue of events (256) is full, and returns an
// error if the attempt ends first.
func (c *SplitReaderContext) SendEvent(event any) error {
	ev := ReaderEvent{Subtask: c.t.subtask, Snapshot: c.t.lastSnapshot, Event: event}
	select {
	case c.rt.events <- ev:
		return nil
	case <-c.rt.stopped:
		return errCoordinatorStopped
	case <-c.t.ctx.Done():
		return context.Cause(c.t.ctx)
	}
}

// RequestSplits asks the coordinator for splits: it receives a
// ReaderEvent whose Event is a SplitRequest. A reader that pulls work (one
// file at a time, say) calls it when it runs out of splits; the
// coordinator answers with Assign, or NoMoreSplits, or later. It blocks
// and is restricted as SendEvent.
func (c *SplitReaderContext) RequestSplits() error { return c.SendEvent(SplitRequest{}) }

// SplitRequest is the event of SplitReaderContext.RequestSplits.
type SplitRequest struct{}

var errCoordinatorStopped = errors.New("engine: the split coordinator has stopped")

// SplitContext is a split coordinator's view of its source and job
// attempt. Its methods must be called from the coordinator's goroutine:
// from newCoordinator, from the coordinator's methods, or from functions
// scheduled with Every and After.
type SplitContext[S any] struct {
	rt *splitRuntime
	// Name and UID are the source operator's.
	Name, UID string
	// Parallelism is the number of readers (subtasks 0..Parallelism-1).
	Parallelism int
	// Attempt counts the job's restarts.
	Attempt int
	// Clock is the job's clock; Every and After run by it.
	Clock Clock
	// Checkpointing reports whether the job takes periodic checkpoints.
	// Without them NotifyCheckpointComplete may never be called, so a
	// coordinator must not wait for it.
	Checkpointing bool
	// Restored reports whether the attempt starts from a checkpoint or
	// savepoint.
	Restored bool
	// RestoredState is the coordinator's SnapshotState in the checkpoint
	// the attempt starts from (nil on a fresh start, or when the
	// checkpoint predates the coordinator).
	RestoredState []byte
	// RestoredPositions are the positions (CheckpointedReader) that every
	// reader snapshotted in that checkpoint, at the parallelism of the
	// time, which may differ from Parallelism.
	RestoredPositions []SourcePosition
}

func newSplitContext[S any](rt *splitRuntime) *SplitContext[S] {
	return &SplitContext[S]{rt: rt, Name: rt.name, UID: rt.uid, Parallelism: rt.parallelism, Attempt: rt.attempt,
		Clock: rt.clock, Checkpointing: rt.checkpointing, Restored: rt.restored,
		RestoredState: rt.restoredState, RestoredPositions: rt.restoredPositions}
}

// Context returns the attempt's context, done when the attempt ends; a
// coordinator that does I/O uses it.
func (c *SplitContext[S]) Context() context.Context { return c.rt.ctx }

// Assign gives splits to the reader of subtask. They reach the reader
// (SplitReader.AddSplits) in order with every other assignment to it and
// with the checkpoint triggers posted after them. It does not block.
func (c *SplitContext[S]) Assign(subtask int, splits ...S) error {
	if err := c.rt.checkTarget("Assign", subtask); err != nil {
		return err
	}
	if c.rt.noMore[subtask] {
		return fmt.Errorf("engine: split coordinator of %q assigned splits to subtask %d after NoMoreSplits", c.rt.name, subtask)
	}
	if len(splits) == 0 {
		return nil
	}
	c.rt.post(subtask, taskMsg{kind: msgSplits, splits: slices.Clone(splits)})
	return nil
}

// NoMoreSplits tells the reader of subtask that it will be assigned
// nothing more (bounded sources). Later calls for the same subtask do
// nothing; later assignments to it are errors.
func (c *SplitContext[S]) NoMoreSplits(subtask int) error {
	if err := c.rt.checkTarget("NoMoreSplits", subtask); err != nil {
		return err
	}
	if c.rt.noMore[subtask] {
		return nil
	}
	c.rt.noMore[subtask] = true
	c.rt.post(subtask, taskMsg{kind: msgNoMoreSplits})
	return nil
}

// Every runs fn on the coordinator's goroutine every interval of the job's
// clock (a fixed delay from the end of one run to the next), until the
// attempt ends. An error from fn fails the attempt. interval must be
// positive.
func (c *SplitContext[S]) Every(interval time.Duration, fn func() error) {
	if interval <= 0 {
		panic(fmt.Sprintf("engine: SplitContext.Every with interval %s", interval))
	}
	c.rt.schedule(interval, interval, fn)
}

// After runs fn once on the coordinator's goroutine when d has passed on
// the job's clock. An error from fn fails the attempt.
func (c *SplitContext[S]) After(d time.Duration, fn func() error) {
	c.rt.schedule(d, 0, fn)
}

// splitRuntime runs one source's split coordinator for one attempt. Its
// core (handle, snapshot, complete, runDue) is deterministic and called
// from one goroutine at a time; run is the goroutine shell around it in a
// job, SplitCoordinatorHarness drives the core directly.
type splitRuntime struct {
	b                 *splitBinding
	name, uid         string
	parallelism       int
	attempt           int
	checkpointing     bool
	restored          bool
	restoredState     []byte
	restoredPositions []SourcePosition
	ctx               context.Context
	clock             Clock
	// post delivers a message to subtask's mailbox (a job) or records it
	// (a harness). It never blocks.
	post   func(subtask int, m taskMsg)
	tasks  []*task // the source's tasks by subtask (a job)
	coord  SplitCoordinator
	noMore []bool

	inCall atomic.Bool // a call into the coordinator is running
	sched  schedHeap
	seq    uint64

	// The shell.
	events   chan ReaderEvent
	reqs     chan splitReq
	quit     chan struct{} // the attempt is over: stop after the queued requests
	stopped  chan struct{} // run returned
	closeErr error         // Close's error, set before stopped closes
}

type splitReqKind int

const (
	splitReqSnapshot splitReqKind = iota
	splitReqComplete
)

type splitReq struct {
	kind    splitReqKind
	id      int64
	trigger taskMsg
	reply   chan splitSnapResult
}

type splitSnapResult struct {
	state []byte
	err   error
}

func newSplitRuntime(b *splitBinding, name, uid string, parallelism int) *splitRuntime {
	return &splitRuntime{
		b: b, name: name, uid: uid, parallelism: parallelism, noMore: make([]bool, parallelism),
		events: make(chan ReaderEvent, 256), reqs: make(chan splitReq, 4),
		quit: make(chan struct{}), stopped: make(chan struct{}),
	}
}

func (rt *splitRuntime) checkTarget(what string, subtask int) error {
	if !rt.inCall.Load() {
		return fmt.Errorf("engine: SplitContext.%s of %q called outside the coordinator's goroutine", what, rt.name)
	}
	if subtask < 0 || subtask >= rt.parallelism {
		return fmt.Errorf("engine: split coordinator of %q: %s to subtask %d of %d", rt.name, what, subtask, rt.parallelism)
	}
	return nil
}

// wrap names the source and the coordinator in err.
func (rt *splitRuntime) wrap(err error) error {
	if err == nil {
		return nil
	}
	var oe *OperatorError
	if errors.As(err, &oe) {
		return err
	}
	if rt.ctx != nil && rt.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(rt.ctx))) {
		return err
	}
	return &OperatorError{Operator: rt.name, Parallelism: rt.parallelism, Role: RoleSplitCoordinator, Err: err}
}

// call runs fn, a call into the coordinator, with panic recovery.
func (rt *splitRuntime) call(fn func() error) (err error) {
	rt.inCall.Store(true)
	defer rt.inCall.Store(false)
	defer func() {
		if r := recover(); r != nil {
			err = &OperatorError{Operator: rt.name, Parallelism: rt.parallelism, Role: RoleSplitCoordinator,
				Err: fmt.Errorf("panic: %v", r), Panic: string(debug.Stack())}
		}
	}()
	return rt.wrap(fn())
}

// start creates the coordinator.
func (rt *splitRuntime) start() error {
	return rt.call(func() error {
		c, err := rt.b.newCoordinator(rt)
		if err == nil && c == nil {
			err = errors.New("newCoordinator returned no coordinator")
		}
		rt.coord = c
		return err
	})
}

func (rt *splitRuntime) handle(ev ReaderEvent) error {
	return rt.call(func() error { return rt.coord.HandleReaderEvent(ev) })
}

// snapshot takes the coordinator's snapshot for checkpoint id and posts
// the checkpoint's trigger to every subtask, in one step: no assignment can
// come between them.
func (rt *splitRuntime) snapshot(id int64, trigger taskMsg) ([]byte, error) {
	var st []byte
	err := rt.call(func() error {
		var err error
		st, err = rt.coord.SnapshotState(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	for s := 0; s < rt.parallelism; s++ {
		rt.post(s, trigger)
	}
	return st, nil
}

func (rt *splitRuntime) complete(id int64) error {
	return rt.call(func() error { return rt.coord.NotifyCheckpointComplete(id) })
}

func (rt *splitRuntime) close() error {
	if rt.coord == nil {
		return nil
	}
	return rt.call(rt.coord.Close)
}

// scheduled is work that Every or After scheduled.
type scheduled struct {
	at     time.Time
	period time.Duration // 0: once
	seq    uint64
	fn     func() error
}

type schedHeap []*scheduled

func (h schedHeap) Len() int { return len(h) }
func (h schedHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h schedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *schedHeap) Push(x any)   { *h = append(*h, x.(*scheduled)) }
func (h *schedHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (rt *splitRuntime) schedule(d, period time.Duration, fn func() error) {
	rt.seq++
	heap.Push(&rt.sched, &scheduled{at: rt.clock.Now().Add(d), period: period, seq: rt.seq, fn: fn})
}

// nextDue returns when the earliest scheduled work is due.
func (rt *splitRuntime) nextDue() (time.Time, bool) {
	if len(rt.sched) == 0 {
		return time.Time{}, false
	}
	return rt.sched[0].at, true
}

// runDue runs the scheduled work that is due at now, each item once.
func (rt *splitRuntime) runDue(now time.Time) error {
	var again []*scheduled
	for len(rt.sched) > 0 && !rt.sched[0].at.After(now) {
		s := heap.Pop(&rt.sched).(*scheduled)
		if err := rt.call(s.fn); err != nil {
			return err
		}
		if s.period > 0 {
			again = append(again, s)
		}
	}
	for _, s := range again {
		s.at = rt.clock.Now().Add(s.period)
		rt.seq++
		s.seq = rt.seq
		heap.Push(&rt.sched, s)
	}
	return nil
}

// run is the coordinator's goroutine in a job: it serialises reader
// events, checkpoint requests and scheduled work until the attempt ends
// (ctx) or the runtime is told to quit. fail is called with the first
// error, which ends the loop.
func (rt *splitRuntime) run(fail func(error)) {
	defer close(rt.stopped)
	var timer clock.Timer
	var armed time.Time
	var timerC <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		rt.closeErr = rt.close()
	}()
	rearm := func() {
		next, ok := rt.nextDue()
		if !ok {
			if timerC != nil {
				timer.Stop()
				timerC = nil
			}
			return
		}
		if timerC != nil && next.Equal(armed) {
			return
		}
		d := next.Sub(rt.clock.Now())
		if timer == nil {
			timer = rt.clock.NewTimer(d)
		} else {
			timer.Stop()
			select { // a stale fire
			case <-timer.C():
			default:
			}
			timer.Reset(d)
		}
		armed, timerC = next, timer.C()
	}
	serve := func(req splitReq) error {
		switch req.kind {
		case splitReqSnapshot:
			st, err := rt.snapshot(req.id, req.trigger)
			req.reply <- splitSnapResult{state: st, err: err}
			return err
		default:
			return rt.complete(req.id)
		}
	}
	for {
		rearm()
		var err error
		select {
		case <-rt.ctx.Done():
			return
		case <-rt.quit:
			// The attempt has finished: deliver the completions that were
			// posted before it did.
			for {
				select {
				case req := <-rt.reqs:
					if err := serve(req); err != nil {
						fail(err)
						return
					}
				default:
					return
				}
			}
		case ev := <-rt.events:
			err = rt.handle(ev)
		case req := <-rt.reqs:
			err = serve(req)
		case <-timerC:
			timerC = nil
			err = rt.runDue(rt.clock.Now())
		}
		if err != nil {
			fail(err)
			return
		}
	}
}

// requestSnapshot asks the coordinator's goroutine for its snapshot of
// checkpoint id and to post trigger to the source's tasks; it waits for
// the answer. Called from the checkpoint coordinator's goroutine.
func (rt *splitRuntime) requestSnapshot(id int64, trigger taskMsg) ([]byte, error) {
	reply := make(chan splitSnapResult, 1)
	select {
	case rt.reqs <- splitReq{kind: splitReqSnapshot, id: id, trigger: trigger, reply: reply}:
	case <-rt.stopped:
		return nil, errCoordinatorStopped
	}
	select {
	case r := <-reply:
		return r.state, r.err
	case <-rt.stopped:
		select {
		case r := <-reply:
			return r.state, r.err
		default:
			return nil, errCoordinatorStopped
		}
	}
}

// notifyComplete queues the completion of checkpoint id for the
// coordinator. Called from the checkpoint coordinator's goroutine.
func (rt *splitRuntime) notifyComplete(id int64) {
	select {
	case rt.reqs <- splitReq{kind: splitReqComplete, id: id}:
	case <-rt.stopped:
	}
}

// SplitHarnessOptions configure a SplitCoordinatorHarness.
type SplitHarnessOptions struct {
	// Name of the source. Default "source".
	Name string
	// Parallelism is the number of readers. Default 1.
	Parallelism int
	// Attempt, Checkpointing, Restored, RestoredState and
	// RestoredPositions are given to the coordinator as SplitContext's.
	Attempt           int
	Checkpointing     bool
	Restored          bool
	RestoredState     []byte
	RestoredPositions []SourcePosition
	// Clock drives Every and After. Default: a manual clock at the Unix
	// epoch.
	Clock *ManualClock
}

// SplitMessage is one message that a split coordinator's harness delivered
// to a reader's mailbox: an assignment, the end of assignments, or a
// checkpoint trigger.
type SplitMessage[S any] struct {
	Splits       []S   // an assignment
	NoMoreSplits bool  // no more splits
	Checkpoint   int64 // a checkpoint trigger
}

// SplitCoordinatorHarness drives a split coordinator deterministically,
// with no goroutines, as Harness drives an operator: a test sends reader
// events, takes and completes checkpoints, moves the clock, and reads what
// each reader's mailbox received, in order. It runs the same code as a job
// does between the coordinator and the mailboxes. It is not safe for
// concurrent use.
type SplitCoordinatorHarness[S any] struct {
	rt    *splitRuntime
	clk   *ManualClock
	boxes [][]SplitMessage[S]
}

// NewSplitCoordinatorHarness creates a coordinator with newCoordinator in
// a harness.
func NewSplitCoordinatorHarness[S any](newCoordinator func(*SplitContext[S]) (SplitCoordinator, error), opts SplitHarnessOptions) (*SplitCoordinatorHarness[S], error) {
	if opts.Name == "" {
		opts.Name = "source"
	}
	if opts.Parallelism == 0 {
		opts.Parallelism = 1
	}
	if opts.Clock == nil {
		opts.Clock = NewManualClock(time.UnixMilli(0))
	}
	b := CoordinateSplits(newCoordinator).b
	if b == nil {
		return nil, errors.New("engine: nil newCoordinator")
	}
	rt := newSplitRuntime(b, opts.Name, opts.Name, opts.Parallelism)
	rt.attempt, rt.checkpointing, rt.clock, rt.ctx = opts.Attempt, opts.Checkpointing, opts.Clock, context.Background()
	rt.restored, rt.restoredState, rt.restoredPositions = opts.Restored, opts.RestoredState, opts.RestoredPositions
	h := &SplitCoordinatorHarness[S]{rt: rt, clk: opts.Clock, boxes: make([][]SplitMessage[S], opts.Parallelism)}
	rt.post = func(s int, m taskMsg) {
		var msg SplitMessage[S]
		switch m.kind {
		case msgSplits:
			msg.Splits = m.splits.([]S)
		case msgNoMoreSplits:
			msg.NoMoreSplits = true
		case msgTrigger:
			msg.Checkpoint = m.id
		}
		h.boxes[s] = append(h.boxes[s], msg)
	}
	if err := rt.start(); err != nil {
		return nil, err
	}
	return h, nil
}

// Event delivers ev to the coordinator as reader subtask's, sent after its
// snapshot of checkpoint snapshot.
func (h *SplitCoordinatorHarness[S]) Event(subtask int, snapshot int64, ev any) error {
	return h.rt.handle(ReaderEvent{Subtask: subtask, Snapshot: snapshot, Event: ev})
}

// Checkpoint takes the coordinator's snapshot for checkpoint id and posts
// the trigger to every reader, as a job does.
func (h *SplitCoordinatorHarness[S]) Checkpoint(id int64) ([]byte, error) {
	return h.rt.snapshot(id, taskMsg{kind: msgTrigger, id: id})
}

// Complete tells the coordinator that checkpoint id completed.
func (h *SplitCoordinatorHarness[S]) Complete(id int64) error { return h.rt.complete(id) }

// Advance moves the clock by d and runs the scheduled work that is due.
func (h *SplitCoordinatorHarness[S]) Advance(d time.Duration) error {
	h.clk.Advance(d)
	return h.rt.runDue(h.clk.Now())
}

// Take returns the messages delivered to subtask's mailbox since the last
// Take, oldest first.
func (h *SplitCoordinatorHarness[S]) Take(subtask int) []SplitMessage[S] {
	m := h.boxes[subtask]
	h.boxes[subtask] = nil
	return m
}

// Close closes the coordinator.
func (h *SplitCoordinatorHarness[S]) Close() error { return h.rt.close() }
