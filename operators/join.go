package operators

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// ProcessJoinFunction handles one joined pair of records, as Flink's
// ProcessJoinFunction.
type ProcessJoinFunction[A, B, Out any] interface {
	ProcessElement(a A, b B, ctx *JoinContext[Out]) error
}

// JoinFunc adapts a function to ProcessJoinFunction.
type JoinFunc[A, B, Out any] func(a A, b B, ctx *JoinContext[Out]) error

// ProcessElement implements ProcessJoinFunction.
func (f JoinFunc[A, B, Out]) ProcessElement(a A, b B, ctx *JoinContext[Out]) error {
	return f(a, b, ctx)
}

// JoinContext is what a join function sees of a pair: the records' event
// times and the operator's outputs. It is valid during the call only.
type JoinContext[Out any] struct {
	left, right, ts int64
	op              *engine.OperatorContext[Out]
}

// LeftTimestamp returns the left record's event time.
func (c *JoinContext[Out]) LeftTimestamp() int64 { return c.left }

// RightTimestamp returns the right record's event time.
func (c *JoinContext[Out]) RightTimestamp() int64 { return c.right }

// Timestamp returns the event time Emit gives results: the larger of the
// two records' (interval join) or the window's time (window join: its max
// timestamp, or End for event-time sessions; see
// WindowContext.WindowTime).
func (c *JoinContext[Out]) Timestamp() int64 { return c.ts }

// Emit emits v at Timestamp().
func (c *JoinContext[Out]) Emit(v Out) { c.op.Output().Collect(v, c.ts) }

// Operator returns the operator's context (side outputs, counters).
func (c *JoinContext[Out]) Operator() *engine.OperatorContext[Out] { return c.op }

// IntervalJoinOptions configure IntervalJoin: a left record a joins every
// right record b of the same key with a.ts + Lower <= b.ts <= a.ts + Upper
// (SQL's b.ts BETWEEN a.ts - x AND a.ts + y with Lower = -x, Upper = y).
type IntervalJoinOptions[A, B any] struct {
	Lower, Upper time.Duration
	// LowerExclusive and UpperExclusive make the bounds strict.
	LowerExclusive, UpperExclusive bool
	// LeftCodec and RightCodec encode the buffered records; nil means the
	// built-in codec of the type.
	LeftCodec  state.Codec[A]
	RightCodec state.Codec[B]
}

// Side output tags of the interval join: records behind the watermark
// (late) and records without a timestamp, per side.
func LateLeftTag[A any]() engine.OutputTag[A]   { return engine.NewOutputTag[A]("late-left") }
func LateRightTag[B any]() engine.OutputTag[B]  { return engine.NewOutputTag[B]("late-right") }
func ErrorLeftTag[A any]() engine.OutputTag[A]  { return engine.NewOutputTag[A]("errors-left") }
func ErrorRightTag[B any]() engine.OutputTag[B] { return engine.NewOutputTag[B]("errors-right") }

// IntervalJoin joins two streams keyed alike on event time (Flink's
// interval join): each left record a meets every right record b of its
// key with a.ts + Lower <= b.ts <= a.ts + Upper, in whichever order they
// arrive, and fn sees each pair once; results carry the later of the two
// timestamps.
//
// Each side's records are buffered in keyed state ("join-left",
// "join-right": a map from timestamp to the records at it) until the
// watermark passes the last time the other side could still match them;
// timers drop them. Records behind the watermark cannot be matched
// completely and go to the late side outputs (LateLeftTag, LateRightTag),
// counted in CounterLate; records without a timestamp go to ErrorLeftTag
// and ErrorRightTag.
func IntervalJoin[A, B any, K comparable, Out any](a *engine.KeyedStream[A, K], b *engine.KeyedStream[B, K], name string,
	opts IntervalJoinOptions[A, B], fn ProcessJoinFunction[A, B, Out]) *engine.Stream[Out] {
	s := intervalJoinOp(a.KeyOf(), b.KeyOf(), name, opts, fn)
	out := engine.TransformKeyed2(a, b, name, s.newOp)
	if err := errors.Join(s.errs...); err != nil {
		out.Job().ReportError(name, err)
	}
	return out
}

type twoInputSpec[A, B any, K comparable, Out any] struct {
	newOp func() engine.KeyedTwoInputOperator[A, B, K, Out]
	errs  []error
}

func intervalJoinOp[A, B any, K comparable, Out any](keyOfA func(A) K, keyOfB func(B) K, name string,
	opts IntervalJoinOptions[A, B], fn ProcessJoinFunction[A, B, Out]) twoInputSpec[A, B, K, Out] {
	var s twoInputSpec[A, B, K, Out]
	lower, err := millis("interval join lower bound", opts.Lower)
	if err != nil {
		s.errs = append(s.errs, err)
	}
	upper, err := millis("interval join upper bound", opts.Upper)
	if err != nil {
		s.errs = append(s.errs, err)
	}
	if opts.LowerExclusive {
		lower++
	}
	if opts.UpperExclusive {
		upper--
	}
	if lower > upper {
		s.errs = append(s.errs, fmt.Errorf("operators: interval join bounds [%v, %v] (exclusive: %v, %v) are empty", opts.Lower, opts.Upper, opts.LowerExclusive, opts.UpperExclusive))
	}
	ca, err := codecOf(opts.LeftCodec, fmt.Sprintf("left records of type %T", *new(A)), "set IntervalJoinOptions.LeftCodec")
	if err != nil {
		s.errs = append(s.errs, err)
	}
	cb, err := codecOf(opts.RightCodec, fmt.Sprintf("right records of type %T", *new(B)), "set IntervalJoinOptions.RightCodec")
	if err != nil {
		s.errs = append(s.errs, err)
	}
	if fn == nil {
		s.errs = append(s.errs, errors.New("operators: nil join function"))
	}
	s.newOp = func() engine.KeyedTwoInputOperator[A, B, K, Out] {
		return &intervalJoin[A, B, K, Out]{lower: lower, upper: upper, ca: ca, cb: cb, keyOfA: keyOfA, keyOfB: keyOfB,
			fn: perInstance(fn), watermarkState: newWatermarkState()}
	}
	return s
}

// listCodec encodes a list of values: uvarint(n), then uvarint(len) value
// n times.
type listCodec[T any] struct{ c state.Codec[T] }

func (lc listCodec[T]) Append(dst []byte, vs []T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	var tmp []byte
	for _, v := range vs {
		tmp = lc.c.Append(tmp[:0], v)
		dst = binary.AppendUvarint(dst, uint64(len(tmp)))
		dst = append(dst, tmp...)
	}
	return dst
}

func (lc listCodec[T]) Decode(src []byte) ([]T, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return nil, fmt.Errorf("operators: list header: %w", state.ErrCorrupt)
	}
	src = src[k:]
	vs := make([]T, 0, n)
	for i := uint64(0); i < n; i++ {
		b, rest, ok := cutSized(src)
		if !ok {
			return nil, fmt.Errorf("operators: list element %d: %w", i, state.ErrCorrupt)
		}
		v, err := lc.c.Decode(b)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		src = rest
	}
	return vs, nil
}

const (
	nsLeft  = 'L'
	nsRight = 'R'
)

type intervalJoin[A, B any, K comparable, Out any] struct {
	lower, upper int64
	ca           state.Codec[A]
	cb           state.Codec[B]
	keyOfA       func(A) K
	keyOfB       func(B) K
	fn           ProcessJoinFunction[A, B, Out]
	watermarkState

	keys       *engine.Keys[K]
	left       *state.MapState[int64, []A]
	right      *state.MapState[int64, []B]
	jctx       JoinContext[Out]
	late, errs *engine.Counter
	lateA      *engine.Collector[A]
	lateB      *engine.Collector[B]
	errA       *engine.Collector[A]
	errB       *engine.Collector[B]
	matchA     []engine.Record[A]
	matchB     []engine.Record[B]
}

func (j *intervalJoin[A, B, K, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	j.keys = keys
	j.watermarkState.open(ctx.MaxParallelism(), ctx.CurrentWatermark)
	ts := state.MustCodecFor[int64]()
	var err error
	if j.left, err = state.NewMapState(keys.Backend(), "join-left", ts, state.Codec[[]A](listCodec[A]{j.ca})); err != nil {
		return err
	}
	if j.right, err = state.NewMapState(keys.Backend(), "join-right", ts, state.Codec[[]B](listCodec[B]{j.cb})); err != nil {
		return err
	}
	j.jctx.op = ctx
	j.late, j.errs = ctx.Counter(CounterLate), ctx.Counter(CounterErrors)
	j.lateA, j.lateB = engine.SideCollector(ctx, LateLeftTag[A]()), engine.SideCollector(ctx, LateRightTag[B]())
	j.errA, j.errB = engine.SideCollector(ctx, ErrorLeftTag[A]()), engine.SideCollector(ctx, ErrorRightTag[B]())
	return nil
}

func (j *intervalJoin[A, B, K, Out]) Close() error { return nil }

// isLate reports whether a record at ts is behind the watermark: the
// other side's records it should meet may be gone.
func isLate(ts, wm int64) bool { return wm != engine.MinTime && ts < wm }

func (j *intervalJoin[A, B, K, Out]) ProcessBatch1(batch []engine.Record[A]) error {
	wm := j.effective()
	for i := range batch {
		a, ts := batch[i].Value, batch[i].Time
		switch {
		case ts == engine.NoTimestamp:
			j.errs.Inc()
			j.errA.Collect(a, ts)
			continue
		case isLate(ts, wm):
			j.late.Inc()
			j.lateA.Collect(a, ts)
			continue
		}
		j.keys.SetCurrentKey(j.keyOfA(a))
		if err := addTo(j.left, ts, a); err != nil {
			return err
		}
		// Right records at [ts+lower, ts+upper].
		j.matchB = j.matchB[:0]
		lo, hi := addSat(ts, j.lower), addSat(ts, j.upper)
		if err := j.right.Range(func(bts int64, bs []B) bool {
			if bts > hi {
				return false
			}
			if bts >= lo {
				for _, b := range bs {
					j.matchB = append(j.matchB, engine.Record[B]{Value: b, Time: bts})
				}
			}
			return true
		}); err != nil {
			return err
		}
		for _, m := range j.matchB {
			if err := j.emit(a, m.Value, ts, m.Time); err != nil {
				return err
			}
		}
		cleanup := ts
		if j.upper > 0 {
			cleanup = addSat(ts, j.upper)
		}
		if err := j.keys.RegisterEventTimer(cleanup, []byte{nsLeft}); err != nil {
			return err
		}
	}
	return nil
}

func (j *intervalJoin[A, B, K, Out]) ProcessBatch2(batch []engine.Record[B]) error {
	wm := j.effective()
	for i := range batch {
		b, ts := batch[i].Value, batch[i].Time
		switch {
		case ts == engine.NoTimestamp:
			j.errs.Inc()
			j.errB.Collect(b, ts)
			continue
		case isLate(ts, wm):
			j.late.Inc()
			j.lateB.Collect(b, ts)
			continue
		}
		j.keys.SetCurrentKey(j.keyOfB(b))
		if err := addTo(j.right, ts, b); err != nil {
			return err
		}
		// Left records at [ts-upper, ts-lower].
		j.matchA = j.matchA[:0]
		lo, hi := ts-j.upper, ts-j.lower
		if err := j.left.Range(func(ats int64, as []A) bool {
			if ats > hi {
				return false
			}
			if ats >= lo {
				for _, a := range as {
					j.matchA = append(j.matchA, engine.Record[A]{Value: a, Time: ats})
				}
			}
			return true
		}); err != nil {
			return err
		}
		for _, m := range j.matchA {
			if err := j.emit(m.Value, b, m.Time, ts); err != nil {
				return err
			}
		}
		cleanup := ts
		if j.lower < 0 {
			cleanup = addSat(ts, -j.lower)
		}
		if err := j.keys.RegisterEventTimer(cleanup, []byte{nsRight}); err != nil {
			return err
		}
	}
	return nil
}

func (j *intervalJoin[A, B, K, Out]) emit(a A, b B, ats, bts int64) error {
	j.jctx.left, j.jctx.right, j.jctx.ts = ats, bts, max(ats, bts)
	return j.fn.ProcessElement(a, b, &j.jctx)
}

// addTo appends v to the list at ts in m.
func addTo[V any](m *state.MapState[int64, []V], ts int64, v V) error {
	vs, _, err := m.Get(ts)
	if err != nil {
		return err
	}
	return m.Put(ts, append(vs, v))
}

func (j *intervalJoin[A, B, K, Out]) OnTimer(t engine.TimerFiring) error {
	if len(t.Namespace) != 1 {
		return fmt.Errorf("operators: interval join timer namespace %x", t.Namespace)
	}
	switch t.Namespace[0] {
	case nsLeft:
		ts := t.Time
		if j.upper > 0 {
			ts -= j.upper
		}
		return j.left.Remove(ts)
	case nsRight:
		ts := t.Time
		if j.lower < 0 {
			ts += j.lower
		}
		return j.right.Remove(ts)
	}
	return fmt.Errorf("operators: interval join timer namespace %x", t.Namespace)
}

// Either is the record of a window join's two inputs in one window: the
// left record (IsRight false) or the right one. Late and bad records of a
// window join go to LateDataTag[Either[A, B]]() and ErrorTag[Either[A,
// B]]().
type Either[A, B any] struct {
	Left    A
	Right   B
	IsRight bool
}

type eitherCodec[A, B any] struct {
	a state.Codec[A]
	b state.Codec[B]
}

func (c eitherCodec[A, B]) Append(dst []byte, e Either[A, B]) []byte {
	if e.IsRight {
		return c.b.Append(append(dst, 1), e.Right)
	}
	return c.a.Append(append(dst, 0), e.Left)
}

func (c eitherCodec[A, B]) Decode(src []byte) (Either[A, B], error) {
	var e Either[A, B]
	if len(src) == 0 || src[0] > 1 {
		return e, fmt.Errorf("operators: join record: %w", state.ErrCorrupt)
	}
	var err error
	if e.IsRight = src[0] == 1; e.IsRight {
		e.Right, err = c.b.Decode(src[1:])
	} else {
		e.Left, err = c.a.Decode(src[1:])
	}
	return e, err
}

// joinAcc is a window join's contents: both sides' records.
type joinAcc[A, B any] struct {
	L []engine.Record[A]
	R []engine.Record[B]
}

type joinAccCodec[A, B any] struct {
	a recordsCodec[A]
	b recordsCodec[B]
}

func (c joinAccCodec[A, B]) Append(dst []byte, acc joinAcc[A, B]) []byte {
	l := c.a.Append(nil, acc.L)
	dst = binary.AppendUvarint(dst, uint64(len(l)))
	dst = append(dst, l...)
	return c.b.Append(dst, acc.R)
}

func (c joinAccCodec[A, B]) Decode(src []byte) (joinAcc[A, B], error) {
	var acc joinAcc[A, B]
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)-k) {
		return acc, fmt.Errorf("operators: join window contents: %w", state.ErrCorrupt)
	}
	var err error
	if acc.L, err = c.a.Decode(src[k : k+int(n)]); err != nil {
		return acc, err
	}
	acc.R, err = c.b.Decode(src[k+int(n):])
	return acc, err
}

// WindowJoinOptions configure WindowJoin.
type WindowJoinOptions[A, B any] struct {
	// AllowedLateness keeps event-time windows open after they fired (see
	// WindowedStream.AllowedLateness); a late record re-fires its window
	// with every pair. Default 0.
	AllowedLateness time.Duration
	// LeftCodec and RightCodec encode the records kept in windows; nil
	// means the built-in codec of the type.
	LeftCodec  state.Codec[A]
	RightCodec state.Codec[B]
}

// WindowJoin joins two streams keyed alike within windows (Flink's
// a.join(b).where(..).equalTo(..).window(..).apply(fn)): when a window
// fires, fn sees every pair of a left and a right record of the key in it
// (an inner join), with results at the window's time
// (WindowContext.WindowTime). Any assigner works; on tumbling, sliding and
// cumulating windows the records are kept once per slice, not per window.
func WindowJoin[A, B any, K comparable, Out any](a *engine.KeyedStream[A, K], b *engine.KeyedStream[B, K], name string,
	assigner Assigner, opts WindowJoinOptions[A, B], fn ProcessJoinFunction[A, B, Out]) *engine.Stream[Out] {
	s := windowJoinOp(a.KeyOf(), b.KeyOf(), name, assigner, opts, fn)
	out := engine.TransformKeyed2(a, b, name, s.newOp)
	if err := errors.Join(s.errs...); err != nil {
		out.Job().ReportError(name, err)
	}
	return out
}

func windowJoinOp[A, B any, K comparable, Out any](keyOfA func(A) K, keyOfB func(B) K, name string,
	assigner Assigner, opts WindowJoinOptions[A, B], fn ProcessJoinFunction[A, B, Out]) twoInputSpec[A, B, K, Out] {
	keyOf := func(e Either[A, B]) K {
		if e.IsRight {
			return keyOfB(e.Right)
		}
		return keyOfA(e.Left)
	}
	w := windowOf[Either[A, B]](keyOf, nil, name, assigner).AllowedLateness(opts.AllowedLateness)
	b := w.build()
	ca, err := codecOf(opts.LeftCodec, fmt.Sprintf("left records of type %T", *new(A)), "set WindowJoinOptions.LeftCodec")
	if err != nil {
		b.errs = append(b.errs, err)
	}
	cb, err := codecOf(opts.RightCodec, fmt.Sprintf("right records of type %T", *new(B)), "set WindowJoinOptions.RightCodec")
	if err != nil {
		b.errs = append(b.errs, err)
	}
	if fn == nil {
		b.errs = append(b.errs, errors.New("operators: nil join function"))
	}
	codec := joinAccCodec[A, B]{recordsCodec[A]{ca}, recordsCodec[B]{cb}}
	add := func(e Either[A, B], ts int64, acc joinAcc[A, B], _ bool) joinAcc[A, B] {
		if e.IsRight {
			acc.R = append(acc.R, engine.Record[B]{Value: e.Right, Time: ts})
		} else {
			acc.L = append(acc.L, engine.Record[A]{Value: e.Left, Time: ts})
		}
		return acc
	}
	merge := func(x joinAcc[A, B], _ bool, y joinAcc[A, B]) joinAcc[A, B] {
		x.L = append(x.L, y.L...)
		x.R = append(x.R, y.R...)
		return x
	}
	spec := newOpSpec(b, func() windowFn[Either[A, B], K, joinAcc[A, B], Out] {
		pf := perInstance(fn)
		jctx := &JoinContext[Out]{}
		return timedFn(add, merge, codec, func(_ K, acc joinAcc[A, B], wc *WindowContext[Out]) error {
			jctx.op, jctx.ts = wc.op, wc.WindowTime()
			for _, l := range acc.L {
				for _, r := range acc.R {
					jctx.left, jctx.right = l.Time, r.Time
					if err := pf.ProcessElement(l.Value, r.Value, jctx); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	return twoInputSpec[A, B, K, Out]{errs: spec.errs, newOp: func() engine.KeyedTwoInputOperator[A, B, K, Out] {
		return &eitherOp[A, B, K, Out]{inner: spec.newOp()}
	}}
}

// eitherOp runs a one-input keyed operator over Either records on two
// inputs.
type eitherOp[A, B any, K comparable, Out any] struct {
	inner engine.KeyedOperator[Either[A, B], K, Out]
	buf   []engine.Record[Either[A, B]]
}

func (o *eitherOp[A, B, K, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	return o.inner.Open(ctx, keys)
}

func (o *eitherOp[A, B, K, Out]) ProcessBatch1(b []engine.Record[A]) error {
	o.buf = o.buf[:0]
	for i := range b {
		o.buf = append(o.buf, engine.Record[Either[A, B]]{Value: Either[A, B]{Left: b[i].Value}, Time: b[i].Time})
	}
	err := o.inner.ProcessBatch(o.buf)
	clear(o.buf)
	return err
}

func (o *eitherOp[A, B, K, Out]) ProcessBatch2(b []engine.Record[B]) error {
	o.buf = o.buf[:0]
	for i := range b {
		o.buf = append(o.buf, engine.Record[Either[A, B]]{Value: Either[A, B]{Right: b[i].Value, IsRight: true}, Time: b[i].Time})
	}
	err := o.inner.ProcessBatch(o.buf)
	clear(o.buf)
	return err
}

func (o *eitherOp[A, B, K, Out]) OnTimer(t engine.TimerFiring) error { return o.inner.OnTimer(t) }
func (o *eitherOp[A, B, K, Out]) Close() error                       { return o.inner.Close() }

// InitializeState and SnapshotState pass the inner operator's operator
// state through.
func (o *eitherOp[A, B, K, Out]) InitializeState(restored [][]byte) error {
	return o.inner.(engine.OperatorStateHook).InitializeState(restored)
}

func (o *eitherOp[A, B, K, Out]) SnapshotState(id int64) ([][]byte, error) {
	return o.inner.(engine.OperatorStateHook).SnapshotState(id)
}

func (e Either[A, B]) String() string {
	if e.IsRight {
		return fmt.Sprintf("right %v", e.Right)
	}
	return fmt.Sprintf("left %v", e.Left)
}
