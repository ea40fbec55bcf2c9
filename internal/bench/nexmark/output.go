package nexmark

import (
	"context"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// output is where a query's rows go: in a test, an exactly-once
// collecting sink whose committed rows are materialised; in the
// benchmark, a sink that counts rows and measures their latency.
type output struct {
	// collect mode
	collect bool
	rows    func() []string // set by attach: the materialised rows

	// benchmark mode
	meter *meter
}

// attach sinks s into o. row formats a value as its materialised row and,
// for upserts, the key it replaces the earlier row of ("" for rows that
// are appended).
func attach[T any](s *engine.Stream[T], o *output, row func(T) (key, row string)) {
	if o.collect {
		tx := engine.CollectExactlyOnce(s, "sink")
		o.rows = func() []string { return materialise(tx.CommittedValues(), row) }
		return
	}
	engine.SinkTo(s, "sink", &meterSink[T]{m: o.meter})
}

// materialise applies the rows in order: an upsert replaces its key's
// earlier row. The result is sorted.
func materialise[T any](vs []T, row func(T) (string, string)) []string {
	var out []string
	last := map[string]string{}
	for _, v := range vs {
		k, r := row(v)
		if k == "" {
			out = append(out, r)
		} else {
			last[k] = r
		}
	}
	for _, r := range last {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// meter counts a benchmark's output rows and the latency of each: the
// wall time at the sink minus the wall time at which the source generated
// the first event of the row's event-time millisecond (genWall). A
// windowed row's event time is its window's last millisecond, so its
// latency runs from the last input of its window being generated to its
// result — including the watermark's 4 s of event-time delay. Rows whose
// time no event had (auctions expiring after the last event, daily
// windows) fire at the end of input and are not counted in the latency.
type meter struct {
	base    int64          // event time of genWall[0]
	genWall []atomic.Int64 // per ms of event time: unix nanos, 0 if not yet
	rows    atomic.Int64
	mu      sync.Mutex
	hist    latencyHist
}

func newMeter(base int64, ms int64) *meter {
	return &meter{base: base, genWall: make([]atomic.Int64, ms+1)}
}

// generated records that event time ts was first generated at now.
func (m *meter) generated(ts int64, now int64) {
	if i := ts - m.base; i >= 0 && i < int64(len(m.genWall)) {
		m.genWall[i].CompareAndSwap(0, now)
	}
}

type meterSink[T any] struct{ m *meter }

func (s *meterSink[T]) Open(context.Context, engine.SinkInfo) (engine.SinkWriter[T], error) {
	return &meterWriter[T]{m: s.m}, nil
}

type meterWriter[T any] struct {
	m    *meter
	rows int64
	hist latencyHist
}

func (w *meterWriter[T]) Write(b []engine.Record[T]) error {
	w.rows += int64(len(b))
	now := time.Now().UnixNano()
	for i := range b {
		k := b[i].Time - w.m.base
		if k < 0 || k >= int64(len(w.m.genWall)) {
			continue
		}
		if g := w.m.genWall[k].Load(); g != 0 {
			w.hist.add(time.Duration(now - g))
		}
	}
	return nil
}

func (w *meterWriter[T]) Close() error {
	w.m.rows.Add(w.rows)
	w.m.mu.Lock()
	w.m.hist.merge(&w.hist)
	w.m.mu.Unlock()
	return nil
}

// latencyHist is a log-linear histogram of durations: 8 buckets per
// power of two of microseconds (12.5 % resolution).
type latencyHist struct {
	counts [64 * 8]int64
	n      int64
}

func bucketOf(d time.Duration) int {
	us := uint64(max(d.Microseconds(), 0))
	if us < 8 {
		return int(us)
	}
	e := bits.Len64(us) - 1 // us in [2^e, 2^(e+1))
	return e*8 + int((us>>(e-3))&7)
}

func bucketValue(b int) time.Duration {
	if b < 8 {
		return time.Duration(b) * time.Microsecond
	}
	e, f := b/8, uint64(b%8)
	return time.Duration((8+f)<<(e-3)) * time.Microsecond
}

func (h *latencyHist) add(d time.Duration) { h.counts[bucketOf(d)]++; h.n++ }

func (h *latencyHist) merge(o *latencyHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// percentile returns the p-th percentile (0..100), as its bucket's lower
// bound.
func (h *latencyHist) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(float64(h.n)*p/100 + 0.5)
	rank = max(1, min(rank, h.n))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return bucketValue(i)
		}
	}
	return bucketValue(len(h.counts) - 1)
}
