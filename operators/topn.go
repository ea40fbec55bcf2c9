package operators

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/engine"
)

// Ranked is one row of a top-N result: the Rank-th (from 1) record of Key
// in Window.
type Ranked[K comparable, T any] struct {
	Key    K
	Window TimeWindow
	Rank   int
	Value  T
}

// TopN emits, when each window fires, the n best records of each key in
// it, best first, as n (or fewer) Ranked rows with the window's time
// (SQL's window Top-N: ROW_NUMBER() OVER (PARTITION BY key, window ORDER
// BY ...) <= n; the time is WindowContext.WindowTime: the max timestamp,
// or End for event-time sessions). less(a, b) says a ranks before b; ties go to
// the earlier event time, then the earlier arrival.
//
// State holds at most n records per key and window (per slice on sliding
// and cumulating windows, whose windows merge their slices' top n). T
// needs a codec (built-in or ElementCodec). For the top n keys of a
// window, window-aggregate per key first, then key the results by a
// constant and take TopN over a tumbling window of the same size (the
// results carry their window's max timestamp, so they land in the same
// window).
func TopN[T any, K comparable](w *WindowedStream[T, K], n int, less func(a, b T) bool) *engine.Stream[Ranked[K, T]] {
	return finish(w.ks, topNOp(w, n, less, func() func(Ranked[K, T]) Ranked[K, T] {
		return func(r Ranked[K, T]) Ranked[K, T] { return r }
	}))
}

// topNOp is TopN with each row mapped to Out by an instance of newOut.
func topNOp[T any, K comparable, Out any](w *WindowedStream[T, K], n int, less func(a, b T) bool,
	newOut func() func(Ranked[K, T]) Out) opSpec[T, K, Out] {
	b := w.build()
	if n <= 0 {
		b.errs = append(b.errs, fmt.Errorf("operators: top-N count %d must be positive", n))
	}
	if less == nil {
		b.errs = append(b.errs, errors.New("operators: nil top-N order"))
	}
	codec := recordsCodec[T]{b.elementCodec()}
	// before reports whether a ranks strictly before b.
	before := func(a, b engine.Record[T]) bool {
		if less(a.Value, b.Value) {
			return true
		}
		return !less(b.Value, a.Value) && a.Time < b.Time
	}
	add := func(v T, ts int64, acc []engine.Record[T], _ bool) []engine.Record[T] {
		r := engine.Record[T]{Value: v, Time: ts}
		i := len(acc)
		for i > 0 && before(r, acc[i-1]) {
			i--
		}
		if i >= n {
			return acc
		}
		if len(acc) < n {
			acc = append(acc, engine.Record[T]{})
		}
		copy(acc[i+1:], acc[i:len(acc)-1])
		acc[i] = r
		return acc
	}
	merge := func(a []engine.Record[T], _ bool, b []engine.Record[T]) []engine.Record[T] {
		out := make([]engine.Record[T], 0, min(n, len(a)+len(b)))
		i, j := 0, 0
		for len(out) < n && (i < len(a) || j < len(b)) {
			if j == len(b) || (i < len(a) && !before(b[j], a[i])) {
				out = append(out, a[i])
				i++
			} else {
				out = append(out, b[j])
				j++
			}
		}
		return out
	}
	return newOpSpec(b, func() windowFn[T, K, []engine.Record[T], Out] {
		out := newOut()
		return timedFn(add, merge, codec, func(key K, acc []engine.Record[T], wc *WindowContext[Out]) error {
			for i, r := range acc {
				wc.Emit(out(Ranked[K, T]{Key: key, Window: wc.window, Rank: i + 1, Value: r.Value}))
			}
			return nil
		})
	})
}

// Keep says which record of a key a deduplication keeps.
type Keep uint8

const (
	// KeepFirst keeps the first record: the earliest in event time (ties:
	// the first to arrive) within a window, the first to arrive in Dedup
	// (or the earliest, with DedupOptions.EventTime).
	KeepFirst Keep = iota
	// KeepLast keeps the last record: the latest in event time (ties: the
	// last to arrive) within a window, the last to arrive in Dedup (or the
	// latest, with DedupOptions.EventTime).
	KeepLast
)

func (k Keep) String() string {
	if k == KeepLast {
		return "keep-last"
	}
	return "keep-first"
}

// DedupWindow emits one record per key and window when the window fires:
// its first or last in event time (SQL's window deduplication). The record
// is emitted with the window's time (WindowContext.WindowTime). State
// holds one record per key and window (or slice). T needs a codec.
func DedupWindow[T any, K comparable](w *WindowedStream[T, K], keep Keep) *engine.Stream[T] {
	return finish(w.ks, dedupWindowOp(w, keep, func() func(K, TimeWindow, T) T {
		return func(_ K, _ TimeWindow, v T) T { return v }
	}))
}

func dedupWindowOp[T any, K comparable, Out any](w *WindowedStream[T, K], keep Keep, newOut func() func(K, TimeWindow, T) Out) opSpec[T, K, Out] {
	b := w.build()
	if keep != KeepFirst && keep != KeepLast {
		b.errs = append(b.errs, fmt.Errorf("operators: unknown dedup keep %d", keep))
	}
	codec := timedCodec[T]{b.elementCodec()}
	// wins reports whether record b replaces the kept record a; b arrived
	// later (or comes from a later slice).
	wins := func(a, b engine.Record[T]) bool {
		if keep == KeepFirst {
			return b.Time < a.Time
		}
		return b.Time >= a.Time
	}
	add := func(v T, ts int64, acc engine.Record[T], present bool) engine.Record[T] {
		r := engine.Record[T]{Value: v, Time: ts}
		if !present || wins(acc, r) {
			return r
		}
		return acc
	}
	merge := func(a engine.Record[T], aPresent bool, b engine.Record[T]) engine.Record[T] {
		if !aPresent || wins(a, b) {
			return b
		}
		return a
	}
	return newOpSpec(b, func() windowFn[T, K, engine.Record[T], Out] {
		out := newOut()
		return timedFn(add, merge, codec, func(key K, acc engine.Record[T], wc *WindowContext[Out]) error {
			wc.Emit(out(key, wc.window, acc.Value))
			return nil
		})
	})
}
