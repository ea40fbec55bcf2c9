package operators

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// WindowedStream is a keyed stream cut into windows, waiting for its
// window function (Aggregate, Reduce, Process and friends), as Flink's
// WindowedStream. Its methods set options and return the same
// WindowedStream; problems are reported when the job is built, naming the
// operator.
type WindowedStream[T any, K comparable] struct {
	ks        *engine.KeyedStream[T, K]
	keyOf     func(T) K
	name      string
	assigner  Assigner
	trigger   Trigger[T]
	evictor   Evictor[T]
	lateness  time.Duration
	lateTag   engine.OutputTag[T]
	elemCodec state.Codec[T]
}

// Window cuts a keyed stream into windows of the assigner a. name names
// the operator the window function adds (and its state, unless SetUID is
// called on the result).
func Window[T any, K comparable](ks *engine.KeyedStream[T, K], name string, a Assigner) *WindowedStream[T, K] {
	return windowOf(ks.KeyOf(), ks, name, a)
}

// windowOf is Window for operators that window records of their own (a
// window join's Either records): ks may be nil.
func windowOf[T any, K comparable](keyOf func(T) K, ks *engine.KeyedStream[T, K], name string, a Assigner) *WindowedStream[T, K] {
	return &WindowedStream[T, K]{ks: ks, keyOf: keyOf, name: name, assigner: a, lateTag: LateDataTag[T]()}
}

// Trigger replaces the default trigger (see Trigger).
func (w *WindowedStream[T, K]) Trigger(t Trigger[T]) *WindowedStream[T, K] { w.trigger = t; return w }

// Evictor removes records from windows before or after the window
// function; the window then keeps its records, not an accumulator.
func (w *WindowedStream[T, K]) Evictor(e Evictor[T]) *WindowedStream[T, K] { w.evictor = e; return w }

// AllowedLateness keeps event-time windows open for d after they fired
// (when the watermark reached their window time: the max timestamp, or End
// for sessions; see TriggerContext.WindowTime): records that arrive
// meanwhile are added and the window fires again with the updated result.
// Later records go to the late-data side output. Default 0.
func (w *WindowedStream[T, K]) AllowedLateness(d time.Duration) *WindowedStream[T, K] {
	w.lateness = d
	return w
}

// SideOutputLateData sends late records to tag instead of LateDataTag[T]().
func (w *WindowedStream[T, K]) SideOutputLateData(tag engine.OutputTag[T]) *WindowedStream[T, K] {
	w.lateTag = tag
	return w
}

// ElementCodec sets the codec of T, needed when windows keep records
// (Process, an evictor) or Reduce values and T has no built-in codec.
func (w *WindowedStream[T, K]) ElementCodec(c state.Codec[T]) *WindowedStream[T, K] {
	w.elemCodec = c
	return w
}

// built is a validated WindowedStream, ready to add its operator.
type built[T any, K comparable] struct {
	w       *WindowedStream[T, K]
	cfg     windowConfig[T, K]
	slice   bool // use sliceOp
	session bool // use sessionOp
	errs    []error
}

func (w *WindowedStream[T, K]) build() *built[T, K] {
	b := &built[T, K]{w: w}
	spec, err := w.assigner.spec()
	if err != nil {
		b.errs = append(b.errs, err)
	}
	cfg := windowConfig[T, K]{spec: spec, trigger: w.trigger, evictor: w.evictor, lateTag: w.lateTag,
		errTag: ErrorTag[T](), keyOf: w.keyOf}
	if spec.kind == kindDynamicSession && err == nil {
		fn, ok := spec.gapFn.(func(T) time.Duration)
		if !ok {
			b.errs = append(b.errs, fmt.Errorf("operators: dynamic session gap function is a %T; the stream's records are %T", spec.gapFn, *new(T)))
		}
		cfg.gapOf = fn
	}
	if cfg.lateness, err = millis("allowed lateness", w.lateness); err != nil {
		b.errs = append(b.errs, err)
	} else if cfg.lateness < 0 {
		b.errs = append(b.errs, fmt.Errorf("operators: allowed lateness %v must not be negative", w.lateness))
	} else if cfg.lateness > 0 && !spec.isEventTime() && err == nil {
		b.errs = append(b.errs, fmt.Errorf("operators: allowed lateness applies to event-time windows, not %v", w.assigner))
	}
	if cfg.trigger == nil {
		switch {
		case spec.kind == kindGlobal:
			cfg.trigger = NeverTrigger[T]()
		case spec.procTime:
			cfg.trigger = ProcessingTimeTrigger[T]()
		default:
			cfg.trigger = EventTimeTrigger[T]()
		}
		b.slice = w.evictor == nil && (spec.kind == kindTumbling || spec.kind == kindSliding || spec.kind == kindCumulate)
		b.session = w.evictor == nil && spec.isMerging()
	} else if err := validateTrigger(cfg.trigger); err != nil {
		b.errs = append(b.errs, err)
	}
	if spec.isMerging() && !canMerge(cfg.trigger) {
		b.errs = append(b.errs, fmt.Errorf("operators: trigger %v does not support merging (session) windows: it must implement MergingTrigger", cfg.trigger))
	}
	if w.evictor != nil {
		if v, ok := w.evictor.(interface{ validate() error }); ok {
			if err := v.validate(); err != nil {
				b.errs = append(b.errs, err)
			}
		}
	}
	b.cfg = cfg
	return b
}

// elementCodec returns the codec of T for windows that keep records.
func (b *built[T, K]) elementCodec() state.Codec[T] {
	c, err := codecOf(b.w.elemCodec, fmt.Sprintf("window records of type %T", *new(T)), "set one with ElementCodec")
	if err != nil {
		b.errs = append(b.errs, err)
		return state.JSONCodec[T]{} // never used: the job does not validate
	}
	return c
}

// opSpec is a window operator ready to be added: its factory and the
// problems found building it.
type opSpec[T any, K comparable, Out any] struct {
	name  string
	newOp func() engine.KeyedOperator[T, K, Out]
	errs  []error
}

// newOpSpec wraps the window function factory newFn (called once per
// parallel instance, so that each has its own copy of user functions and
// scratch buffers) into the operator factory.
func newOpSpec[T any, K comparable, Acc, Out any](b *built[T, K], newFn func() windowFn[T, K, Acc, Out]) opSpec[T, K, Out] {
	cfg, slice, session := b.cfg, b.slice, b.session
	return opSpec[T, K, Out]{name: b.w.name, errs: b.errs, newOp: func() engine.KeyedOperator[T, K, Out] {
		switch {
		case slice:
			return newSliceOp(cfg, newFn())
		case session:
			return newSessionOp(cfg, newFn())
		}
		return newWindowOp(cfg, newFn())
	}}
}

// err returns the problems found, joined.
func (s opSpec[T, K, Out]) err() error { return errors.Join(s.errs...) }

// finish adds the operator to ks's job, reporting its problems.
func finish[T any, K comparable, Out any](ks *engine.KeyedStream[T, K], s opSpec[T, K, Out]) *engine.Stream[Out] {
	out := engine.TransformKeyed(ks, s.name, s.newOp)
	if err := s.err(); err != nil {
		out.Job().ReportError(s.name, err)
	}
	return out
}

// resultFunc turns one window's incremental result into output; newResult
// makes one per parallel instance.
type resultFunc[K comparable, R, Out any] func(key K, r R, wc *WindowContext[Out]) error

// accumulatorCodec returns agg's accumulator codec: its own (an
// AccumulatorCodec method) or Acc's built-in one.
func accumulatorCodec[T, Acc, R any](agg state.Aggregator[T, Acc, R]) (state.Codec[Acc], error) {
	if ac, ok := agg.(interface{ AccumulatorCodec() state.Codec[Acc] }); ok {
		return ac.AccumulatorCodec(), nil
	}
	return codecOf[Acc](nil, fmt.Sprintf("accumulator of type %T", *new(Acc)), "give the aggregator an AccumulatorCodec() state.Codec[Acc] method")
}

// aggregateOp is Aggregate with the final step newResult.
func aggregateOp[T any, K comparable, Acc, R, Out any](w *WindowedStream[T, K], agg state.Aggregator[T, Acc, R],
	newResult func() resultFunc[K, R, Out]) opSpec[T, K, Out] {
	b := w.build()
	if agg == nil {
		b.errs = append(b.errs, errors.New("operators: nil aggregator"))
		return newOpSpec(b, func() windowFn[T, K, Acc, Out] { return windowFn[T, K, Acc, Out]{} })
	}
	if b.cfg.evictor != nil {
		codec := b.elementCodec()
		return newOpSpec(b, func() windowFn[T, K, []engine.Record[T], Out] {
			result := newResult()
			return recordsFn(codec, b.cfg.evictor, func(key K, rs []engine.Record[T], wc *WindowContext[Out]) error {
				acc := agg.CreateAccumulator()
				for i := range rs {
					acc = agg.Add(rs[i].Value, acc)
				}
				return result(key, agg.Result(acc), wc)
			})
		})
	}
	codec, err := accumulatorCodec(agg)
	if err != nil {
		b.errs = append(b.errs, err)
	}
	return newOpSpec(b, func() windowFn[T, K, Acc, Out] { return aggFn[T, K](agg, codec, newResult()) })
}

// Aggregate computes agg incrementally per key and window: state holds one
// accumulator per key and window (per slice, on sliding and cumulating
// windows), never the records. The accumulator needs a codec: Acc's
// built-in one, or agg's AccumulatorCodec() state.Codec[Acc] method.
// Results carry the window's time (WindowContext.WindowTime: its max
// timestamp, or End for event-time sessions).
//
// Merge(a, b) may modify and return a but must neither modify nor keep b:
// slices stay in state after a window merged them.
func Aggregate[T any, K comparable, Acc, Out any](w *WindowedStream[T, K], agg state.Aggregator[T, Acc, Out]) *engine.Stream[Out] {
	return finish(w.ks, aggregateOp(w, agg, func() resultFunc[K, Out, Out] {
		return func(_ K, r Out, wc *WindowContext[Out]) error {
			wc.Emit(r)
			return nil
		}
	}))
}

// AggregateWindowed is Aggregate with each result's key and window.
func AggregateWindowed[T any, K comparable, Acc, Out any](w *WindowedStream[T, K], agg state.Aggregator[T, Acc, Out]) *engine.Stream[Windowed[K, Out]] {
	return finish(w.ks, aggregateOp(w, agg, func() resultFunc[K, Out, Windowed[K, Out]] {
		return func(key K, r Out, wc *WindowContext[Windowed[K, Out]]) error {
			wc.Emit(Windowed[K, Out]{Key: key, Window: wc.window, Value: r})
			return nil
		}
	}))
}

// processResult calls an instance's copy of fn with the one result.
func processResult[K comparable, R, Out any](fn ProcessWindowFunction[K, R, Out]) func() resultFunc[K, R, Out] {
	return func() resultFunc[K, R, Out] {
		pf := perInstance(fn)
		one := make([]R, 1)
		return func(key K, r R, wc *WindowContext[Out]) error {
			one[0] = r
			return pf.Process(key, one, wc)
		}
	}
}

// AggregateProcess computes agg incrementally and hands the result to fn
// with the window's metadata (Flink's aggregate(agg, windowFunction)).
func AggregateProcess[T any, K comparable, Acc, R, Out any](w *WindowedStream[T, K], agg state.Aggregator[T, Acc, R], fn ProcessWindowFunction[K, R, Out]) *engine.Stream[Out] {
	s := aggregateOp(w, agg, processResult(fn))
	if fn == nil {
		s.errs = append(s.errs, errors.New("operators: nil process window function"))
	}
	return finish(w.ks, s)
}

// Reduce combines each window's records with reduce incrementally: state
// holds one value per key and window (or slice). reduce(a, b) may return
// a modified a but must neither modify nor keep b. T needs a codec
// (built-in or ElementCodec).
func Reduce[T any, K comparable](w *WindowedStream[T, K], reduce func(a, b T) T) *engine.Stream[T] {
	return finish(w.ks, reduceOp(w, reduce, func() resultFunc[K, T, T] {
		return func(_ K, r T, wc *WindowContext[T]) error {
			wc.Emit(r)
			return nil
		}
	}))
}

// ReduceProcess is Reduce whose result fn sees with the window's metadata.
func ReduceProcess[T any, K comparable, Out any](w *WindowedStream[T, K], reduce func(a, b T) T, fn ProcessWindowFunction[K, T, Out]) *engine.Stream[Out] {
	s := reduceOp(w, reduce, processResult(fn))
	if fn == nil {
		s.errs = append(s.errs, errors.New("operators: nil process window function"))
	}
	return finish(w.ks, s)
}

func reduceOp[T any, K comparable, Out any](w *WindowedStream[T, K], reduce func(a, b T) T, newResult func() resultFunc[K, T, Out]) opSpec[T, K, Out] {
	b := w.build()
	if reduce == nil {
		b.errs = append(b.errs, errors.New("operators: nil reduce function"))
	}
	codec := b.elementCodec()
	if b.cfg.evictor != nil {
		return newOpSpec(b, func() windowFn[T, K, []engine.Record[T], Out] {
			result := newResult()
			return recordsFn(codec, b.cfg.evictor, func(key K, rs []engine.Record[T], wc *WindowContext[Out]) error {
				if len(rs) == 0 {
					return nil
				}
				acc := rs[0].Value
				for i := 1; i < len(rs); i++ {
					acc = reduce(acc, rs[i].Value)
				}
				return result(key, acc, wc)
			})
		})
	}
	return newOpSpec(b, func() windowFn[T, K, T, Out] { return reduceFn[T, K](reduce, codec, newResult()) })
}

// Process runs fn over each window's records when it fires (a full-window
// function): state holds the records. T needs a codec (built-in or
// ElementCodec).
func Process[T any, K comparable, Out any](w *WindowedStream[T, K], fn ProcessWindowFunction[K, T, Out]) *engine.Stream[Out] {
	return finish(w.ks, processOp(w, fn))
}

func processOp[T any, K comparable, Out any](w *WindowedStream[T, K], fn ProcessWindowFunction[K, T, Out]) opSpec[T, K, Out] {
	b := w.build()
	if fn == nil {
		b.errs = append(b.errs, errors.New("operators: nil process window function"))
	}
	codec := b.elementCodec()
	return newOpSpec(b, func() windowFn[T, K, []engine.Record[T], Out] {
		pf := perInstance(fn)
		var buf []T
		return recordsFn(codec, b.cfg.evictor, func(key K, rs []engine.Record[T], wc *WindowContext[Out]) error {
			buf = values(buf, rs)
			return pf.Process(key, buf, wc)
		})
	})
}
