package operators

import (
	"fmt"
	"reflect"
	"time"

	"github.com/sluicehq/sluice/state"
)

// TriggerResult is what a trigger decides for a window, as Flink's: fire
// (emit the window's result), purge (drop its contents), both, or neither.
type TriggerResult uint8

const (
	Continue     TriggerResult = 0
	Fire         TriggerResult = 1
	Purge        TriggerResult = 2
	FireAndPurge TriggerResult = Fire | Purge
)

// IsFire reports whether r fires the window.
func (r TriggerResult) IsFire() bool { return r&Fire != 0 }

// IsPurge reports whether r drops the window's contents.
func (r TriggerResult) IsPurge() bool { return r&Purge != 0 }

func (r TriggerResult) String() string {
	return [...]string{"continue", "fire", "purge", "fire-and-purge"}[r&3]
}

// Trigger decides when a window fires, as Flink's Trigger. The window
// operator calls it for every record added to a window and for every
// timer the trigger registered (through ctx) for that window; timers live
// in keyed state, so they survive restores. A trigger that keeps state per
// window implements StatefulTrigger and registers it in Open.
//
// A trigger value is shared by the job's parallel instances: each gets a
// shallow copy when it is a pointer to a struct (so fields set in Open are
// per instance), and the built-in triggers copy what they wrap.
//
// Leaving a window's trigger unset selects the default: EventTimeTrigger
// for event-time windows, ProcessingTimeTrigger for processing-time ones,
// NeverTrigger for the global window. Tumbling, sliding and cumulating
// windows with the default trigger and no evictor run on shared slices,
// and sessions with the default trigger on one state entry per key (see
// the package doc); any explicit trigger keeps one state entry per window.
type Trigger[T any] interface {
	// OnElement is called for every record added to window w.
	OnElement(v T, ts int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error)
	// OnEventTime is called when an event-time timer the trigger set for w
	// fires.
	OnEventTime(time int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error)
	// OnProcessingTime is called when a processing-time timer the trigger
	// set for w fires.
	OnProcessingTime(time int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error)
	// Clear removes the trigger's timers and state of w, when the window is
	// dropped.
	Clear(w TimeWindow, ctx *TriggerContext) error
}

// MergingTrigger is implemented by triggers that work on merging (session)
// windows: OnMerge is called when windows merged into w, with ctx set to
// w; the merged windows are cleared (Clear) afterwards.
type MergingTrigger interface {
	OnMerge(w TimeWindow, merged []TimeWindow, ctx *TriggerContext) error
}

// StatefulTrigger is implemented by triggers that keep state per window:
// Open registers it (see TriggerValueState) before the first record.
type StatefulTrigger interface {
	Open(ti *TriggerInit) error
}

// namespaced is any state handle: the window operator points the states
// of triggers at the window in hand.
type namespaced interface{ SetNamespace(ns []byte) }

// timerService is the keyed timer service of the operator (engine.Keys).
type timerService interface {
	RegisterEventTimer(ts int64, ns []byte) error
	DeleteEventTimer(ts int64, ns []byte) error
	RegisterProcessingTimer(ts int64, ns []byte) error
	DeleteProcessingTimer(ts int64, ns []byte) error
}

// TriggerContext is a trigger's view of the window operator during one
// call: the current key's window, time, timers and per-window state. It
// is valid during the call only.
type TriggerContext struct {
	timers timerService
	window TimeWindow
	ns     []byte
	wm     int64
	now    func() int64
	states []namespaced
	spec   *assignSpec
	// fresh is set during OnElement when the window got its first record
	// (or changed by merging): the built-in triggers set their end-of-window
	// timer only then, instead of again for every record.
	fresh bool
}

// Window returns the window the call is about.
func (c *TriggerContext) Window() TimeWindow { return c.window }

// CurrentWatermark returns the operator's watermark.
func (c *TriggerContext) CurrentWatermark() int64 { return c.wm }

// WindowTime returns the time of window w: when the built-in event-time
// triggers fire it (once the watermark reaches it), from when its allowed
// lateness counts, and the event time of its results. It is w's max
// timestamp, End-1, as in Flink, except for event-time sessions: those
// fire when the watermark reaches End, because a record at End touches
// the session and extends it, and is on time until then (see the package
// doc). A trigger that fires at the end of a window should use WindowTime
// rather than w.MaxTimestamp().
func (c *TriggerContext) WindowTime(w TimeWindow) int64 { return c.spec.windowTime(w) }

// ProcessingTime returns the current processing time in milliseconds.
func (c *TriggerContext) ProcessingTime() int64 { return c.now() }

// RegisterEventTimeTimer sets an event-time timer at t for the current key
// and window.
func (c *TriggerContext) RegisterEventTimeTimer(t int64) error {
	return c.timers.RegisterEventTimer(t, c.ns)
}

// DeleteEventTimeTimer removes the current window's event-time timer at t.
func (c *TriggerContext) DeleteEventTimeTimer(t int64) error {
	return c.timers.DeleteEventTimer(t, c.ns)
}

// RegisterProcessingTimeTimer sets a processing-time timer at t (ms).
func (c *TriggerContext) RegisterProcessingTimeTimer(t int64) error {
	return c.timers.RegisterProcessingTimer(t, c.ns)
}

// DeleteProcessingTimeTimer removes the current window's processing-time
// timer at t.
func (c *TriggerContext) DeleteProcessingTimeTimer(t int64) error {
	return c.timers.DeleteProcessingTimer(t, c.ns)
}

// UseWindow points the trigger's states (and timers) at window w; OnMerge
// uses it to read and clear the state of the merged windows. The operator
// points them back at the call's window afterwards.
func (c *TriggerContext) UseWindow(w TimeWindow) {
	c.ns = appendWindow(c.ns[:0], w)
	for _, s := range c.states {
		s.SetNamespace(c.ns)
	}
}

// set points the context, and the trigger's states, at window w.
func (c *TriggerContext) set(w TimeWindow, wm int64) {
	c.window, c.wm = w, wm
	c.UseWindow(w)
}

// TriggerInit is given to StatefulTrigger.Open to register per-window
// state.
type TriggerInit struct {
	backend *state.Backend
	ctx     *TriggerContext
}

// TriggerValueState registers a per-window value state of a trigger. The
// name is scoped to triggers; codec nil means V's built-in codec.
func TriggerValueState[V any](ti *TriggerInit, name string, codec state.Codec[V]) (*state.ValueState[V], error) {
	c, err := codecOf(codec, "trigger state "+name, "pass a codec")
	if err != nil {
		return nil, err
	}
	s, err := state.NewValueState(ti.backend, "trigger/"+name, c)
	if err != nil {
		return nil, err
	}
	ti.ctx.states = append(ti.ctx.states, s)
	return s, nil
}

// cloner is implemented by the built-in triggers that wrap or hold
// per-instance state.
type cloner[T any] interface{ clone() Trigger[T] }

// instanceOf returns the copy of a trigger one parallel instance uses.
func instanceOf[T any](t Trigger[T]) Trigger[T] {
	if c, ok := t.(cloner[T]); ok {
		return c.clone()
	}
	return perInstance(t)
}

// perInstance returns a shallow copy of f when it is a pointer to a struct,
// else f: as engine.Process does for user functions, so that fields set in
// Open belong to one parallel instance.
func perInstance[F any](f F) F {
	v := reflect.ValueOf(f)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return f
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface().(F)
}

// EventTimeTrigger fires a window once the watermark reaches its window
// time (TriggerContext.WindowTime: its max timestamp, or End for
// sessions), and again for every record that arrives within the allowed
// lateness after that (Flink's EventTimeTrigger).
func EventTimeTrigger[T any]() Trigger[T] { return eventTimeTrigger[T]{} }

type eventTimeTrigger[T any] struct{}

func (eventTimeTrigger[T]) OnElement(_ T, _ int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	if ctx.WindowTime(w) <= ctx.wm {
		return Fire, nil
	}
	if !ctx.fresh {
		return Continue, nil // set with the window's first record
	}
	return Continue, ctx.RegisterEventTimeTimer(ctx.WindowTime(w))
}

func (eventTimeTrigger[T]) OnEventTime(t int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	if t == ctx.WindowTime(w) {
		return Fire, nil
	}
	return Continue, nil
}

func (eventTimeTrigger[T]) OnProcessingTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}

func (eventTimeTrigger[T]) Clear(w TimeWindow, ctx *TriggerContext) error {
	return ctx.DeleteEventTimeTimer(ctx.WindowTime(w))
}

func (eventTimeTrigger[T]) OnMerge(w TimeWindow, _ []TimeWindow, ctx *TriggerContext) error {
	if ctx.WindowTime(w) > ctx.wm {
		return ctx.RegisterEventTimeTimer(ctx.WindowTime(w))
	}
	return nil
}

func (eventTimeTrigger[T]) String() string { return "event-time" }

// ProcessingTimeTrigger fires a window when the processing time passes its
// end.
func ProcessingTimeTrigger[T any]() Trigger[T] { return processingTimeTrigger[T]{} }

type processingTimeTrigger[T any] struct{}

func (processingTimeTrigger[T]) OnElement(_ T, _ int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	if !ctx.fresh {
		return Continue, nil // set with the window's first record
	}
	return Continue, ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
}

func (processingTimeTrigger[T]) OnEventTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}

func (processingTimeTrigger[T]) OnProcessingTime(t int64, w TimeWindow, _ *TriggerContext) (TriggerResult, error) {
	if t == w.MaxTimestamp() {
		return Fire, nil
	}
	return Continue, nil
}

func (processingTimeTrigger[T]) Clear(w TimeWindow, ctx *TriggerContext) error {
	return ctx.DeleteProcessingTimeTimer(w.MaxTimestamp())
}

func (processingTimeTrigger[T]) OnMerge(w TimeWindow, _ []TimeWindow, ctx *TriggerContext) error {
	if w.MaxTimestamp() > ctx.ProcessingTime() {
		return ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
	}
	return nil
}

func (processingTimeTrigger[T]) String() string { return "processing-time" }

// NeverTrigger never fires: the default trigger of the global window.
func NeverTrigger[T any]() Trigger[T] { return neverTrigger[T]{} }

type neverTrigger[T any] struct{}

func (neverTrigger[T]) OnElement(T, int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (neverTrigger[T]) OnEventTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (neverTrigger[T]) OnProcessingTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (neverTrigger[T]) Clear(TimeWindow, *TriggerContext) error                 { return nil }
func (neverTrigger[T]) OnMerge(TimeWindow, []TimeWindow, *TriggerContext) error { return nil }
func (neverTrigger[T]) String() string                                          { return "never" }

// CountTrigger fires a window every n records (it does not purge: wrap it
// in PurgingTrigger to start each count afresh). Its count is per window,
// in keyed state.
func CountTrigger[T any](n int64) Trigger[T] { return &countTrigger[T]{n: n} }

type countTrigger[T any] struct {
	n     int64
	count *state.ValueState[int64]
}

func (t *countTrigger[T]) clone() Trigger[T] { return &countTrigger[T]{n: t.n} }

func (t *countTrigger[T]) validate() error {
	if t.n <= 0 {
		return fmt.Errorf("operators: count trigger count %d must be positive", t.n)
	}
	return nil
}

func (t *countTrigger[T]) Open(ti *TriggerInit) error {
	var err error
	t.count, err = TriggerValueState[int64](ti, "count", nil)
	return err
}

func (t *countTrigger[T]) OnElement(T, int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	c, _, err := t.count.Value()
	if err != nil {
		return Continue, err
	}
	if c++; c >= t.n {
		return Fire, t.count.Clear()
	}
	return Continue, t.count.Update(c)
}

func (t *countTrigger[T]) OnEventTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}

func (t *countTrigger[T]) OnProcessingTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}

func (t *countTrigger[T]) Clear(TimeWindow, *TriggerContext) error { return t.count.Clear() }

// OnMerge adds the counts of the merged windows to w's.
func (t *countTrigger[T]) OnMerge(w TimeWindow, merged []TimeWindow, ctx *TriggerContext) error {
	var sum int64
	for i := 0; i <= len(merged); i++ {
		m := w
		if i < len(merged) {
			m = merged[i]
		}
		ctx.UseWindow(m)
		c, _, err := t.count.Value()
		if err != nil {
			return err
		}
		sum += c
		if err := t.count.Clear(); err != nil {
			return err
		}
	}
	if sum == 0 {
		return nil
	}
	return t.count.Update(sum) // still pointed at w
}

func (t *countTrigger[T]) String() string { return fmt.Sprintf("count(%d)", t.n) }

// ContinuousEventTimeTrigger fires a window early every interval of event
// time (aligned to multiples of interval), and once more when the
// watermark reaches the window's time (TriggerContext.WindowTime), as
// Flink's ContinuousEventTimeTrigger.
func ContinuousEventTimeTrigger[T any](interval time.Duration) Trigger[T] {
	return &continuousTrigger[T]{interval: interval}
}

// ContinuousProcessingTimeTrigger fires a window every interval of
// processing time while it has records (Flink's
// ContinuousProcessingTimeTrigger).
func ContinuousProcessingTimeTrigger[T any](interval time.Duration) Trigger[T] {
	return &continuousTrigger[T]{interval: interval, proc: true}
}

type continuousTrigger[T any] struct {
	interval time.Duration
	ms       int64
	proc     bool
	next     *state.ValueState[int64]
}

func (t *continuousTrigger[T]) clone() Trigger[T] {
	return &continuousTrigger[T]{interval: t.interval, ms: t.ms, proc: t.proc}
}

func (t *continuousTrigger[T]) validate() error {
	ms, err := millis("continuous trigger interval", t.interval)
	if err != nil {
		return err
	}
	if ms <= 0 {
		return fmt.Errorf("operators: continuous trigger interval %v must be positive", t.interval)
	}
	t.ms = ms
	return nil
}

func (t *continuousTrigger[T]) Open(ti *TriggerInit) error {
	if t.ms == 0 {
		if err := t.validate(); err != nil {
			return err
		}
	}
	var err error
	t.next, err = TriggerValueState[int64](ti, "next-fire", nil)
	return err
}

// last returns the time of w's last firing: its window time in event time;
// in processing time its max timestamp.
func (t *continuousTrigger[T]) last(w TimeWindow, ctx *TriggerContext) int64 {
	if t.proc {
		return w.MaxTimestamp()
	}
	return ctx.WindowTime(w)
}

// register sets the next firing at min(at, the window's last firing).
func (t *continuousTrigger[T]) register(at int64, w TimeWindow, ctx *TriggerContext) error {
	at = min(at, t.last(w, ctx))
	if err := t.next.Update(at); err != nil {
		return err
	}
	if t.proc {
		return ctx.RegisterProcessingTimeTimer(at)
	}
	return ctx.RegisterEventTimeTimer(at)
}

func (t *continuousTrigger[T]) OnElement(_ T, ts int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	if t.proc {
		if _, ok, err := t.next.Value(); err != nil || ok {
			return Continue, err
		}
		now := ctx.ProcessingTime()
		return Continue, t.register(now-floorMod(now, t.ms)+t.ms, w, ctx)
	}
	if ctx.WindowTime(w) <= ctx.wm {
		return Fire, nil // a late record within the allowed lateness
	}
	if ctx.fresh {
		if err := ctx.RegisterEventTimeTimer(ctx.WindowTime(w)); err != nil {
			return Continue, err
		}
	}
	if _, ok, err := t.next.Value(); err != nil || ok {
		return Continue, err
	}
	return Continue, t.register(ts-floorMod(ts, t.ms)+t.ms, w, ctx)
}

func (t *continuousTrigger[T]) onTimer(at int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	next, ok, err := t.next.Value()
	if err != nil || !ok || next != at {
		return Continue, err
	}
	if at >= t.last(w, ctx) {
		return Fire, t.next.Clear()
	}
	return Fire, t.register(at+t.ms, w, ctx)
}

func (t *continuousTrigger[T]) OnEventTime(at int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	if t.proc {
		return Continue, nil
	}
	if at == ctx.WindowTime(w) {
		if next, ok, err := t.next.Value(); err != nil {
			return Continue, err
		} else if ok && next == at {
			return Fire, t.next.Clear()
		}
		return Fire, nil
	}
	return t.onTimer(at, w, ctx)
}

func (t *continuousTrigger[T]) OnProcessingTime(at int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	if !t.proc {
		return Continue, nil
	}
	return t.onTimer(at, w, ctx)
}

func (t *continuousTrigger[T]) Clear(w TimeWindow, ctx *TriggerContext) error {
	next, ok, err := t.next.Value()
	if err != nil || !ok {
		return err
	}
	if t.proc {
		err = ctx.DeleteProcessingTimeTimer(next)
	} else {
		err = ctx.DeleteEventTimeTimer(next)
	}
	if err != nil {
		return err
	}
	return t.next.Clear()
}

// OnMerge keeps the earliest pending firing of the merged windows.
func (t *continuousTrigger[T]) OnMerge(w TimeWindow, merged []TimeWindow, ctx *TriggerContext) error {
	earliest, found := int64(0), false
	for _, m := range merged {
		ctx.UseWindow(m)
		next, ok, err := t.next.Value()
		if err != nil {
			return err
		}
		if ok && (!found || next < earliest) {
			earliest, found = next, true
		}
	}
	ctx.UseWindow(w)
	if !t.proc && ctx.WindowTime(w) > ctx.wm {
		if err := ctx.RegisterEventTimeTimer(ctx.WindowTime(w)); err != nil {
			return err
		}
	}
	if !found {
		return nil
	}
	return t.register(earliest, w, ctx)
}

func (t *continuousTrigger[T]) String() string {
	if t.proc {
		return fmt.Sprintf("continuous-processing-time(%v)", t.interval)
	}
	return fmt.Sprintf("continuous-event-time(%v)", t.interval)
}

// PurgingTrigger turns every firing of inner into fire-and-purge: each
// firing then covers the records since the previous one.
func PurgingTrigger[T any](inner Trigger[T]) Trigger[T] { return &purgingTrigger[T]{inner: inner} }

type purgingTrigger[T any] struct{ inner Trigger[T] }

func (t *purgingTrigger[T]) clone() Trigger[T] {
	return &purgingTrigger[T]{inner: instanceOf(t.inner)}
}

func (t *purgingTrigger[T]) Open(ti *TriggerInit) error {
	if s, ok := t.inner.(StatefulTrigger); ok {
		return s.Open(ti)
	}
	return nil
}

func purged(r TriggerResult, err error) (TriggerResult, error) {
	if r.IsFire() {
		r = FireAndPurge
	}
	return r, err
}

func (t *purgingTrigger[T]) OnElement(v T, ts int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	return purged(t.inner.OnElement(v, ts, w, ctx))
}

func (t *purgingTrigger[T]) OnEventTime(at int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	return purged(t.inner.OnEventTime(at, w, ctx))
}

func (t *purgingTrigger[T]) OnProcessingTime(at int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	return purged(t.inner.OnProcessingTime(at, w, ctx))
}

func (t *purgingTrigger[T]) Clear(w TimeWindow, ctx *TriggerContext) error {
	return t.inner.Clear(w, ctx)
}

func (t *purgingTrigger[T]) OnMerge(w TimeWindow, merged []TimeWindow, ctx *TriggerContext) error {
	m, ok := t.inner.(MergingTrigger)
	if !ok {
		return fmt.Errorf("operators: trigger %v does not support merging windows", t.inner)
	}
	return m.OnMerge(w, merged, ctx)
}

func (t *purgingTrigger[T]) String() string { return fmt.Sprintf("purging(%v)", t.inner) }

// canMerge reports whether t supports merging windows.
func canMerge[T any](t Trigger[T]) bool {
	if p, ok := t.(*purgingTrigger[T]); ok {
		return canMerge(p.inner)
	}
	_, ok := t.(MergingTrigger)
	return ok
}

// validateTrigger checks the built-in triggers' parameters.
func validateTrigger[T any](t Trigger[T]) error {
	if p, ok := t.(*purgingTrigger[T]); ok {
		if p.inner == nil {
			return fmt.Errorf("operators: purging trigger of a nil trigger")
		}
		return validateTrigger(p.inner)
	}
	if v, ok := t.(interface{ validate() error }); ok {
		return v.validate()
	}
	return nil
}
