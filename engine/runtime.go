package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// The operator instances of a task's chain: each operator's instance
// (opInstance) with its calls, error naming and in-band control events; its
// outputs (collectors, and the fan-out to the chained operators that
// consume them); and the instance of a source at the chain's head
// (sourceDriver, which the task's loop reads).

// opInstance is one subtask's instance of an operator: the untyped control
// surface the task drives (watermarks, end of input, timers, barriers),
// around the typed operator object.
type opInstance struct {
	node        *node
	task        *task
	subtask     int
	parallelism int

	opener     func() error
	closer     func() error
	wmHook     WatermarkHook
	endHook    EndInputHook
	stateHook  OperatorStateHook
	listener   CheckpointListener
	keyed      keyedRuntime // nil unless the operator is keyed
	keyedStore *keyedStore  // the keyed operator's state

	mu        sync.Mutex // guards outs, sideNames and counters against Metrics
	outs      []flusher  // output slot collectors, main first
	sideNames []string   // side output tag of outs[i+1]
	counters  map[string]*Counter
	downs     []controlTarget // chained operators and exchange writers
	opened    bool

	watermark int64 // last watermark received
	in        atomic.Int64
	wmShown   atomic.Int64 // watermark, readable by metrics
}

// controlTarget receives in-band control events.
type controlTarget interface {
	control(c control) error
}

// keyedRuntime is what a keyed operator's instance gives the task: timers
// to fire and state to snapshot.
type keyedRuntime interface {
	// fireEventTimers fires every event-time timer at or before wm.
	fireEventTimers(wm int64) error
	// fireProcessingTimers fires every processing-time timer at or before
	// now, and returns the time of the next one (MaxTime if none).
	fireProcessingTimers(now int64) (int64, error)
	// nextProcessingTimer returns the time of the earliest processing-time
	// timer, or MaxTime.
	nextProcessingTimer() int64
}

func (inst *opInstance) addSide(tag string, f flusher) {
	inst.mu.Lock()
	inst.outs = append(inst.outs, f)
	inst.sideNames = append(inst.sideNames, tag)
	inst.mu.Unlock()
}

// setHooks records which optional interfaces the operator implements.
func (inst *opInstance) setHooks(op any) {
	inst.wmHook, _ = op.(WatermarkHook)
	inst.endHook, _ = op.(EndInputHook)
	inst.stateHook, _ = op.(OperatorStateHook)
	inst.listener, _ = op.(CheckpointListener)
}

func (inst *opInstance) checkpointListener() (CheckpointListener, bool) {
	return inst.listener, inst.listener != nil
}

// recoverAs turns a panic in an operator into an *OperatorError.
func (inst *opInstance) recoverAs(err *error) {
	if r := recover(); r != nil {
		*err = &OperatorError{
			Operator: inst.node.name, Subtask: inst.subtask, Parallelism: inst.parallelism,
			Err: fmt.Errorf("panic: %v", r), Panic: string(debug.Stack()),
		}
	}
}

// wrap names the operator in err, unless err already names one or is the
// job's cancellation.
func (inst *opInstance) wrap(err error) error {
	if err == nil {
		return nil
	}
	var oe *OperatorError
	if errors.As(err, &oe) {
		return err
	}
	if ctx := inst.task.ctx; ctx != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(ctx))) {
		return err
	}
	return &OperatorError{Operator: inst.node.name, Subtask: inst.subtask, Parallelism: inst.parallelism, Err: err}
}

// flushOutputs passes every collector's buffered records downstream. Only
// the task's goroutine appends to outs, so reading it here needs no lock.
func (inst *opInstance) flushOutputs() error {
	for _, f := range inst.outs {
		if err := f.flush(); err != nil {
			return err
		}
	}
	return nil
}

// call runs fn (a call into the operator) with panic recovery and error
// naming, then flushes the operator's outputs.
func (inst *opInstance) call(fn func() error) (err error) {
	defer inst.recoverAs(&err)
	if err := fn(); err != nil {
		return inst.wrap(err)
	}
	return inst.flushOutputs()
}

// callNoFlush calls into the operator without flushing its outputs (Close:
// downstream operators may already be closed).
func (inst *opInstance) callNoFlush(fn func() error) (err error) {
	defer inst.recoverAs(&err)
	return inst.wrap(fn())
}

// control handles an in-band event arriving at this operator and forwards
// it downstream, in order after every record it caused.
func (inst *opInstance) control(c control) error {
	switch c.kind {
	case ctlWatermark:
		if c.wm <= inst.watermark {
			return nil
		}
		inst.watermark = c.wm
		inst.wmShown.Store(c.wm)
		if inst.keyed != nil {
			if err := inst.call(func() error { return inst.keyed.fireEventTimers(c.wm) }); err != nil {
				return err
			}
		}
		if inst.wmHook != nil {
			if err := inst.call(func() error { return inst.wmHook.OnWatermark(c.wm) }); err != nil {
				return err
			}
		}
	case ctlEndOfInput:
		if inst.endHook != nil {
			if err := inst.call(inst.endHook.EndInput); err != nil {
				return err
			}
		}
	case ctlBarrier:
		if err := inst.task.snapshotOperator(inst, c.cp); err != nil {
			return err
		}
	}
	if err := inst.flushOutputs(); err != nil {
		return err
	}
	for _, d := range inst.downs {
		if err := d.control(c); err != nil {
			return err
		}
	}
	return nil
}

// oneInputAdapter is the typed input of a one-input operator instance.
type oneInputAdapter[T any] struct {
	inst *opInstance
	fn   func([]Record[T]) error
}

func (a *oneInputAdapter[T]) ProcessBatch(b []Record[T]) (err error) {
	inst := a.inst
	defer inst.recoverAs(&err)
	inst.in.Add(int64(len(b)))
	if err := a.fn(b); err != nil {
		return inst.wrap(err)
	}
	return inst.flushOutputs()
}

// instantiateOneInput builds the instance of a one-input operator whose
// output slots feed outs.
func instantiateOneInput[In, Out any](t *task, n *node, subtask int, op OneInputOperator[In, Out], outs [][]any) (*opInstance, []any, error) {
	inst, ctx := newInstance[Out](t, n, subtask, outs)
	inst.opener = func() error { return op.Open(ctx) }
	inst.closer = op.Close
	inst.setHooks(op)
	return inst, []any{Input[In](&oneInputAdapter[In]{inst: inst, fn: op.ProcessBatch})}, nil
}

// instantiateTwoInput builds the instance of a two-input operator.
func instantiateTwoInput[In1, In2, Out any](t *task, n *node, subtask int, op TwoInputOperator[In1, In2, Out], outs [][]any) (*opInstance, []any, error) {
	inst, ctx := newInstance[Out](t, n, subtask, outs)
	inst.opener = func() error { return op.Open(ctx) }
	inst.closer = op.Close
	inst.setHooks(op)
	return inst, []any{
		Input[In1](&oneInputAdapter[In1]{inst: inst, fn: op.ProcessBatch1}),
		Input[In2](&oneInputAdapter[In2]{inst: inst, fn: op.ProcessBatch2}),
	}, nil
}

// newInstance makes the instance and operator context of node n, with one
// collector per output slot.
func newInstance[Out any](t *task, n *node, subtask int, outs [][]any) (*opInstance, *OperatorContext[Out]) {
	inst := &opInstance{node: n, task: t, subtask: subtask, parallelism: n.effectiveParallelism(), watermark: MinTime}
	inst.wmShown.Store(MinTime)
	ctx := &OperatorContext[Out]{
		name: n.name, uid: n.uid, subtask: subtask, parallelism: inst.parallelism,
		maxPar: t.cfg.MaxParallelism, clock: t.cfg.Clock, sides: map[string]any{}, inst: inst,
	}
	for i, s := range n.slots {
		f, c := s.kit.collector(t.cfg.BatchSize, outs[i])
		if i == 0 {
			ctx.out = c.(*Collector[Out])
			inst.outs = append(inst.outs, f)
			continue
		}
		ctx.sides[s.tag] = c
		inst.addSide(s.tag, f)
	}
	return inst, ctx
}

// flusher is the untyped face of a Collector.
type flusher interface {
	flush() error
	pending() bool
	counted() int64
}

func (c *Collector[T]) counted() int64 { return c.count.Load() }

// fanout returns the Input that passes batches to every consumer, or nil
// if there are none (the output is discarded).
func fanout[T any](consumers []any) Input[T] {
	switch len(consumers) {
	case 0:
		return nil
	case 1:
		return consumers[0].(Input[T])
	}
	ins := make(fanoutInput[T], len(consumers))
	for i, c := range consumers {
		ins[i] = c.(Input[T])
	}
	return ins
}

type fanoutInput[T any] []Input[T]

func (f fanoutInput[T]) ProcessBatch(b []Record[T]) error {
	for _, in := range f {
		if err := in.ProcessBatch(b); err != nil {
			return err
		}
	}
	return nil
}

// sourceDriver is the untyped face of a source subtask.
type sourceDriver interface {
	open(ctx context.Context) error
	// read calls the reader once; eof reports the end of a bounded input.
	read(ctx context.Context) (eof bool, emitted bool, err error)
	watermark(now time.Time) (int64, bool)
	none() bool
	snapshotPosition() ([]byte, bool, error)
	// addSplits and noMoreSplits deliver a split coordinator's messages.
	addSplits(splits any) error
	noMoreSplits() error
	close() error
}

// typedSourceDriver drives one subtask's SourceReader.
type typedSourceDriver[T any] struct {
	t      *task
	inst   *opInstance
	src    Source[T]
	info   SourceInfo
	ws     WatermarkStrategy[T]
	reader SourceReader[T]
	out    *SourceOutput[T]
}

func (d *typedSourceDriver[T]) open(ctx context.Context) error {
	r, err := d.src.Open(ctx, d.info)
	if err != nil {
		return err
	}
	d.reader = r
	if rt := d.t.split; rt != nil && !rt.b.isReader(r) {
		return fmt.Errorf("reader %T of a SplitSource does not implement SplitReader[%s]", r, rt.b.splitType)
	}
	if l, ok := r.(CheckpointListener); ok && d.inst.listener == nil {
		// A reader that acts on completed checkpoints (to trim, or to let
		// a next split start only once a finished one is checkpointed).
		d.inst.listener = l
	}
	return nil
}

func (d *typedSourceDriver[T]) read(ctx context.Context) (eof, emitted bool, err error) {
	inst := d.inst
	d.out.emitted = false
	func() {
		defer inst.recoverAs(&err)
		err = d.reader.Read(ctx, d.out)
	}()
	if errors.Is(err, io.EOF) {
		eof, err = true, nil
	}
	if err != nil {
		return false, false, inst.wrap(err)
	}
	if err := inst.flushOutputs(); err != nil {
		return false, false, err
	}
	if d.out.emitted && d.ws.IdleTimeout > 0 {
		now := d.info.Clock.Now()
		for _, s := range d.out.splits {
			if s.sawRecord {
				s.lastActive, s.sawRecord = now, false
			}
		}
		if d.out.def.sawRecord {
			d.out.def.lastActive, d.out.def.sawRecord = now, false
		}
	}
	return eof, d.out.emitted, nil
}

func (d *typedSourceDriver[T]) watermark(now time.Time) (int64, bool) { return d.out.watermark(now) }

func (d *typedSourceDriver[T]) none() bool { return d.ws.None }

func (d *typedSourceDriver[T]) snapshotPosition() ([]byte, bool, error) {
	cr, ok := d.reader.(CheckpointedReader)
	if !ok {
		return nil, false, nil
	}
	pos, err := cr.SnapshotPosition()
	return pos, true, err
}

func (d *typedSourceDriver[T]) addSplits(splits any) error {
	return d.inst.call(func() error { return d.t.split.b.addSplits(d.reader, splits) })
}

func (d *typedSourceDriver[T]) noMoreSplits() error {
	return d.inst.call(func() error { return d.t.split.b.noMoreSplits(d.reader) })
}

func (d *typedSourceDriver[T]) close() error {
	if d.reader == nil {
		return nil
	}
	return d.reader.Close()
}

// instantiateSource builds a source subtask: its driver and the instance
// that carries its output collector.
func instantiateSource[T any](t *task, n *node, subtask int, src Source[T], ws WatermarkStrategy[T], outs [][]any) (*opInstance, []any, error) {
	inst, ctx := newInstance[T](t, n, subtask, outs)
	d := &typedSourceDriver[T]{
		t: t, inst: inst, src: src, ws: ws,
		info: SourceInfo{Name: n.name, Subtask: subtask, Parallelism: inst.parallelism, Clock: t.cfg.Clock, Restored: t.restoredPosition(n),
			Checkpointing: t.cfg.Checkpoint.Interval > 0 && t.cfg.Checkpoint.storage() != nil},
		out: newSourceOutput(ctx.out, ws, t.cfg.Clock),
	}
	if t.src != nil {
		return nil, nil, fmt.Errorf("engine: task %s has two sources", t.name)
	}
	if t.exec != nil {
		d.info.Attempt = t.exec.attempt
		if rt := t.exec.splitFor[n]; rt != nil {
			t.split = rt
			rt.tasks[subtask] = t
			d.info.Splits = &SplitReaderContext{t: t, rt: rt}
		}
	}
	if t.mbox != nil {
		d.info.Interrupt = t.mbox.wake
	}
	t.src = d
	return inst, nil, nil
}
