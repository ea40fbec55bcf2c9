package operators

import (
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// windowConfig is what both window operators are built from.
type windowConfig[T any, K comparable] struct {
	spec     assignSpec
	trigger  Trigger[T]
	evictor  Evictor[T]
	lateness int64
	lateTag  engine.OutputTag[T]
	errTag   engine.OutputTag[T]
	keyOf    func(T) K
	gapOf    func(T) time.Duration // dynamic sessions
}

// windowOp is the general window operator, as Flink's WindowOperator: one
// state entry (an accumulator or the records) per key and window, a
// trigger, timers per window, merging for sessions. Tumbling, sliding and
// cumulating windows with the default trigger use sliceOp instead.
//
// State, per key: "window-contents" (namespace: the state window) and, for
// merging assigners, "window-merging" (the key's windows and their state
// windows), plus the trigger's own states (namespace: the window). Timers:
// the trigger's and the cleanup timer (at the window's time — its max
// timestamp, or End for event-time sessions — plus the allowed lateness),
// namespaced by the window.
type windowOp[T any, K comparable, Acc, Out any] struct {
	cfg windowConfig[T, K]
	fn  windowFn[T, K, Acc, Out]
	watermarkState

	ctx      *engine.OperatorContext[Out]
	keys     *engine.Keys[K]
	trigger  Trigger[T]
	contents *state.ValueState[Acc]
	merging  *state.ValueState[[]mergedWindow]
	tctx     TriggerContext
	windowOutputs[T, Out]
	windows []TimeWindow
	ns      []byte
	merged  []TimeWindow
}

func newWindowOp[T any, K comparable, Acc, Out any](cfg windowConfig[T, K], fn windowFn[T, K, Acc, Out]) *windowOp[T, K, Acc, Out] {
	return &windowOp[T, K, Acc, Out]{cfg: cfg, fn: fn, watermarkState: newWatermarkState()}
}

func (o *windowOp[T, K, Acc, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	o.ctx, o.keys = ctx, keys
	o.watermarkState.open(ctx.MaxParallelism(), ctx.CurrentWatermark)
	b := keys.Backend()
	var err error
	if o.contents, err = state.NewValueState(b, "window-contents", o.fn.codec); err != nil {
		return err
	}
	if o.cfg.spec.isMerging() {
		if o.merging, err = state.NewValueState(b, "window-merging", state.Codec[[]mergedWindow](mergedWindowsCodec{})); err != nil {
			return err
		}
	}
	o.trigger = instanceOf(o.cfg.trigger)
	o.tctx = TriggerContext{timers: keys, now: ctx.ProcessingTime, spec: &o.cfg.spec}
	if st, ok := o.trigger.(StatefulTrigger); ok {
		if err := st.Open(&TriggerInit{backend: b, ctx: &o.tctx}); err != nil {
			return err
		}
	}
	o.windowOutputs.open(ctx, &o.cfg.spec, o.cfg.lateTag, o.cfg.errTag)
	return nil
}

func (o *windowOp[T, K, Acc, Out]) Close() error { return nil }

func (s *assignSpec) isMerging() bool { return s.kind == kindSession || s.kind == kindDynamicSession }
func (s *assignSpec) isEventTime() bool {
	return !s.procTime && s.kind != kindGlobal
}

// cleanupTime is when a window's state is dropped: its window time (max
// timestamp, or End for event-time sessions) plus the allowed lateness in
// event time, its max timestamp in processing time; engine.MaxTime means
// never.
func (o *windowOp[T, K, Acc, Out]) cleanupTime(w TimeWindow) int64 {
	if o.cfg.spec.isEventTime() {
		return addSat(o.cfg.spec.windowTime(w), o.cfg.lateness)
	}
	return w.MaxTimestamp()
}

func (o *windowOp[T, K, Acc, Out]) isWindowLate(w TimeWindow, wm int64) bool {
	return o.cfg.spec.isEventTime() && o.cleanupTime(w) <= wm
}

func (o *windowOp[T, K, Acc, Out]) registerCleanup(w TimeWindow) error {
	t := o.cleanupTime(w)
	if t == engine.MaxTime {
		return nil
	}
	o.ns = appendWindow(o.ns[:0], w)
	if o.cfg.spec.isEventTime() {
		return o.keys.RegisterEventTimer(t, o.ns)
	}
	return o.keys.RegisterProcessingTimer(t, o.ns)
}

func (o *windowOp[T, K, Acc, Out]) deleteCleanup(w TimeWindow) error {
	t := o.cleanupTime(w)
	if t == engine.MaxTime {
		return nil
	}
	o.ns = appendWindow(o.ns[:0], w)
	if o.cfg.spec.isEventTime() {
		return o.keys.DeleteEventTimer(t, o.ns)
	}
	return o.keys.DeleteProcessingTimer(t, o.ns)
}

// useState points the contents at state window w.
func (o *windowOp[T, K, Acc, Out]) useState(w TimeWindow) {
	o.ns = appendWindow(o.ns[:0], w)
	o.contents.SetNamespace(o.ns)
}

func (o *windowOp[T, K, Acc, Out]) ProcessBatch(b []engine.Record[T]) error {
	wm := o.effective()
	now := engine.MinTime
	if o.cfg.spec.procTime {
		now = o.ctx.ProcessingTime()
	}
	for i := range b {
		if err := o.processElement(b[i].Value, b[i].Time, wm, now); err != nil {
			return err
		}
	}
	return nil
}

// sessionGap returns the gap (ms) of v's session, or false if it is not
// positive.
func sessionGap[T any](spec *assignSpec, gapOf func(T) time.Duration, v T) (int64, bool) {
	switch spec.kind {
	case kindSession:
		return spec.size, true
	case kindDynamicSession:
		g := gapOf(v).Milliseconds()
		return g, g > 0
	}
	return 0, true
}

func (o *windowOp[T, K, Acc, Out]) processElement(v T, ts, wm, now int64) error {
	spec := &o.cfg.spec
	if spec.procTime {
		ts = now
	}
	gap, ok := sessionGap(spec, o.cfg.gapOf, v)
	if !ok || !spec.inRange(ts, gap) {
		o.errs.Inc()
		o.errOut.Collect(v, ts)
		return nil
	}
	o.keys.SetCurrentKey(o.cfg.keyOf(v))
	o.windows = spec.assign(ts, gap, o.windows[:0])
	if spec.isMerging() {
		return o.processMerging(v, ts, wm)
	}
	skipped := true
	for _, w := range o.windows {
		if o.isWindowLate(w, wm) {
			continue
		}
		skipped = false
		o.useState(w)
		acc, present, err := o.contents.Value()
		if err != nil {
			return err
		}
		acc = o.fn.add(v, ts, acc, present)
		if err := o.contents.Update(acc); err != nil {
			return err
		}
		if err := o.onElement(v, ts, w, acc, wm, !present); err != nil {
			return err
		}
		if !present {
			if err := o.registerCleanup(w); err != nil {
				return err
			}
		}
	}
	if skipped {
		o.late.Inc()
		o.lateOut.Collect(v, ts)
	}
	return nil
}

// onElement asks the trigger about window w (whose state is current and
// holds acc) and fires or purges.
func (o *windowOp[T, K, Acc, Out]) onElement(v T, ts int64, w TimeWindow, acc Acc, wm int64, fresh bool) error {
	o.tctx.set(w, wm)
	o.tctx.fresh = fresh
	res, err := o.trigger.OnElement(v, ts, w, &o.tctx)
	o.tctx.fresh = false
	if err != nil {
		return err
	}
	if res.IsFire() {
		if err := o.emit(w, acc, wm); err != nil {
			return err
		}
	}
	if res.IsPurge() {
		return o.contents.Clear()
	}
	return nil
}

// emit runs the window function on w's contents acc (the current state).
func (o *windowOp[T, K, Acc, Out]) emit(w TimeWindow, acc Acc, wm int64) error {
	o.wctx.window, o.wctx.wm = w, wm
	kept, changed, err := o.fn.emit(o.keys.CurrentKey(), acc, &o.wctx)
	if err != nil || !changed {
		return err
	}
	if o.fn.records && len(any(kept).([]engine.Record[T])) == 0 {
		return o.contents.Clear()
	}
	return o.contents.Update(kept)
}

// processMerging adds v to its session, merging the sessions its window
// touches (as Flink's MergingWindowSet).
func (o *windowOp[T, K, Acc, Out]) processMerging(v T, ts, wm int64) error {
	nw := o.windows[0]
	set, _, err := o.merging.Value()
	if err != nil {
		return err
	}
	result := nw
	var hit []int
	for i, e := range set {
		if e.Window.Intersects(nw) {
			result = result.Cover(e.Window)
			hit = append(hit, i)
		}
	}
	stateW := nw
	fresh := true // the window is new or changed
	if len(hit) > 0 {
		stateW = set[hit[0]].State
		fresh = len(hit) > 1 || set[hit[0]].Window != result
		if fresh {
			if o.isWindowLate(result, wm) {
				return fmt.Errorf("operators: merging windows into %v made it late at watermark %d", result, wm)
			}
			o.merged = o.merged[:0]
			for _, i := range hit {
				o.merged = append(o.merged, set[i].Window)
			}
			if err := o.mergeWindows(result, stateW, set, hit, wm); err != nil {
				return err
			}
		}
		set = slices.Clone(set)
		for k := len(hit) - 1; k >= 0; k-- {
			set = slices.Delete(set, hit[k], hit[k]+1)
		}
	}
	if o.isWindowLate(result, wm) {
		// Only a window that merged with nothing can be late here (live
		// windows are never late: their cleanup timers removed them), so
		// the set is unchanged.
		o.late.Inc()
		o.lateOut.Collect(v, ts)
		return nil
	}
	at, _ := slices.BinarySearchFunc(set, result, func(e mergedWindow, w TimeWindow) int {
		return compareWindows(e.Window, w)
	})
	set = slices.Insert(slices.Clone(set), at, mergedWindow{Window: result, State: stateW})
	if err := o.saveSet(set); err != nil {
		return err
	}
	o.useState(stateW)
	acc, present, err := o.contents.Value()
	if err != nil {
		return err
	}
	acc = o.fn.add(v, ts, acc, present)
	if err := o.contents.Update(acc); err != nil {
		return err
	}
	if err := o.onElement(v, ts, result, acc, wm, fresh || !present); err != nil {
		return err
	}
	if !fresh && present {
		return nil // its cleanup timer is set
	}
	return o.registerCleanup(result)
}

func compareWindows(a, b TimeWindow) int {
	switch {
	case a.Start != b.Start:
		if a.Start < b.Start {
			return -1
		}
		return 1
	case a.End != b.End:
		if a.End < b.End {
			return -1
		}
		return 1
	}
	return 0
}

func (o *windowOp[T, K, Acc, Out]) saveSet(set []mergedWindow) error {
	if len(set) == 0 {
		return o.merging.Clear()
	}
	return o.merging.Update(set)
}

// mergeWindows merges the windows set[hit] into result: the trigger
// merges its state and timers, the merged windows' timers go, and their
// contents are folded into the state window stateW (that of set[hit[0]]).
func (o *windowOp[T, K, Acc, Out]) mergeWindows(result, stateW TimeWindow, set []mergedWindow, hit []int, wm int64) error {
	o.tctx.set(result, wm)
	if err := o.trigger.(MergingTrigger).OnMerge(result, o.merged, &o.tctx); err != nil {
		return err
	}
	for _, m := range o.merged {
		o.tctx.set(m, wm)
		if err := o.trigger.Clear(m, &o.tctx); err != nil {
			return err
		}
		if err := o.deleteCleanup(m); err != nil {
			return err
		}
	}
	if len(hit) == 1 {
		return nil
	}
	o.useState(stateW)
	acc, present, err := o.contents.Value()
	if err != nil {
		return err
	}
	for _, i := range hit[1:] {
		o.useState(set[i].State)
		b, ok, err := o.contents.Value()
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		acc, present = o.fn.merge(acc, present, b), true
		if err := o.contents.Clear(); err != nil {
			return err
		}
	}
	if !present {
		return nil
	}
	o.useState(stateW)
	return o.contents.Update(acc)
}

func (o *windowOp[T, K, Acc, Out]) OnTimer(t engine.TimerFiring) error {
	w, err := decodeWindow(t.Namespace)
	if err != nil {
		return err
	}
	wm := o.effective()
	stateW := w
	var set []mergedWindow
	at := -1
	if o.merging != nil {
		if set, _, err = o.merging.Value(); err != nil {
			return err
		}
		for i, e := range set {
			if e.Window == w {
				at = i
				break
			}
		}
		if at < 0 {
			return nil // a timer of a window that merged away
		}
		stateW = set[at].State
	}
	o.useState(stateW)
	o.tctx.set(w, wm)
	var res TriggerResult
	if t.Domain == engine.EventTime {
		res, err = o.trigger.OnEventTime(t.Time, w, &o.tctx)
	} else {
		res, err = o.trigger.OnProcessingTime(t.Time, w, &o.tctx)
	}
	if err != nil {
		return err
	}
	if res.IsFire() {
		acc, present, err := o.contents.Value()
		if err != nil {
			return err
		}
		if present {
			if err := o.emit(w, acc, wm); err != nil {
				return err
			}
		}
	}
	if res.IsPurge() {
		if err := o.contents.Clear(); err != nil {
			return err
		}
	}
	cleanup := o.cleanupTime(w) == t.Time &&
		(t.Domain == engine.EventTime) == o.cfg.spec.isEventTime()
	if !cleanup {
		return nil
	}
	if err := o.contents.Clear(); err != nil {
		return err
	}
	o.tctx.set(w, wm)
	if err := o.trigger.Clear(w, &o.tctx); err != nil {
		return err
	}
	if at >= 0 {
		return o.saveSet(slices.Delete(slices.Clone(set), at, at+1))
	}
	return nil
}
