package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

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
	if errors.As(err, &oe) || errors.Is(err, errTaskCancelled) {
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

var errTaskCancelled = errors.New("engine: task cancelled")
