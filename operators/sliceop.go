package operators

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

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

// sliceSet is what sliceOp keeps per key: the key's live slices, in order
// of end, each with its accumulator, and the firing timers it has
// registered. One state entry per key (not per slice) keeps the state
// cache small and free of the dead entries that expired slices would
// leave, and lets the operator register each firing timer once.
type sliceSet[Acc any] struct {
	slots []slot[Acc] // ascending end
	fires []int64     // max timestamps of the registered firing timers, ascending
}

// slot is one slice of a key: its end and accumulator, side by side so that
// a record touches one array.
type slot[Acc any] struct {
	end int64
	acc Acc
}

// find returns the index of the slice ending at se, inserting an empty one
// (new reports it) if there is none. Slices usually arrive in order, so
// the search starts at the end.
func (s *sliceSet[Acc]) find(se int64) (i int, isNew bool) {
	i = len(s.slots)
	for i > 0 && s.slots[i-1].end >= se {
		if s.slots[i-1].end == se {
			return i - 1, false
		}
		i--
	}
	s.slots = slices.Insert(s.slots, i, slot[Acc]{end: se})
	return i, true
}

// remove drops the slices [i, j).
func (s *sliceSet[Acc]) remove(i, j int) { s.slots = slices.Delete(s.slots, i, j) }

// addFire records a firing timer at t and reports whether it is new.
func (s *sliceSet[Acc]) addFire(t int64) bool {
	i, found := slices.BinarySearch(s.fires, t)
	if found {
		return false
	}
	s.fires = slices.Insert(s.fires, i, t)
	return true
}

func (s *sliceSet[Acc]) removeFire(t int64) {
	if i, found := slices.BinarySearch(s.fires, t); found {
		s.fires = slices.Delete(s.fires, i, i+1)
	}
}

func (s *sliceSet[Acc]) empty() bool { return len(s.slots) == 0 && len(s.fires) == 0 }

// sliceSetCodec encodes a sliceSet, format version 1:
//
//	byte 1, uvarint(n), n times: varint(end) uvarint(len) acc,
//	uvarint(m), m times: varint(fire)
type sliceSetCodec[Acc any] struct{ c state.Codec[Acc] }

const sliceSetVersion = 1

func (sc sliceSetCodec[Acc]) Append(dst []byte, s sliceSet[Acc]) []byte {
	dst = append(dst, sliceSetVersion)
	dst = binary.AppendUvarint(dst, uint64(len(s.slots)))
	for i := range s.slots {
		dst = binary.AppendVarint(dst, s.slots[i].end)
		dst = appendSized(dst, sc.c, s.slots[i].acc)
	}
	return appendTimes(dst, s.fires)
}

func (sc sliceSetCodec[Acc]) Decode(src []byte) (sliceSet[Acc], error) {
	var s sliceSet[Acc]
	if len(src) == 0 || src[0] != sliceSetVersion {
		return s, fmt.Errorf("operators: slice set format version %d, this build reads %d: %w", firstByte(src), sliceSetVersion, state.ErrCorrupt)
	}
	src = src[1:]
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return s, fmt.Errorf("operators: slice set: %w", state.ErrCorrupt)
	}
	src = src[k:]
	s.slots = make([]slot[Acc], 0, n)
	for i := uint64(0); i < n; i++ {
		e, k := binary.Varint(src)
		if k <= 0 {
			return s, fmt.Errorf("operators: slice set: slice %d: %w", i, state.ErrCorrupt)
		}
		src = src[k:]
		b, rest, ok := cutSized(src)
		if !ok {
			return s, fmt.Errorf("operators: slice set: slice %d: %w", i, state.ErrCorrupt)
		}
		acc, err := sc.c.Decode(b)
		if err != nil {
			return s, fmt.Errorf("operators: slice set: slice %d: %w", i, err)
		}
		s.slots = append(s.slots, slot[Acc]{end: e, acc: acc})
		src = rest
	}
	var err error
	s.fires, err = decodeTimes(s.fires, src, "slice set")
	return s, err
}

// sliceOp is the window operator of tumbling, sliding and cumulating
// windows with the default trigger: a record updates the accumulator (or
// record list) of the one slice it falls in, never one per window, and a
// window merges its slices when it fires.
//
// State, per key: "window-slices", the key's sliceSet. Timers: "F" at a
// window's max timestamp fires it; with allowed lateness, "C"+slice end
// (8 bytes) at the max timestamp of the slice's last window plus the
// lateness drops the slice. Without lateness, a firing drops the slices
// that no later window needs.
//
// Firing timers: when a slice gets its first record, its first window
// that has not fired yet gets a timer, unless an earlier firing of the key
// is pending. A firing goes on to the next window that holds records: at
// once if the watermark has passed it too (watermarks move in jumps),
// else by a timer. So every window with records fires, none without, and
// a busy key has one pending timer.
type sliceOp[T any, K comparable, Acc, Out any] struct {
	cfg windowConfig[T, K]
	fn  windowFn[T, K, Acc, Out]
	sl  slicer
	watermarkState

	ctx    *engine.OperatorContext[Out]
	keys   *engine.Keys[K]
	slices *state.HotValueState[K, sliceSet[Acc]]
	windowOutputs[T, Out]
	tbuf []byte
}

func newSliceOp[T any, K comparable, Acc, Out any](cfg windowConfig[T, K], fn windowFn[T, K, Acc, Out]) *sliceOp[T, K, Acc, Out] {
	return &sliceOp[T, K, Acc, Out]{cfg: cfg, fn: fn, sl: newSlicer(cfg.spec), watermarkState: newWatermarkState()}
}

func (o *sliceOp[T, K, Acc, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	o.ctx, o.keys = ctx, keys
	o.watermarkState.open(ctx.MaxParallelism(), ctx.CurrentWatermark)
	var err error
	if o.slices, err = state.NewHotValueState[K](keys.Backend(), "window-slices", state.Codec[sliceSet[Acc]](sliceSetCodec[Acc]{o.fn.codec})); err != nil {
		return err
	}
	o.windowOutputs.open(ctx, &o.cfg.spec, o.cfg.lateTag, o.cfg.errTag)
	return nil
}

func (o *sliceOp[T, K, Acc, Out]) Close() error { return nil }

// registerFire sets the firing timer at maxTs unless set already has it.
func (o *sliceOp[T, K, Acc, Out]) registerFire(set *sliceSet[Acc], maxTs int64) error {
	if !set.addFire(maxTs) {
		return nil
	}
	o.tbuf = append(o.tbuf[:0], nsFire)
	if o.cfg.spec.procTime {
		return o.keys.RegisterProcessingTimer(maxTs, o.tbuf)
	}
	return o.keys.RegisterEventTimer(maxTs, o.tbuf)
}

// save drops the current key's state once it holds nothing; Ref has
// marked it changed otherwise.
func (o *sliceOp[T, K, Acc, Out]) save(set *sliceSet[Acc]) error {
	if set.empty() {
		return o.slices.Clear(o.keys.CurrentKey())
	}
	return nil
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
		} else if !o.cfg.spec.inRange(ts, 0) {
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
		key := o.cfg.keyOf(v)
		o.keys.SetCurrentKey(key)
		set, _, err := o.slices.Ref(key) // changed in place
		if err != nil {
			return err
		}
		at, isNew := set.find(se)
		sl := &set.slots[at]
		sl.acc = o.fn.add(v, ts, sl.acc, !isNew)
		if isNew {
			if err := o.newSlice(set, se, first, last, wm); err != nil {
				return err
			}
		}
		if !procTime && first-1 <= wm {
			// Windows that fired already but are within the allowed
			// lateness fire again with this record (Flink's EventTimeTrigger
			// fires on a record for a window behind the watermark).
			for e := first; e <= last && e-1 <= wm; e += o.sl.period {
				if addSat(e-1, L) > wm {
					if err := o.emit(set, e, wm); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// newSlice sets the timers of a slice that just got its first record.
// Its first window that has not fired yet needs a firing timer, unless an
// earlier firing of the key is pending: that firing goes on to the next
// window that holds records, and so reaches this one. With allowed
// lateness the slice also gets its cleanup timer.
func (o *sliceOp[T, K, Acc, Out]) newSlice(set *sliceSet[Acc], se, first, last, wm int64) error {
	e := first
	if !o.cfg.spec.procTime {
		for e <= last && e-1 <= wm {
			e += o.sl.period
		}
	}
	if e <= last && (len(set.fires) == 0 || set.fires[0] >= e-1) {
		if err := o.registerFire(set, e-1); err != nil {
			return err
		}
	}
	if o.cfg.lateness > 0 {
		o.tbuf = binary.BigEndian.AppendUint64(append(o.tbuf[:0], nsCleanup), uint64(se)^signBit)
		return o.keys.RegisterEventTimer(addSat(last-1, o.cfg.lateness), o.tbuf)
	}
	return nil
}

// emit emits the result of the window ending at e from the slices in set,
// if it has any.
func (o *sliceOp[T, K, Acc, Out]) emit(set *sliceSet[Acc], e, wm int64) error {
	st := o.sl.windowStart(e)
	var merged Acc
	has := false
	for i := range set.slots {
		if se := set.slots[i].end; se > st && se <= e {
			merged, has = o.fn.merge(merged, has, set.slots[i].acc), true
		}
	}
	if !has {
		return nil
	}
	o.wctx.window, o.wctx.wm = TimeWindow{Start: st, End: e}, wm
	_, _, err := o.fn.emit(o.keys.CurrentKey(), merged, &o.wctx)
	return err
}

func (o *sliceOp[T, K, Acc, Out]) OnTimer(t engine.TimerFiring) error {
	ns := t.Namespace
	set, _, err := o.slices.Ref(o.keys.CurrentKey())
	if err != nil {
		return err
	}
	switch {
	case len(ns) == 1 && ns[0] == nsFire:
		set.removeFire(t.Time)
		wm := o.effective()
		due := wm // windows up to here are due now
		if o.cfg.spec.procTime {
			due = max(t.Time, o.ctx.ProcessingTime())
		}
		for e := t.Time + 1; ; {
			if err := o.emit(set, e, wm); err != nil {
				return err
			}
			// The next window to fire is the earliest after e that holds
			// records; slices whose windows have all fired are dropped
			// (with allowed lateness, their cleanup timers drop them).
			next, dead := engine.MaxTime, 0
			for i := range set.slots {
				first, last := o.sl.windowEnds(set.slots[i].end)
				if last <= e {
					dead = i + 1 // windows' ends grow with slices': a prefix
					continue
				}
				if first <= e {
					first = e + o.sl.period
				}
				next = min(next, first)
			}
			if o.cfg.lateness == 0 {
				set.remove(0, dead)
			}
			if next == engine.MaxTime {
				break
			}
			// When time has passed the next window too (watermarks move in
			// jumps), fire it now rather than through a timer, unless it
			// has a timer of its own already.
			if _, found := slices.BinarySearch(set.fires, next-1); next-1 > due || found {
				if err := o.registerFire(set, next-1); err != nil {
					return err
				}
				break
			}
			e = next
		}
	case len(ns) == 9 && ns[0] == nsCleanup:
		se := int64(binary.BigEndian.Uint64(ns[1:]) ^ signBit)
		if i, found := slices.BinarySearchFunc(set.slots, se, func(s slot[Acc], se int64) int { return cmp.Compare(s.end, se) }); found {
			set.remove(i, i+1)
		}
	default:
		return fmt.Errorf("operators: unknown timer namespace %x", ns)
	}
	return o.save(set)
}
