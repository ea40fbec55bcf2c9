// Package windowbench holds the workloads of `sluice bench windows` and of
// the window benchmarks in package operators: a count per key in event-time
// windows, run as a Sluice job and as the hand-written Go loop that
// computes the same results, so that both are measured side by side in one
// process run.
//
// The stream: record i is a click of user splitmix(i) mod Users at event
// time BaseTime + i/PerMs, so event time advances PerMs records per
// millisecond (100,000 records per second of event time by default) and a
// 10 s window holds about 1,000,000 records, 100 per user. Each result —
// a user's count in a window, with the result's event time — is folded
// into an order-independent checksum, which the job and the loop must
// agree on.
package windowbench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
)

// Click is the record of the workload: 24 bytes.
type Click struct {
	User  uint64
	Time  int64
	Value int64
}

const (
	// Users is the number of distinct keys.
	Users = 10_000
	// PerMs is the number of records per millisecond of event time.
	PerMs = 100
	// BaseTime is the event time of record 0 (2026-01-01T00:00:00Z).
	BaseTime = 1767225600000
	// RecordBytes is the payload size of a record, for bytes/s.
	RecordBytes = 24
)

// Gen returns record i.
func Gen(i int64) Click {
	x := splitmix(uint64(i))
	return Click{User: x % Users, Time: BaseTime + i/PerMs, Value: int64(x >> 48)}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Result is what a run computed: the number of (user, window) results and
// their checksum.
type Result struct {
	Results  int64
	Checksum uint64
}

// add folds in one result: user's count in the window ending at
// windowEnd, emitted at event time at.
func (r *Result) add(user uint64, windowEnd, at, count int64) {
	r.Results++
	r.Checksum += splitmix(user ^ uint64(windowEnd)*0x9e3779b97f4a7c15 ^ uint64(count)<<40 ^ splitmix(uint64(at)))
}

// Spec is a workload: session windows when Gap is set, else tumbling
// windows when Slide equals Size, else sliding ones.
type Spec struct {
	Size, Slide time.Duration
	Gap         time.Duration
}

// Tumbling10s and Hop10s2s are the headline workloads.
var (
	Tumbling10s = Spec{Size: 10 * time.Second, Slide: 10 * time.Second}
	Hop10s2s    = Spec{Size: 10 * time.Second, Slide: 2 * time.Second}
	// Session500ms: a user's clicks come about 100 ms apart, so sessions
	// close after a gap of 500 ms about once every 150 clicks.
	Session500ms = Spec{Gap: 500 * time.Millisecond}
)

func (s Spec) assigner() operators.Assigner {
	if s.Gap > 0 {
		return operators.Session(s.Gap)
	}
	if s.Slide == s.Size {
		return operators.Tumbling(s.Size)
	}
	return operators.Sliding(s.Size, s.Slide)
}

// Name names the workload.
func (s Spec) Name() string {
	if s.Gap > 0 {
		return fmt.Sprintf("session-%v-count", s.Gap)
	}
	if s.Slide == s.Size {
		return fmt.Sprintf("tumbling-%v-count", s.Size)
	}
	return fmt.Sprintf("hop-%v-%v-count", s.Size, s.Slide)
}

// Job runs the workload as a job: datagen → keyBy(user) → window count →
// checksum sink, over n records at parallelism p, with cfg's checkpoints
// and state backend. It returns the results and the number of
// checkpoints completed.
func Job(ctx context.Context, s Spec, n int64, p int, cfg engine.Config) (Result, int, error) {
	cfg.Parallelism = p
	j := engine.NewJob("window-bench", cfg)
	src := engine.SourceOf(j, "clicks", datagen.Source(datagen.Options{Count: n}, Gen),
		engine.Monotonous(func(c Click) int64 { return c.Time }))
	ks := engine.KeyBy(src, func(c Click) uint64 { return c.User })
	counts := operators.AggregateWindowed(operators.Window(ks, "count", s.assigner()), operators.Count[Click]())
	sink := &checksumSink{}
	engine.SinkTo(counts, "checksum", sink)
	r, err := j.Start(ctx)
	if err != nil {
		return Result{}, 0, err
	}
	err = r.Wait()
	cps := 0
	for _, e := range r.Events() {
		if e.Kind == engine.EventCheckpointCompleted {
			cps++
		}
	}
	return Result{Results: sink.results.Load(), Checksum: sink.sum.Load()}, cps, err
}

type checksumSink struct {
	results atomic.Int64
	sum     atomic.Uint64
}

func (s *checksumSink) Open(context.Context, engine.SinkInfo) (engine.SinkWriter[operators.Windowed[uint64, int64]], error) {
	return &checksumWriter{s: s}, nil
}

type checksumWriter struct {
	s *checksumSink
	r Result
}

func (w *checksumWriter) Write(b []engine.Record[operators.Windowed[uint64, int64]]) error {
	for i := range b {
		v := &b[i].Value
		w.r.add(v.Key, v.Window.End, b[i].Time, v.Value)
	}
	return nil
}

func (w *checksumWriter) Close() error {
	w.s.results.Add(w.r.Results)
	w.s.sum.Add(w.r.Checksum)
	return nil
}

// Baseline computes the workload's results with a hand-written loop: a
// count per user per slice (gcd of size and slide) in a ring of maps, and
// at every window end the per-user sums of the window's slices, emitted at
// the window's max timestamp (end-1).
func Baseline(s Spec, n int64) Result {
	if s.Gap > 0 {
		return sessionBaseline(s.Gap.Milliseconds(), n)
	}
	size, slide := s.Size.Milliseconds(), s.Slide.Milliseconds()
	slice := gcd(size, slide)
	k := size / slice
	ring := make([]map[uint64]int64, k)
	for i := range ring {
		ring[i] = make(map[uint64]int64, Users)
	}
	merged := make(map[uint64]int64, Users)
	var res Result
	slot := func(sliceEnd int64) map[uint64]int64 { return ring[floorMod(sliceEnd/slice, k)] }
	// close finishes the slice ending at e: the window ending at e, if
	// any, fires, and the ring slot of the slice that leaves the windows
	// is emptied for reuse.
	closeSlice := func(e int64) {
		if floorMod(e-size, slide) == 0 {
			clear(merged)
			for st := e - size + slice; st <= e; st += slice {
				for u, c := range slot(st) {
					merged[u] += c
				}
			}
			for u, c := range merged {
				res.add(u, e, e-1, c)
			}
		}
		clear(slot(e - size + slice))
	}
	cur := int64(0) // end of the open slice; 0: none yet
	for i := int64(0); i < n; i++ {
		c := Gen(i)
		se := c.Time - floorMod(c.Time, slice) + slice
		if cur == 0 {
			cur = se
		}
		for cur < se {
			closeSlice(cur)
			cur += slice
		}
		slot(se)[c.User]++
	}
	// End of input: every window that holds records fires.
	for end := cur + size - slice; cur <= end; cur += slice {
		closeSlice(cur)
	}
	return res
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func floorMod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}

// sessionBaseline counts clicks per user session: records come in time
// order, so a user's session closes when the next click comes more than
// gap after the last one. Session windows [t, t+gap) that touch merge: a
// click exactly gap after the last one extends the session, whichever
// parallel source it comes from, because the job fires a session only
// when the watermark reaches its end (see package operators), and its
// result carries that end as its event time.
func sessionBaseline(gap, n int64) Result {
	type session struct{ last, count int64 }
	open := make(map[uint64]*session, Users)
	var res Result
	for i := int64(0); i < n; i++ {
		c := Gen(i)
		s := open[c.User]
		if s == nil {
			open[c.User] = &session{last: c.Time, count: 1}
			continue
		}
		if c.Time-s.last > gap { // windows [t, t+gap) that touch merge
			res.add(c.User, s.last+gap, s.last+gap, s.count)
			s.count = 0
		}
		s.last = c.Time
		s.count++
	}
	for u, s := range open {
		res.add(u, s.last+gap, s.last+gap, s.count)
	}
	return res
}
