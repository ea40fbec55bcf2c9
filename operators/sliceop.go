package operators

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// slicer cuts time into slices such that every window of a tumbling,
// sliding or cumulating assigner is a run of whole slices: a record then
// updates the one slice it falls in, and a window's result merges its
// slices when it fires (Flink SQL's window slicing). Windows are named by
// their end.
type slicer struct {
	slice  int64 // slice length: the size (tumbling), gcd(size, slide), the step (cumulate)
	period int64 // windows end every period: the slide, or the step
	size   int64 // window size, or the cumulate max size
	offset int64
	cum    bool
	endOff int64 // window ends are endOff mod period (sliding)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func newSlicer(s assignSpec) slicer {
	switch s.kind {
	case kindTumbling:
		return slicer{slice: s.size, period: s.size, size: s.size, offset: s.offset, endOff: floorMod(s.offset, s.size)}
	case kindSliding:
		return slicer{slice: gcd(s.size, s.slide), period: s.slide, size: s.size, offset: s.offset,
			endOff: floorMod(s.offset+s.size, s.slide)}
	default: // cumulate
		return slicer{slice: s.slide, period: s.slide, size: s.size, offset: s.offset, cum: true}
	}
}

// sliceEnd returns the end of the slice that holds ts.
func (s *slicer) sliceEnd(ts int64) int64 { return windowStart(ts, s.offset, s.slice) + s.slice }

// windowStart returns the start of the window that ends at e.
func (s *slicer) windowStart(e int64) int64 {
	if s.cum {
		return windowStart(e-1, s.offset, s.size)
	}
	return e - s.size
}

// windowEnds returns the ends of the first and last windows that contain
// the slice ending at se; the ones between are period apart.
func (s *slicer) windowEnds(se int64) (first, last int64) {
	if s.cum {
		return se, windowStart(se-1, s.offset, s.size) + s.size
	}
	first = se + floorMod(s.endOff-se, s.period)
	x := se - s.slice + s.size
	last = x - floorMod(x-s.endOff, s.period)
	return first, last
}

// next returns the end of the window after the one ending at e that may
// share slices with it.
func (s *slicer) next(e int64) (int64, bool) {
	if s.cum && e == s.windowStart(e)+s.size {
		return 0, false
	}
	return e + s.period, true
}

// Timer namespaces of sliceOp: a window's firing is named by its time, a
// slice's cleanup by the slice.
const (
	nsFire    = 'F'
	nsCleanup = 'C'
)

// sliceOp is the window operator of tumbling, sliding and cumulating
// windows with the default trigger: state holds one accumulator (or record
// list) per key and slice, never per window, so a record costs one state
// update however many windows it belongs to.
//
// State, per key: "window-slices" (namespace: the slice's end, 8 bytes).
// Timers: "F" at a window's max timestamp fires it; with allowed lateness,
// "C"+slice end at the max timestamp of the slice's last window plus the
// lateness drops the slice. Without lateness, a firing drops the slices
// that no later window needs.
//
// A window's firing timer is set when its first slice gets its first
// record, or, when the window shares slices with the one before, by that
// window's firing: every window with records fires, and none without.
type sliceOp[T any, K comparable, Acc, Out any] struct {
	cfg windowConfig[T, K]
	fn  windowFn[T, K, Acc, Out]
	sl  slicer
	watermarkState

	ctx      *engine.OperatorContext[Out]
	keys     *engine.Keys[K]
	contents *state.ValueState[Acc]
	wctx     WindowContext[Out]
	late     *engine.Counter
	errs     *engine.Counter
	lateOut  *engine.Collector[T]
	errOut   *engine.Collector[T]
	cur      int64 // the slice contents point at
	hasCur   bool
	nsbuf    []byte
	tbuf     []byte
	present  []int64 // scratch: the non-empty slices of a firing window
}

func newSliceOp[T any, K comparable, Acc, Out any](cfg windowConfig[T, K], fn windowFn[T, K, Acc, Out]) *sliceOp[T, K, Acc, Out] {
	return &sliceOp[T, K, Acc, Out]{cfg: cfg, fn: fn, sl: newSlicer(cfg.spec), watermarkState: newWatermarkState()}
}

func (o *sliceOp[T, K, Acc, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	o.ctx, o.keys = ctx, keys
	o.watermarkState.open(ctx.MaxParallelism(), ctx.CurrentWatermark)
	var err error
	if o.contents, err = state.NewValueState(keys.Backend(), "window-slices", o.fn.codec); err != nil {
		return err
	}
	o.wctx.op = ctx
	o.late, o.errs = ctx.Counter(CounterLate), ctx.Counter(CounterErrors)
	o.lateOut = engine.SideCollector(ctx, o.cfg.lateTag)
	o.errOut = engine.SideCollector(ctx, o.cfg.errTag)
	return nil
}

func (o *sliceOp[T, K, Acc, Out]) Close() error { return nil }

// useSlice points the contents at the slice ending at se.
func (o *sliceOp[T, K, Acc, Out]) useSlice(se int64) {
	if o.hasCur && o.cur == se {
		return
	}
	o.nsbuf = binary.BigEndian.AppendUint64(o.nsbuf[:0], uint64(se)^signBit)
	o.contents.SetNamespace(o.nsbuf)
	o.cur, o.hasCur = se, true
}

func (o *sliceOp[T, K, Acc, Out]) registerFire(maxTs int64) error {
	o.tbuf = append(o.tbuf[:0], nsFire)
	if o.cfg.spec.procTime {
		return o.keys.RegisterProcessingTimer(maxTs, o.tbuf)
	}
	return o.keys.RegisterEventTimer(maxTs, o.tbuf)
}

func (o *sliceOp[T, K, Acc, Out]) ProcessBatch(b []engine.Record[T]) error {
	procTime := o.cfg.spec.procTime
	wm, now := o.effective(), engine.MinTime
	if procTime {
		now = o.ctx.ProcessingTime()
	}
	L := o.cfg.lateness
	for i := range b {
		v, ts := b[i].Value, b[i].Time
		if procTime {
			ts = now
		} else if ts == engine.NoTimestamp {
			o.errs.Inc()
			o.errOut.Collect(v, ts)
			continue
		}
		se := o.sl.sliceEnd(ts)
		first, last := o.sl.windowEnds(se)
		if !procTime && addSat(last-1, L) <= wm {
			o.late.Inc()
			o.lateOut.Collect(v, ts)
			continue
		}
		o.keys.SetCurrentKey(o.cfg.keyOf(v))
		o.useSlice(se)
		acc, present, err := o.contents.Value()
		if err != nil {
			return err
		}
		if err := o.contents.Update(o.fn.add(v, ts, acc, present)); err != nil {
			return err
		}
		if procTime {
			if !present {
				if err := o.registerFire(first - 1); err != nil {
					return err
				}
			}
			continue
		}
		if !present {
			// The first window of this slice that has not fired yet fires
			// by timer; the later ones follow from its firing.
			for e := first; e <= last; e += o.sl.period {
				if e-1 > wm {
					if err := o.registerFire(e - 1); err != nil {
						return err
					}
					break
				}
			}
			if L > 0 {
				o.tbuf = binary.BigEndian.AppendUint64(append(o.tbuf[:0], nsCleanup), uint64(se)^signBit)
				if err := o.keys.RegisterEventTimer(addSat(last-1, L), o.tbuf); err != nil {
					return err
				}
			}
		}
		if first-1 <= wm {
			// Windows that fired already but are within the allowed
			// lateness fire again with this record (Flink's EventTimeTrigger
			// fires on a record for a window behind the watermark).
			for e := first; e <= last && e-1 <= wm; e += o.sl.period {
				if addSat(e-1, L) > wm {
					if _, err := o.fire(e, wm); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// fire emits the result of the window ending at e, if it has records, and
// returns whether any of its slices that the next window shares has
// records. It leaves o.present holding the window's non-empty slices.
func (o *sliceOp[T, K, Acc, Out]) fire(e, wm int64) (sharedLive bool, err error) {
	st := o.sl.windowStart(e)
	keepAfter := e
	if n, ok := o.sl.next(e); ok {
		keepAfter = o.sl.windowStart(n)
	}
	var merged Acc
	has := false
	o.present = o.present[:0]
	for se := st + o.sl.slice; se <= e; se += o.sl.slice {
		o.useSlice(se)
		acc, ok, err := o.contents.Value()
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		merged, has = o.fn.merge(merged, has, acc), true
		o.present = append(o.present, se)
		if se > keepAfter {
			sharedLive = true
		}
	}
	if !has {
		return false, nil
	}
	o.wctx.window, o.wctx.wm = TimeWindow{Start: st, End: e}, wm
	if _, _, err := o.fn.emit(o.keys.CurrentKey(), merged, &o.wctx); err != nil {
		return false, err
	}
	return sharedLive, nil
}

func (o *sliceOp[T, K, Acc, Out]) OnTimer(t engine.TimerFiring) error {
	ns := t.Namespace
	switch {
	case len(ns) == 1 && ns[0] == nsFire:
		e := t.Time + 1
		wm := o.effective()
		shared, err := o.fire(e, wm)
		if err != nil {
			return err
		}
		n, hasNext := o.sl.next(e)
		if o.cfg.lateness == 0 {
			// Drop the slices no later window needs.
			keepAfter := e
			if hasNext {
				keepAfter = o.sl.windowStart(n)
			}
			for _, se := range o.present {
				if se > keepAfter {
					break
				}
				o.useSlice(se)
				if err := o.contents.Clear(); err != nil {
					return err
				}
			}
		}
		if hasNext && shared {
			return o.registerFire(n - 1)
		}
		return nil
	case len(ns) == 9 && ns[0] == nsCleanup:
		o.useSlice(int64(binary.BigEndian.Uint64(ns[1:]) ^ signBit))
		return o.contents.Clear()
	}
	return fmt.Errorf("operators: unknown timer namespace %x", ns)
}
