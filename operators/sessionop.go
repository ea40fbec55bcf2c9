package operators

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// sessionOp is the operator of session windows with the default trigger
// and no evictor. It gives the results of windowOp with EventTimeTrigger
// (or ProcessingTimeTrigger) — Flink's semantics, lateness included,
// except that event-time sessions fire when the watermark reaches their
// End (assignSpec.windowTime) — but keeps each key's sessions, with their
// accumulators, in one state entry, and its timers lazily: a session that
// grows with every record does not move a timer with every record. A key
// has a timer at or before the earliest time one of its sessions must
// fire or be dropped; when it fires, whatever is due fires and the next
// timer is set.
//
// State, per key: "window-sessions", the key's sessionSet. Timers: empty
// namespace.
type sessionOp[T any, K comparable, Acc, Out any] struct {
	cfg windowConfig[T, K]
	fn  windowFn[T, K, Acc, Out]
	watermarkState

	ctx      *engine.OperatorContext[Out]
	keys     *engine.Keys[K]
	sessions *state.ValueState[sessionSet[Acc]]
	windowOutputs[T, Out]
}

// session is one session window of a key.
type session[Acc any] struct {
	w     TimeWindow
	acc   Acc
	fired bool // fired since its end last moved
}

// sessionSet is a key's sessions, disjoint and in order, and the timers
// it has registered.
type sessionSet[Acc any] struct {
	sessions []session[Acc]
	fires    []int64
}

func newSessionOp[T any, K comparable, Acc, Out any](cfg windowConfig[T, K], fn windowFn[T, K, Acc, Out]) *sessionOp[T, K, Acc, Out] {
	return &sessionOp[T, K, Acc, Out]{cfg: cfg, fn: fn, watermarkState: newWatermarkState()}
}

func (o *sessionOp[T, K, Acc, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	o.ctx, o.keys = ctx, keys
	o.watermarkState.open(ctx.MaxParallelism(), ctx.CurrentWatermark)
	var err error
	if o.sessions, err = state.NewValueState(keys.Backend(), "window-sessions", state.Codec[sessionSet[Acc]](sessionSetCodec[Acc]{o.fn.codec})); err != nil {
		return err
	}
	o.windowOutputs.open(ctx, &o.cfg.spec, o.cfg.lateTag, o.cfg.errTag)
	return nil
}

func (o *sessionOp[T, K, Acc, Out]) Close() error { return nil }

// cleanupTime is when a fired session is dropped: the allowed lateness
// after its window time.
func (o *sessionOp[T, K, Acc, Out]) cleanupTime(w TimeWindow) int64 {
	return addSat(o.cfg.spec.windowTime(w), o.cfg.lateness)
}

// ensureTimer makes sure a timer fires at or before t.
func (o *sessionOp[T, K, Acc, Out]) ensureTimer(set *sessionSet[Acc], t int64) error {
	if len(set.fires) > 0 && set.fires[0] <= t {
		return nil
	}
	set.fires = slices.Insert(set.fires, 0, t)
	if o.cfg.spec.procTime {
		return o.keys.RegisterProcessingTimer(t, nil)
	}
	return o.keys.RegisterEventTimer(t, nil)
}

// next returns the time s must be looked at next: its window time, or its
// cleanup once it fired.
func (o *sessionOp[T, K, Acc, Out]) next(s *session[Acc]) int64 {
	if s.fired {
		return o.cleanupTime(s.w)
	}
	return o.cfg.spec.windowTime(s.w)
}

func (o *sessionOp[T, K, Acc, Out]) emit(s *session[Acc], wm int64) error {
	o.wctx.window, o.wctx.wm = s.w, wm
	_, _, err := o.fn.emit(o.keys.CurrentKey(), s.acc, &o.wctx)
	return err
}

func (o *sessionOp[T, K, Acc, Out]) ProcessBatch(b []engine.Record[T]) error {
	spec := &o.cfg.spec
	wm, now := o.effective(), engine.MinTime
	if spec.procTime {
		now = o.ctx.ProcessingTime()
	}
	for i := range b {
		v, ts := b[i].Value, b[i].Time
		if spec.procTime {
			ts = now
		}
		gap, ok := sessionGap(spec, o.cfg.gapOf, v)
		if !ok || !spec.inRange(ts, gap) {
			o.errs.Inc()
			o.errOut.Collect(v, ts)
			continue
		}
		if err := o.add(v, ts, TimeWindow{Start: ts, End: ts + gap}, wm); err != nil {
			return err
		}
	}
	return nil
}

// add adds v, whose own window is nw, to the current key's sessions.
func (o *sessionOp[T, K, Acc, Out]) add(v T, ts int64, nw TimeWindow, wm int64) error {
	o.keys.SetCurrentKey(o.cfg.keyOf(v))
	set, _, err := o.sessions.Value()
	if err != nil {
		return err
	}
	ss := set.sessions
	// The sessions nw touches are a run [i, j) of the ordered sessions.
	i := 0
	for i < len(ss) && ss[i].w.End < nw.Start {
		i++
	}
	j := i
	for j < len(ss) && ss[j].w.Start <= nw.End {
		j++
	}
	eventTime := !o.cfg.spec.procTime
	if i == j && eventTime && o.cleanupTime(nw) <= wm {
		// A record is late when the watermark has reached end + allowed
		// lateness of every session it could join: its own window and the
		// live sessions it touches. Live sessions are never late (their
		// cleanup dropped them), so only a window that merges with nothing
		// can be.
		o.late.Inc()
		o.lateOut.Collect(v, ts)
		return nil
	}
	// The merged session takes over the accumulator of the first session
	// it merges (the others are folded into it), so that a growing session
	// is updated in place.
	s := session[Acc]{w: nw}
	present := false
	for k := i; k < j; k++ {
		s.w = s.w.Cover(ss[k].w)
		if present {
			s.acc = o.fn.merge(s.acc, true, ss[k].acc)
		} else {
			s.acc, present = ss[k].acc, true
		}
	}
	s.acc = o.fn.add(v, ts, s.acc, present)
	set.sessions = slices.Replace(ss, i, j, s)
	at := &set.sessions[i]
	if eventTime && o.cfg.spec.windowTime(at.w) <= wm {
		// Within the allowed lateness after its end: fire at once with
		// this record (Flink's EventTimeTrigger).
		if err := o.emit(at, wm); err != nil {
			return err
		}
		at.fired = true
	}
	if err := o.ensureTimer(&set, o.next(at)); err != nil {
		return err
	}
	return o.sessions.Update(set)
}

func (o *sessionOp[T, K, Acc, Out]) OnTimer(t engine.TimerFiring) error {
	set, _, err := o.sessions.Value()
	if err != nil {
		return err
	}
	if k, found := slices.BinarySearch(set.fires, t.Time); found {
		set.fires = slices.Delete(set.fires, k, k+1)
	}
	wm := o.effective()
	due := wm
	if o.cfg.spec.procTime {
		due = max(t.Time, o.ctx.ProcessingTime())
	}
	kept := set.sessions[:0]
	for k := range set.sessions {
		s := set.sessions[k]
		if !s.fired && o.cfg.spec.windowTime(s.w) <= due {
			if err := o.emit(&s, wm); err != nil {
				return err
			}
			s.fired = true
		}
		if s.fired && o.cleanupTime(s.w) <= due {
			continue
		}
		kept = append(kept, s)
	}
	clear(set.sessions[len(kept):])
	set.sessions = kept
	if len(kept) > 0 {
		next := o.next(&kept[0])
		for k := range kept[1:] {
			next = min(next, o.next(&kept[k+1]))
		}
		if err := o.ensureTimer(&set, next); err != nil {
			return err
		}
	}
	if len(set.sessions) == 0 && len(set.fires) == 0 {
		return o.sessions.Clear()
	}
	return o.sessions.Update(set)
}

// sessionSetCodec encodes a sessionSet, format version 1:
//
//	byte 1, uvarint(n), n times: window(16) byte(fired) uvarint(len) acc,
//	uvarint(m), m times: varint(timer)
type sessionSetCodec[Acc any] struct{ c state.Codec[Acc] }

const sessionSetVersion = 1

func (sc sessionSetCodec[Acc]) Append(dst []byte, s sessionSet[Acc]) []byte {
	dst = append(dst, sessionSetVersion)
	dst = binary.AppendUvarint(dst, uint64(len(s.sessions)))
	for i := range s.sessions {
		x := &s.sessions[i]
		dst = appendWindow(dst, x.w)
		fired := byte(0)
		if x.fired {
			fired = 1
		}
		dst = append(dst, fired)
		dst = appendSized(dst, sc.c, x.acc)
	}
	return appendTimes(dst, s.fires)
}

func (sc sessionSetCodec[Acc]) Decode(src []byte) (sessionSet[Acc], error) {
	var s sessionSet[Acc]
	if len(src) == 0 || src[0] != sessionSetVersion {
		return s, fmt.Errorf("operators: session set format version %d, this build reads %d: %w", firstByte(src), sessionSetVersion, state.ErrCorrupt)
	}
	src = src[1:]
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return s, fmt.Errorf("operators: session set: %w", state.ErrCorrupt)
	}
	src = src[k:]
	s.sessions = make([]session[Acc], 0, n)
	for i := uint64(0); i < n; i++ {
		if len(src) < windowNSLen+1 {
			return s, fmt.Errorf("operators: session set: session %d: %w", i, state.ErrCorrupt)
		}
		w, err := decodeWindow(src[:windowNSLen])
		if err != nil {
			return s, err
		}
		fired := src[windowNSLen] == 1
		src = src[windowNSLen+1:]
		b, rest, ok := cutSized(src)
		if !ok {
			return s, fmt.Errorf("operators: session set: session %d: %w", i, state.ErrCorrupt)
		}
		acc, err := sc.c.Decode(b)
		if err != nil {
			return s, fmt.Errorf("operators: session set: session %d: %w", i, err)
		}
		s.sessions = append(s.sessions, session[Acc]{w: w, acc: acc, fired: fired})
		src = rest
	}
	var err error
	s.fires, err = decodeTimes(s.fires, src, "session set")
	return s, err
}
