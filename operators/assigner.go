package operators

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// TimeWindow is the half-open interval of event (or processing) time
// [Start, End) in milliseconds since the Unix epoch. The global window is
// [engine.MinTime, engine.MaxTime).
type TimeWindow struct {
	Start, End int64
}

// MaxTimestamp is the largest timestamp inside the window, End-1: a window
// that does not merge fires when the watermark reaches it, and its results
// carry it as their event time. The global window's is engine.MaxTime.
// Event-time session windows fire at End instead (see the package doc and
// TriggerContext.WindowTime).
func (w TimeWindow) MaxTimestamp() int64 {
	if w.End == engine.MaxTime {
		return engine.MaxTime
	}
	return w.End - 1
}

// Intersects reports whether w and o overlap or touch; session windows that
// intersect merge.
func (w TimeWindow) Intersects(o TimeWindow) bool { return w.Start <= o.End && o.Start <= w.End }

// Cover returns the smallest window that contains both w and o.
func (w TimeWindow) Cover(o TimeWindow) TimeWindow {
	return TimeWindow{Start: min(w.Start, o.Start), End: max(w.End, o.End)}
}

func (w TimeWindow) String() string { return fmt.Sprintf("[%d,%d)", w.Start, w.End) }

// windowNSLen is the size of an encoded window: the state namespace and
// timer namespace of a window.
const windowNSLen = 16

const signBit = 1 << 63

// appendWindow encodes w order-preservingly (start, then end, big-endian
// with the sign bit flipped).
func appendWindow(dst []byte, w TimeWindow) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(w.Start)^signBit)
	return binary.BigEndian.AppendUint64(dst, uint64(w.End)^signBit)
}

func decodeWindow(b []byte) (TimeWindow, error) {
	if len(b) != windowNSLen {
		return TimeWindow{}, fmt.Errorf("operators: window namespace of %d bytes, want %d: %w", len(b), windowNSLen, state.ErrCorrupt)
	}
	return TimeWindow{
		Start: int64(binary.BigEndian.Uint64(b) ^ signBit),
		End:   int64(binary.BigEndian.Uint64(b[8:]) ^ signBit),
	}, nil
}

type assignerKind uint8

const (
	kindTumbling assignerKind = iota + 1
	kindSliding
	kindSession
	kindDynamicSession
	kindCumulate
	kindGlobal
)

// Assigner assigns records to windows, as Flink's WindowAssigner. Build one
// with Tumbling, Sliding, Session, DynamicSession, Cumulate or Global; by
// default windows are in event time, InProcessingTime switches to the
// processing-time clock, and WithOffset shifts window boundaries (for time
// zones: a day window in UTC+8 is Tumbling(24h).WithOffset(-8h)).
//
// An Assigner is a value: its methods return modified copies. Its spec is
// checked when the job is built (Validate), and an invalid one is reported
// by Job.Validate and Execute naming the operator.
type Assigner struct {
	kind     assignerKind
	size     time.Duration // tumbling, sliding: size; cumulate: max size; session: gap
	slide    time.Duration // sliding: slide; cumulate: step
	offset   time.Duration
	procTime bool
	gapFn    any // dynamic sessions: func(T) time.Duration
}

// Tumbling returns fixed-size, non-overlapping windows [k*size, (k+1)*size)
// (SQL's TUMBLE).
func Tumbling(size time.Duration) Assigner { return Assigner{kind: kindTumbling, size: size} }

// Sliding returns windows of the given size that start every slide (SQL's
// HOP), so that each record belongs to size/slide windows. The slide must
// not exceed the size. Windows share per-slice partial aggregates: a record
// updates one slice, not every window it belongs to.
func Sliding(size, slide time.Duration) Assigner {
	return Assigner{kind: kindSliding, size: size, slide: slide}
}

// Session returns session windows: a key's records closer than gap to each
// other fall in one window, which closes gap after its last record.
func Session(gap time.Duration) Assigner { return Assigner{kind: kindSession, size: gap} }

// DynamicSession returns session windows whose gap each record gives (as
// Flink's DynamicEventTimeSessionWindows): a record's window is [ts,
// ts+gap(v)). T must be the windowed stream's record type. A record whose
// gap is not positive goes to the error side output.
func DynamicSession[T any](gap func(v T) time.Duration) Assigner {
	return Assigner{kind: kindDynamicSession, gapFn: gap}
}

// Cumulate returns cumulating windows (SQL's CUMULATE): windows that all
// start at a multiple of maxSize and end every step up to maxSize, so that
// a day's running total is reported every hour with Cumulate(time.Hour,
// 24*time.Hour). The step must divide maxSize.
func Cumulate(step, maxSize time.Duration) Assigner {
	return Assigner{kind: kindCumulate, size: maxSize, slide: step}
}

// Global returns the single global window per key. It has no time: its
// default trigger never fires, so it is used with a count, continuous or
// user-defined trigger, and it is never late.
func Global() Assigner { return Assigner{kind: kindGlobal} }

// WithOffset returns a copy of a with window boundaries shifted by offset
// (tumbling, sliding and cumulating windows). |offset| must be below the
// size (the slide for sliding windows).
func (a Assigner) WithOffset(offset time.Duration) Assigner { a.offset = offset; return a }

// InProcessingTime returns a copy of a that assigns records by the
// processing time at which they arrive, and fires by processing-time
// timers.
func (a Assigner) InProcessingTime() Assigner { a.procTime = true; return a }

// IsEventTime reports whether a assigns by event time (the global window
// has no time and is not).
func (a Assigner) IsEventTime() bool { return !a.procTime && a.kind != kindGlobal }

// IsMerging reports whether windows merge (sessions).
func (a Assigner) IsMerging() bool { return a.kind == kindSession || a.kind == kindDynamicSession }

func (a Assigner) String() string {
	dom := ""
	if a.procTime {
		dom = ", processing time"
	}
	off := ""
	if a.offset != 0 {
		off = fmt.Sprintf(", offset %v", a.offset)
	}
	switch a.kind {
	case kindTumbling:
		return fmt.Sprintf("tumbling(%v%s%s)", a.size, off, dom)
	case kindSliding:
		return fmt.Sprintf("sliding(%v, slide %v%s%s)", a.size, a.slide, off, dom)
	case kindSession:
		return fmt.Sprintf("session(gap %v%s)", a.size, dom)
	case kindDynamicSession:
		return fmt.Sprintf("session(dynamic gap%s)", dom)
	case kindCumulate:
		return fmt.Sprintf("cumulate(step %v, max %v%s%s)", a.slide, a.size, off, dom)
	case kindGlobal:
		return "global"
	}
	return "unset assigner"
}

// millis converts d to whole milliseconds, the unit of event time.
func millis(what string, d time.Duration) (int64, error) {
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("operators: %s %v is not a whole number of milliseconds", what, d)
	}
	return d.Milliseconds(), nil
}

// Validate reports whether the assigner's spec is usable: positive sizes, a
// slide no larger than the size, a cumulate step that divides the maximum,
// an offset smaller than the period.
func (a Assigner) Validate() error {
	_, err := a.spec()
	return err
}

// assignSpec is a validated assigner in milliseconds.
type assignSpec struct {
	kind                assignerKind
	size, slide, offset int64
	procTime            bool
	gapFn               any
}

func (a Assigner) spec() (assignSpec, error) {
	s := assignSpec{kind: a.kind, procTime: a.procTime, gapFn: a.gapFn}
	var err error
	if s.size, err = millis("window size", a.size); err != nil {
		return s, err
	}
	if s.slide, err = millis("window slide", a.slide); err != nil {
		return s, err
	}
	if s.offset, err = millis("window offset", a.offset); err != nil {
		return s, err
	}
	absOff := max(s.offset, -s.offset)
	switch a.kind {
	case kindTumbling:
		if s.size <= 0 {
			return s, fmt.Errorf("operators: tumbling window size %v must be positive", a.size)
		}
		if absOff >= s.size {
			return s, fmt.Errorf("operators: tumbling window offset %v must be smaller than the size %v", a.offset, a.size)
		}
	case kindSliding:
		switch {
		case s.size <= 0:
			return s, fmt.Errorf("operators: sliding window size %v must be positive", a.size)
		case s.slide <= 0:
			return s, fmt.Errorf("operators: sliding window slide %v must be positive", a.slide)
		case s.slide > s.size:
			return s, fmt.Errorf("operators: sliding window slide %v is larger than its size %v", a.slide, a.size)
		case absOff >= s.slide:
			return s, fmt.Errorf("operators: sliding window offset %v must be smaller than the slide %v", a.offset, a.slide)
		}
	case kindCumulate:
		switch {
		case s.slide <= 0:
			return s, fmt.Errorf("operators: cumulate window step %v must be positive", a.slide)
		case s.size <= 0:
			return s, fmt.Errorf("operators: cumulate window max size %v must be positive", a.size)
		case s.size%s.slide != 0:
			return s, fmt.Errorf("operators: cumulate window step %v does not divide the max size %v", a.slide, a.size)
		case absOff >= s.size:
			return s, fmt.Errorf("operators: cumulate window offset %v must be smaller than the max size %v", a.offset, a.size)
		}
	case kindSession:
		if s.size <= 0 {
			return s, fmt.Errorf("operators: session gap %v must be positive", a.size)
		}
		if s.offset != 0 {
			return s, fmt.Errorf("operators: session windows take no offset")
		}
	case kindDynamicSession:
		if a.gapFn == nil {
			return s, fmt.Errorf("operators: dynamic session windows need a gap function")
		}
		if s.offset != 0 {
			return s, fmt.Errorf("operators: session windows take no offset")
		}
	case kindGlobal:
		if s.offset != 0 || a.procTime {
			return s, fmt.Errorf("operators: the global window has no time: no offset, no processing time")
		}
	default:
		return s, fmt.Errorf("operators: no window assigner (use Tumbling, Sliding, Session, Cumulate or Global)")
	}
	return s, nil
}

// floorMod is x mod m in [0, m).
func floorMod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}

// windowStart returns the start of the period-long window with the given
// offset that contains ts.
func windowStart(ts, offset, period int64) int64 {
	return ts - floorMod(ts-offset, period)
}

// assign appends the windows of a record at ts (event or processing time),
// in increasing order of end. Sessions use gap (ms).
func (s *assignSpec) assign(ts, gap int64, dst []TimeWindow) []TimeWindow {
	switch s.kind {
	case kindTumbling:
		st := windowStart(ts, s.offset, s.size)
		return append(dst, TimeWindow{st, st + s.size})
	case kindSliding:
		last := windowStart(ts, s.offset, s.slide)
		first := last
		for first-s.slide > ts-s.size {
			first -= s.slide
		}
		for st := first; st <= last; st += s.slide {
			dst = append(dst, TimeWindow{st, st + s.size})
		}
		return dst
	case kindCumulate:
		cs := windowStart(ts, s.offset, s.size)
		for e := windowStart(ts, s.offset, s.slide) + s.slide; e <= cs+s.size; e += s.slide {
			dst = append(dst, TimeWindow{cs, e})
		}
		return dst
	case kindSession, kindDynamicSession:
		return append(dst, TimeWindow{ts, ts + gap})
	case kindGlobal:
		return append(dst, TimeWindow{engine.MinTime, engine.MaxTime})
	}
	return dst
}

// firesAtEnd reports whether the windows are complete only when the
// watermark reaches their End, not their max timestamp: event-time
// sessions, which a record at End touches and still extends. A record at
// End is on time until the watermark reaches End, so firing at End-1, as
// Flink does, would let its arrival order decide whether touching
// sessions merge (see the package doc).
func (s *assignSpec) firesAtEnd() bool { return s.isMerging() && !s.procTime }

// windowTime returns the time of window w: the watermark (or processing
// time) at which the default triggers fire it, from which its allowed
// lateness counts, and the event time its results carry. It is the max
// timestamp, End-1, except for windows that fire at End.
func (s *assignSpec) windowTime(w TimeWindow) int64 {
	if s.firesAtEnd() {
		return w.End
	}
	return w.MaxTimestamp()
}

// inRange reports whether window arithmetic on an event time ts (and a
// session gap) stays clear of overflow. engine.NoTimestamp is out of
// range; so are times within a few window sizes of the int64 limits,
// which no real clock produces: such records go to the error output.
func (s *assignSpec) inRange(ts, gap int64) bool {
	const margin = 1 << 62 // far beyond any window size or event time in use
	switch s.kind {
	case kindGlobal:
		return true
	case kindSession, kindDynamicSession:
		return ts > engine.MinTime && ts <= engine.MaxTime-gap-1
	}
	return ts > -margin && ts < margin
}
