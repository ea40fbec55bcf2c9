package operators

import (
	"slices"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// ProcessWindowFunction computes a window's output from its contents and
// metadata, as Flink's ProcessWindowFunction: on a full window (Process)
// elements are the window's records in arrival order (on sliding and
// cumulating windows: slice by slice, each in arrival order); combined with
// an incremental function (AggregateProcess, ReduceProcess) it is the one
// pre-aggregated result. elements belongs to the operator and is valid
// during the call only.
//
// A function value is shared by the job's parallel instances: each gets a
// shallow copy when it is a pointer to a struct.
type ProcessWindowFunction[K comparable, In, Out any] interface {
	Process(key K, elements []In, ctx *WindowContext[Out]) error
}

// ProcessWindowFunc adapts a function to ProcessWindowFunction.
type ProcessWindowFunc[K comparable, In, Out any] func(key K, elements []In, ctx *WindowContext[Out]) error

// Process implements ProcessWindowFunction.
func (f ProcessWindowFunc[K, In, Out]) Process(key K, elements []In, ctx *WindowContext[Out]) error {
	return f(key, elements, ctx)
}

// WindowContext is what a window function sees of a firing: the window,
// time, and the operator's outputs. It is valid during the call only.
type WindowContext[Out any] struct {
	window TimeWindow
	wm     int64
	op     *engine.OperatorContext[Out]
	spec   *assignSpec
}

// Window returns the window that fires.
func (c *WindowContext[Out]) Window() TimeWindow { return c.window }

// WindowTime returns the event time of the window's results: its max
// timestamp (End-1), or End for event-time sessions, which fire when the
// watermark reaches End (see the package doc).
func (c *WindowContext[Out]) WindowTime() int64 { return c.spec.windowTime(c.window) }

// CurrentWatermark returns the operator's watermark.
func (c *WindowContext[Out]) CurrentWatermark() int64 { return c.wm }

// ProcessingTime returns the current processing time in milliseconds.
func (c *WindowContext[Out]) ProcessingTime() int64 { return c.op.ProcessingTime() }

// Emit emits v with the window's time (WindowTime) as its event time.
func (c *WindowContext[Out]) Emit(v Out) { c.op.Output().Collect(v, c.WindowTime()) }

// EmitAt emits v with event time ts.
func (c *WindowContext[Out]) EmitAt(v Out, ts int64) { c.op.Output().Collect(v, ts) }

// Operator returns the operator's context: its name, counters, and side
// outputs (engine.SideCollector).
func (c *WindowContext[Out]) Operator() *engine.OperatorContext[Out] { return c.op }

// Windowed is a window's result with its key and window.
type Windowed[K comparable, V any] struct {
	Key    K
	Window TimeWindow
	Value  V
}

// windowFn is what a window operator keeps per key and window (or slice)
// and how it turns that into output. Everything is an accumulator: an
// Aggregator's, a Reduce's running value, or, for full-window functions
// and evictors, the list of records itself.
type windowFn[T any, K comparable, Acc, Out any] struct {
	// add folds v (event time ts) into acc; present says whether acc holds
	// anything (else it is the zero Acc). It may modify acc.
	add func(v T, ts int64, acc Acc, present bool) Acc
	// merge folds b into a; a may be modified when present, b is
	// read-only (it stays in state when slices are merged).
	merge func(a Acc, aPresent bool, b Acc) Acc
	// emit emits the output of the window in wc from acc. It returns the
	// accumulator to keep and whether it changed (evictors).
	emit  func(key K, acc Acc, wc *WindowContext[Out]) (Acc, bool, error)
	codec state.Codec[Acc]
	// records is set when Acc is []engine.Record[T] (full windows).
	records bool
}

// aggFn is the windowFn of an Aggregator; result gets the final value.
func aggFn[T any, K comparable, Acc, R, Out any](agg state.Aggregator[T, Acc, R], codec state.Codec[Acc],
	result func(key K, r R, wc *WindowContext[Out]) error) windowFn[T, K, Acc, Out] {
	return windowFn[T, K, Acc, Out]{
		add: func(v T, _ int64, acc Acc, present bool) Acc {
			if !present {
				acc = agg.CreateAccumulator()
			}
			return agg.Add(v, acc)
		},
		merge: func(a Acc, aPresent bool, b Acc) Acc {
			if !aPresent {
				a = agg.CreateAccumulator()
			}
			return agg.Merge(a, b)
		},
		emit: func(key K, acc Acc, wc *WindowContext[Out]) (Acc, bool, error) {
			return acc, false, result(key, agg.Result(acc), wc)
		},
		codec: codec,
	}
}

// reduceFn is the windowFn of a reduce function.
func reduceFn[T any, K comparable, Out any](reduce func(a, b T) T, codec state.Codec[T],
	result func(key K, r T, wc *WindowContext[Out]) error) windowFn[T, K, T, Out] {
	return windowFn[T, K, T, Out]{
		add: func(v T, _ int64, acc T, present bool) T {
			if !present {
				return v
			}
			return reduce(acc, v)
		},
		merge: func(a T, aPresent bool, b T) T {
			if !aPresent {
				return b
			}
			return reduce(a, b)
		},
		emit: func(key K, acc T, wc *WindowContext[Out]) (T, bool, error) {
			return acc, false, result(key, acc, wc)
		},
		codec: codec,
	}
}

// timedFn is the windowFn of an aggregation that sees timestamps (dedup,
// top-N): add and merge as given.
func timedFn[T any, K comparable, Acc, Out any](add func(v T, ts int64, acc Acc, present bool) Acc,
	merge func(a Acc, aPresent bool, b Acc) Acc, codec state.Codec[Acc],
	result func(key K, acc Acc, wc *WindowContext[Out]) error) windowFn[T, K, Acc, Out] {
	return windowFn[T, K, Acc, Out]{
		add: add, merge: merge, codec: codec,
		emit: func(key K, acc Acc, wc *WindowContext[Out]) (Acc, bool, error) {
			return acc, false, result(key, acc, wc)
		},
	}
}

// recordsFn is the windowFn of a full window: the records themselves, with
// an optional evictor around fn.
func recordsFn[T any, K comparable, Out any](codec state.Codec[T], ev Evictor[T],
	fn func(key K, rs []engine.Record[T], wc *WindowContext[Out]) error) windowFn[T, K, []engine.Record[T], Out] {
	return windowFn[T, K, []engine.Record[T], Out]{
		add: func(v T, ts int64, acc []engine.Record[T], _ bool) []engine.Record[T] {
			return append(acc, engine.Record[T]{Value: v, Time: ts})
		},
		merge: func(a []engine.Record[T], _ bool, b []engine.Record[T]) []engine.Record[T] {
			return append(a, b...)
		},
		emit: func(key K, acc []engine.Record[T], wc *WindowContext[Out]) ([]engine.Record[T], bool, error) {
			if ev == nil {
				return acc, false, fn(key, acc, wc)
			}
			ectx := EvictorContext{Watermark: wc.wm, ProcessingTime: wc.ProcessingTime()}
			rs := slices.Clone(acc)
			n := len(rs)
			rs = ev.EvictBefore(rs, wc.window, ectx)
			if err := fn(key, rs, wc); err != nil {
				return acc, false, err
			}
			rs = ev.EvictAfter(rs, wc.window, ectx)
			return rs, len(rs) != n, nil
		},
		codec:   recordsCodec[T]{codec},
		records: true,
	}
}

// values returns the values of rs in buf.
func values[T any](buf []T, rs []engine.Record[T]) []T {
	buf = buf[:0]
	for i := range rs {
		buf = append(buf, rs[i].Value)
	}
	return buf
}
