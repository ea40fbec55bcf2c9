package operators

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// Evictor removes records from a window's contents before and/or after the
// window function runs, as Flink's Evictor. A window with an evictor keeps
// its records (with their timestamps) instead of an accumulator, and an
// incremental Aggregate or Reduce is computed over the records that remain
// when the window fires. What EvictAfter keeps is written back to state.
//
// Both methods return the records to keep, in their original order; they
// may return a sub-slice of elems or filter it in place.
type Evictor[T any] interface {
	EvictBefore(elems []engine.Record[T], w TimeWindow, ctx EvictorContext) []engine.Record[T]
	EvictAfter(elems []engine.Record[T], w TimeWindow, ctx EvictorContext) []engine.Record[T]
}

// EvictorContext tells an evictor the operator's time.
type EvictorContext struct {
	Watermark      int64
	ProcessingTime int64
}

// evictCore is what a built-in evictor is made of: the records it keeps,
// and a check of its parameters.
type evictCore[T any] interface {
	evict(elems []engine.Record[T]) []engine.Record[T]
	validate() error
}

// sided is a built-in evictor: its core runs before the window function, or
// after it when after is set.
type sided[T any, C evictCore[T]] struct {
	core  C
	after bool
}

func (s sided[T, C]) validate() error { return s.core.validate() }

func (s sided[T, C]) EvictBefore(elems []engine.Record[T], _ TimeWindow, _ EvictorContext) []engine.Record[T] {
	if s.after {
		return elems
	}
	return s.core.evict(elems)
}

func (s sided[T, C]) EvictAfter(elems []engine.Record[T], _ TimeWindow, _ EvictorContext) []engine.Record[T] {
	if !s.after {
		return elems
	}
	return s.core.evict(elems)
}

// CountEvictor keeps the last n records of a window: before the window
// function runs, or after it when after is set.
func CountEvictor[T any](n int, after bool) Evictor[T] {
	return sided[T, countEvictor[T]]{core: countEvictor[T]{n: n}, after: after}
}

type countEvictor[T any] struct{ n int }

func (e countEvictor[T]) validate() error {
	if e.n <= 0 {
		return fmt.Errorf("operators: count evictor count %d must be positive", e.n)
	}
	return nil
}

func (e countEvictor[T]) evict(elems []engine.Record[T]) []engine.Record[T] {
	if len(elems) > e.n {
		return elems[len(elems)-e.n:]
	}
	return elems
}

// TimeEvictor keeps the records of a window whose timestamps are within
// keep of the newest record's (Flink's TimeEvictor): records at or before
// newest - keep are removed.
func TimeEvictor[T any](keep time.Duration, after bool) Evictor[T] {
	return sided[T, timeEvictor[T]]{core: timeEvictor[T]{keep: keep}, after: after}
}

type timeEvictor[T any] struct{ keep time.Duration }

func (e timeEvictor[T]) validate() error {
	ms, err := millis("time evictor window", e.keep)
	if err != nil {
		return err
	}
	if ms <= 0 {
		return fmt.Errorf("operators: time evictor window %v must be positive", e.keep)
	}
	return nil
}

func (e timeEvictor[T]) evict(elems []engine.Record[T]) []engine.Record[T] {
	if len(elems) == 0 {
		return elems
	}
	newest := elems[0].Time
	for _, r := range elems[1:] {
		newest = max(newest, r.Time)
	}
	cutoff := newest - e.keep.Milliseconds()
	kept := elems[:0]
	for _, r := range elems {
		if r.Time > cutoff {
			kept = append(kept, r)
		}
	}
	return kept
}

// DeltaEvictor removes the records whose delta to the window's last record
// is at least threshold (Flink's DeltaEvictor).
func DeltaEvictor[T any](threshold float64, delta func(a, b T) float64, after bool) Evictor[T] {
	return sided[T, deltaEvictor[T]]{core: deltaEvictor[T]{threshold: threshold, delta: delta}, after: after}
}

type deltaEvictor[T any] struct {
	threshold float64
	delta     func(a, b T) float64
}

func (e deltaEvictor[T]) validate() error {
	if e.delta == nil {
		return fmt.Errorf("operators: delta evictor needs a delta function")
	}
	return nil
}

func (e deltaEvictor[T]) evict(elems []engine.Record[T]) []engine.Record[T] {
	if len(elems) == 0 {
		return elems
	}
	last := elems[len(elems)-1].Value
	kept := elems[:0]
	for _, r := range elems {
		if e.delta(r.Value, last) < e.threshold {
			kept = append(kept, r)
		}
	}
	return kept
}
