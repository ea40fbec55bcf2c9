package engine

import (
	"reflect"

	"github.com/sluicehq/sluice/state"
)

// SourceOf adds a source to the job. Each subtask opens its own reader. A
// SplitSource gets a split coordinator per attempt.
func SourceOf[T any](j *Job, name string, src Source[T], ws WatermarkStrategy[T]) *Stream[T] {
	n := j.addNode(name, kindSource)
	n.slots = []*slot{{kit: typedKit[T]{}}}
	if src == nil {
		n.nilFunc = "source"
	}
	if ss, ok := src.(SplitSource[T]); ok {
		n.splits = ss.SplitCoordination().b
		if n.splits == nil {
			j.errorf(name, "SplitCoordination returned no coordination (use CoordinateSplits)")
		}
	}
	n.instantiate = func(t *task, subtask int, outs [][]any) (*opInstance, []any, error) {
		return instantiateSource(t, n, subtask, src, ws, outs)
	}
	return newStream[T](n, 0)
}

// oneInput adds a one-input operator node consuming s.
func oneInput[In, Out any](s *Stream[In], name string, newOp func() OneInputOperator[In, Out]) (*node, *Stream[Out]) {
	n := s.job.addNode(name, kindOneInput)
	n.slots = []*slot{{kit: typedKit[Out]{}}}
	s.connect(n, 0)
	n.instantiate = func(t *task, subtask int, outs [][]any) (*opInstance, []any, error) {
		return instantiateOneInput(t, n, subtask, newOp(), outs)
	}
	return n, newStream[Out](n, 0)
}

// Transform adds a custom one-input operator; newOp is called once per
// subtask.
func Transform[In, Out any](s *Stream[In], name string, newOp func() OneInputOperator[In, Out]) *Stream[Out] {
	n, out := oneInput(s, name, newOp)
	if newOp == nil {
		n.nilFunc = "operator factory"
	}
	return out
}

// Map applies fn to every record.
func Map[In, Out any](s *Stream[In], name string, fn func(In) Out) *Stream[Out] {
	n, out := oneInput(s, name, func() OneInputOperator[In, Out] { return &mapOp[In, Out]{fn: fn} })
	if fn == nil {
		n.nilFunc = "map function"
	}
	return out
}

type mapOp[In, Out any] struct {
	fn  func(In) Out
	out *Collector[Out]
}

func (m *mapOp[In, Out]) Open(ctx *OperatorContext[Out]) error { m.out = ctx.Output(); return nil }
func (m *mapOp[In, Out]) Close() error                         { return nil }
func (m *mapOp[In, Out]) ProcessBatch(b []Record[In]) error {
	// Collect, written out: the compiler does not inline it here, and this
	// loop is the hottest in most jobs.
	out, fn := m.out, m.fn
	buf, n := out.buf, out.n
	for i := range b {
		// Field by field: the compiler then stores fn's result registers
		// straight into the batch instead of copying through the stack.
		r := &buf[n]
		r.Value = fn(b[i].Value)
		r.Time = b[i].Time
		if n++; n == len(buf) {
			out.n = n
			out.flush()
			n = 0
		}
	}
	out.n = n
	return nil
}

// Filter keeps the records for which keep returns true.
func (s *Stream[T]) Filter(name string, keep func(T) bool) *Stream[T] {
	n, out := oneInput(s, name, func() OneInputOperator[T, T] { return &filterOp[T]{keep: keep} })
	if keep == nil {
		n.nilFunc = "filter function"
	}
	return out
}

type filterOp[T any] struct {
	keep func(T) bool
	out  *Collector[T]
}

func (f *filterOp[T]) Open(ctx *OperatorContext[T]) error { f.out = ctx.Output(); return nil }
func (f *filterOp[T]) Close() error                       { return nil }
func (f *filterOp[T]) ProcessBatch(b []Record[T]) error {
	out, keep := f.out, f.keep
	buf, n := out.buf, out.n
	for i := range b {
		if keep(b[i].Value) {
			buf[n] = b[i]
			if n++; n == len(buf) {
				out.n = n
				out.flush()
				n = 0
			}
		}
	}
	out.n = n
	return nil
}

// FlatMap calls fn for every record; fn emits any number of outputs, each
// with the input's timestamp.
func FlatMap[In, Out any](s *Stream[In], name string, fn func(v In, emit func(Out))) *Stream[Out] {
	n, out := oneInput(s, name, func() OneInputOperator[In, Out] { return &flatMapOp[In, Out]{fn: fn} })
	if fn == nil {
		n.nilFunc = "flatMap function"
	}
	return out
}

type flatMapOp[In, Out any] struct {
	fn   func(In, func(Out))
	out  *Collector[Out]
	ts   int64
	emit func(Out)
}

func (f *flatMapOp[In, Out]) Open(ctx *OperatorContext[Out]) error {
	f.out = ctx.Output()
	f.emit = func(v Out) { f.out.Collect(v, f.ts) }
	return nil
}
func (f *flatMapOp[In, Out]) Close() error { return nil }
func (f *flatMapOp[In, Out]) ProcessBatch(b []Record[In]) error {
	for i := range b {
		f.ts = b[i].Time
		f.fn(b[i].Value, f.emit)
	}
	return nil
}

// ProcessFunction processes records one at a time with access to time,
// side outputs and (through an optional Open(*RuntimeContext) error
// method) the runtime. It may also implement Close() error.
type ProcessFunction[In, Out any] interface {
	ProcessElement(v In, ctx *Context[Out]) error
}

// ProcessFunc adapts a function to ProcessFunction.
type ProcessFunc[In, Out any] func(v In, ctx *Context[Out]) error

// ProcessElement implements ProcessFunction.
func (f ProcessFunc[In, Out]) ProcessElement(v In, ctx *Context[Out]) error { return f(v, ctx) }

// Opener is implemented by functions that need setup (e.g. registering
// state) before the first record.
type Opener interface {
	Open(rc *RuntimeContext) error
}

// Closer is implemented by functions that release resources at the end.
type Closer interface {
	Close() error
}

// Context is what a ProcessFunction sees of the record being processed.
type Context[Out any] struct {
	op *OperatorContext[Out]
	ts int64
}

// Emit emits v with the current record's timestamp.
func (c *Context[Out]) Emit(v Out) { c.op.out.Collect(v, c.ts) }

// EmitAt emits v with timestamp ts.
func (c *Context[Out]) EmitAt(v Out, ts int64) { c.op.out.Collect(v, ts) }

// Timestamp returns the current record's event time (or, in OnTimer, the
// timer's time).
func (c *Context[Out]) Timestamp() int64 { return c.ts }

// CurrentWatermark returns the operator's current watermark.
func (c *Context[Out]) CurrentWatermark() int64 { return c.op.inst.watermark }

// ProcessingTime returns the current processing time in milliseconds.
func (c *Context[Out]) ProcessingTime() int64 { return c.op.ProcessingTime() }

// Operator returns the operator's context.
func (c *Context[Out]) Operator() *OperatorContext[Out] { return c.op }

func (c *Context[Out]) sideOutputs() sideTable  { return c.op }
func (c *Context[Out]) currentTimestamp() int64 { return c.ts }

// SideOutputs is implemented by the contexts that can emit to side outputs.
type SideOutputs interface {
	sideOutputs() sideTable
	currentTimestamp() int64
}

// sideTable is an operator's table of side output collectors.
type sideTable interface {
	side(id string) any
	addSide(id string, c any, f flusher)
	batchSize() int
	harnessCapture() func(id string, rs []Record[any])
}

// Emit emits v to the side output t with the current record's timestamp.
// Records for a side output that no stream consumes are counted in the
// operator's metrics and dropped.
func (t OutputTag[T]) Emit(ctx SideOutputs, v T) {
	sideCollectorOf[T](ctx.sideOutputs(), t.id).Collect(v, ctx.currentTimestamp())
}

func sideCollectorOf[T any](st sideTable, id string) *Collector[T] {
	if c, ok := st.side(id).(*Collector[T]); ok {
		return c
	}
	var next Input[T]
	if capture := st.harnessCapture(); capture != nil {
		next = inputFunc[T](func(b []Record[T]) error {
			rs := make([]Record[any], len(b))
			for i, r := range b {
				rs[i] = Record[any]{Value: r.Value, Time: r.Time}
			}
			capture(id, rs)
			return nil
		})
	}
	c := newCollector[T](st.batchSize(), next)
	st.addSide(id, c, c)
	return c
}

// RuntimeContext is given to Open of functions: the operator's identity,
// its clock and, on keyed streams, its keyed state.
type RuntimeContext struct {
	Name        string
	Subtask     int
	Parallelism int
	clockNow    func() int64
	backend     *state.Backend
}

// ProcessingTime returns the current processing time in milliseconds.
func (rc *RuntimeContext) ProcessingTime() int64 { return rc.clockNow() }

// Process applies a ProcessFunction. Each parallel instance uses its own
// shallow copy of fn when fn is a pointer to a struct (so fields set in Open
// are per instance, as Flink gives each instance its own copy of a
// function); maps, slices and pointers inside it are shared. The same holds
// for the functions of KeyedProcess, CoProcess and KeyedCoProcess.
func Process[In, Out any](s *Stream[In], name string, fn ProcessFunction[In, Out]) *Stream[Out] {
	n, out := oneInput(s, name, func() OneInputOperator[In, Out] { return &processOp[In, Out]{fn: perInstance(fn)} })
	if fn == nil {
		n.nilFunc = "process function"
	}
	return out
}

type processOp[In, Out any] struct {
	fn  ProcessFunction[In, Out]
	ctx Context[Out]
}

func (p *processOp[In, Out]) Open(ctx *OperatorContext[Out]) error {
	p.ctx.op = ctx
	if o, ok := p.fn.(Opener); ok {
		return o.Open(&RuntimeContext{Name: ctx.name, Subtask: ctx.subtask, Parallelism: ctx.parallelism, clockNow: ctx.ProcessingTime})
	}
	return nil
}

func (p *processOp[In, Out]) Close() error {
	if c, ok := p.fn.(Closer); ok {
		return c.Close()
	}
	return nil
}

func (p *processOp[In, Out]) ProcessBatch(b []Record[In]) error {
	for i := range b {
		p.ctx.ts = b[i].Time
		if err := p.fn.ProcessElement(b[i].Value, &p.ctx); err != nil {
			return err
		}
	}
	return nil
}

// SideOutput returns the stream of the records that the operator that
// produced s emitted to tag.
func SideOutput[X, T any](s *Stream[T], tag OutputTag[X]) *Stream[X] {
	n := s.head()
	if n == nil {
		s.job.errorf("", "SideOutput of a union of streams")
		return &Stream[X]{job: s.job}
	}
	for i, sl := range n.slots {
		if sl.tag == tag.id && i > 0 {
			return newStream[X](n, i)
		}
	}
	n.slots = append(n.slots, &slot{tag: tag.id, kit: typedKit[X]{}})
	return newStream[X](n, len(n.slots)-1)
}

// perInstance returns the copy of a user function that one parallel
// instance uses. A pointer to a struct is copied shallowly, so that fields
// an Open method sets (state handles, buffers) belong to one instance, as
// Flink gives each instance its own deserialised copy of a function; other
// values (funcs, struct values) are used as they are. Maps, slices and
// pointers inside the struct are shared by every instance.
func perInstance[F any](f F) F {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return f
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface().(F)
}
