package engine

import (
	"reflect"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/clock"
)

// Input receives batches of records. A batch passed to ProcessBatch belongs
// to the caller: the callee may read it during the call but must neither
// modify it nor keep it after the call returns.
type Input[T any] interface {
	ProcessBatch(batch []Record[T]) error
}

// OneInputOperator is the low-level interface of an operator with one input,
// as Flink's OneInputStreamOperator. Built-in operators and Transform use it;
// most jobs use Map, Process and the like instead.
//
// An operator is a deterministic core: it is driven by batches of records,
// watermarks, timers and (later) checkpoint barriers, and it reads time only
// from its context. The engine calls an operator from one goroutine.
type OneInputOperator[In, Out any] interface {
	// Open is called once before any input.
	Open(ctx *OperatorContext[Out]) error
	// ProcessBatch processes a batch of input records, emitting through
	// ctx.Output().
	ProcessBatch(batch []Record[In]) error
	// Close is called once when the operator stops, whether the job
	// succeeded or failed.
	Close() error
}

// TwoInputOperator is the low-level interface of an operator with two inputs
// (see Connect).
type TwoInputOperator[In1, In2, Out any] interface {
	Open(ctx *OperatorContext[Out]) error
	ProcessBatch1(batch []Record[In1]) error
	ProcessBatch2(batch []Record[In2]) error
	Close() error
}

// WatermarkHook is implemented by operators that act on watermarks. The
// engine fires the operator's due event-time timers, then calls OnWatermark,
// then forwards the watermark downstream.
type WatermarkHook interface {
	OnWatermark(wm int64) error
}

// EndInputHook is implemented by operators that act when all their input
// has ended (bounded streams), after the final watermark and before Close.
// Output emitted here still reaches downstream operators.
type EndInputHook interface {
	EndInput() error
}

// OperatorContext is an operator instance's view of the runtime.
type OperatorContext[Out any] struct {
	name        string
	uid         string
	subtask     int
	parallelism int
	maxPar      int
	clock       clock.Clock
	out         *Collector[Out]
	sides       map[string]any // tag id -> *Collector[X]
	inst        *opInstance
}

// Name returns the operator's name.
func (c *OperatorContext[Out]) Name() string { return c.name }

// UID returns the operator's stable id, under which its state is kept.
func (c *OperatorContext[Out]) UID() string { return c.uid }

// Subtask returns the 0-based index of this parallel instance.
func (c *OperatorContext[Out]) Subtask() int { return c.subtask }

// Parallelism returns the number of parallel instances of the operator.
func (c *OperatorContext[Out]) Parallelism() int { return c.parallelism }

// MaxParallelism returns the job's number of key groups.
func (c *OperatorContext[Out]) MaxParallelism() int { return c.maxPar }

// Clock returns the job's processing-time clock.
func (c *OperatorContext[Out]) Clock() clock.Clock { return c.clock }

// ProcessingTime returns the current processing time in milliseconds.
func (c *OperatorContext[Out]) ProcessingTime() int64 { return c.clock.Now().UnixMilli() }

// CurrentWatermark returns the last watermark the operator received.
func (c *OperatorContext[Out]) CurrentWatermark() int64 { return c.inst.watermark }

// Output returns the collector of the operator's main output.
func (c *OperatorContext[Out]) Output() *Collector[Out] { return c.out }

// RegisterProcessingTimeCallback calls fn from the operator's task once the
// processing time reaches at (milliseconds). Callbacks are not part of
// checkpoints: an operator that needs a timer to survive a restore uses a
// keyed timer, or registers the callback again when it is restored.
func (c *OperatorContext[Out]) RegisterProcessingTimeCallback(at int64, fn func(now int64) error) {
	c.inst.task.registerCallback(at, c.inst, fn)
}

// Collector buffers an operator's output into batches for the operators
// downstream. Collect appends to the current batch; a full batch is passed
// on at once, a partial one when the operator's current call returns.
//
// If a downstream operator fails, the collector keeps the error, drops
// further records, and the engine reports the error when the call returns.
type Collector[T any] struct {
	buf   []Record[T] // fixed length: the batch size
	n     int         // records buffered
	next  Input[T]    // nil: output discarded (no consumer)
	err   error
	count atomic.Int64 // records passed on (or dropped, when next is nil)
	// clearOnFlush is set when T holds pointers: flushed slots are zeroed
	// so the garbage collector can free what they referenced.
	clearOnFlush bool
}

func newCollector[T any](size int, next Input[T]) *Collector[T] {
	return &Collector[T]{buf: make([]Record[T], size), next: next, clearOnFlush: hasPointers[T]()}
}

// Collect emits v with event time ts.
func (c *Collector[T]) Collect(v T, ts int64) {
	c.buf[c.n] = Record[T]{Value: v, Time: ts}
	if c.n++; c.n == len(c.buf) {
		c.flush()
	}
}

// CollectRecord emits r.
func (c *Collector[T]) CollectRecord(r Record[T]) {
	c.buf[c.n] = r
	if c.n++; c.n == len(c.buf) {
		c.flush()
	}
}

// Err returns the error of a downstream operator, if one failed.
func (c *Collector[T]) Err() error { return c.err }

// flush passes the buffered records downstream.
func (c *Collector[T]) flush() error {
	if c.n == 0 {
		return c.err
	}
	b := c.buf[:c.n]
	if c.err == nil {
		c.count.Add(int64(c.n))
		if c.next != nil {
			c.err = c.next.ProcessBatch(b)
		}
	}
	if c.clearOnFlush {
		clear(b)
	}
	c.n = 0
	return c.err
}

// pending reports whether records wait in the buffer.
func (c *Collector[T]) pending() bool { return c.n > 0 }

// room returns how many records fit before the buffer is passed on.
func (c *Collector[T]) room() int { return len(c.buf) - c.n }

// OutputTag names a side output of type T, as Flink's OutputTag.
type OutputTag[T any] struct{ id string }

// NewOutputTag returns a tag with a job-unique id.
func NewOutputTag[T any](id string) OutputTag[T] { return OutputTag[T]{id: id} }

// ID returns the tag's id.
func (t OutputTag[T]) ID() string { return t.id }

// SideCollector returns the collector of side output tag in the operator's
// context. If no stream consumes the side output, the records emitted to it
// are counted (see Metrics) and dropped.
func SideCollector[T, Out any](ctx *OperatorContext[Out], tag OutputTag[T]) *Collector[T] {
	return sideCollectorOf[T](ctx, tag.id)
}

func (c *OperatorContext[Out]) side(id string) any { return c.sides[id] }
func (c *OperatorContext[Out]) addSide(id string, col any, f flusher) {
	c.sides[id] = col
	c.inst.addSide(id, f)
}
func (c *OperatorContext[Out]) batchSize() int { return c.inst.task.batchSize }
func (c *OperatorContext[Out]) harnessCapture() func(string, []Record[any]) {
	return c.inst.task.harnessSides
}

// hasPointers reports whether values of T can hold pointers.
func hasPointers[T any]() bool {
	return typeHasPointers(reflect.TypeFor[T]())
}

func typeHasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && typeHasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if typeHasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}
