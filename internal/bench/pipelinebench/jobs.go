package pipelinebench

import (
	"context"
	"sync/atomic"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
)

// Event is a click-like record: 32 bytes.
type Event struct {
	User  uint64
	Value int64
	Time  int64
	Page  uint32
	Flags uint32
}

// Users is the number of distinct keys of the keyed workloads.
const Users = 10_000

// BaseTime is the event time of record 0 (2026-01-01T00:00:00Z).
const BaseTime = 1767225600000

// Gen returns record i: a deterministic pseudo-random event, 1 ms of event
// time per record.
func Gen(i int64) Event {
	x := splitmix(uint64(i))
	return Event{User: x % Users, Value: int64(x >> 40), Time: BaseTime + i, Page: uint32(x >> 16), Flags: uint32(x)}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Enrich is the map step of the chained workload.
func Enrich(e Event) Event {
	e.Value = e.Value*3 + int64(e.Page&0xff)
	e.Flags |= uint32(e.User & 0xf)
	return e
}

// Keep is the filter step: it keeps about three records in four.
func Keep(e Event) bool { return e.Value&3 != 0 }

// Chained runs datagen → map → filter → sink at parallelism p over n
// records and returns the sum the sink computed (to check against the
// baseline).
func Chained(ctx context.Context, n int64, p int, cfg engine.Config) (int64, error) {
	j, sum := chainedJob(n, p, cfg)
	err := j.Execute(ctx)
	return sum.Load(), err
}

// chainedJob builds Chained's job and the sum its sink computes.
func chainedJob(n int64, p int, cfg engine.Config) (*engine.Job, *atomic.Int64) {
	cfg.Parallelism = p
	j := engine.NewJob("chained", cfg)
	src := engine.SourceOf(j, "datagen", datagen.Source(datagen.Options{Count: n}, Gen), engine.NoWatermarks[Event]())
	m := engine.Map(src, "enrich", Enrich)
	f := m.Filter("keep", Keep)
	var sum atomic.Int64
	engine.SinkTo(f, "sum", &sumSink{total: &sum})
	return j, &sum
}

// ChainedBaseline is the hand-written loop that does Chained's work.
func ChainedBaseline(n int64) int64 {
	var sum int64
	for i := int64(0); i < n; i++ {
		e := Enrich(Gen(i))
		if Keep(e) {
			sum += e.Value
		}
	}
	return sum
}

// sumSink adds up Value per subtask and publishes the total at the end.
type sumSink struct{ total *atomic.Int64 }

func (s *sumSink) Open(context.Context, engine.SinkInfo) (engine.SinkWriter[Event], error) {
	return &sumWriter{total: s.total}, nil
}

type sumWriter struct {
	total *atomic.Int64
	sum   int64
}

func (w *sumWriter) Write(b []engine.Record[Event]) error {
	for i := range b {
		w.sum += b[i].Value.Value
	}
	return nil
}

func (w *sumWriter) Close() error { w.total.Add(w.sum); return nil }

// UserSum is the output of the keyed running sum.
type UserSum struct {
	User uint64
	Sum  int64
}

// runningSum keeps a running sum of Value per user in keyed state and emits
// it with every record.
type runningSum struct {
	sum interface {
		Value() (int64, bool, error)
		Update(int64) error
	}
}

func (r *runningSum) Open(rc *engine.RuntimeContext) error {
	s, err := engine.GetValueState[int64](rc, "sum")
	r.sum = s
	return err
}

func (r *runningSum) ProcessElement(e Event, ctx *engine.KeyedContext[uint64, UserSum]) error {
	v, _, err := r.sum.Value()
	if err != nil {
		return err
	}
	v += e.Value
	ctx.Emit(UserSum{User: e.User, Sum: v})
	return r.sum.Update(v)
}

// KeyedSum runs datagen → keyBy(user) → running sum in keyed state → sink at
// parallelism p over n records and returns the sum of the last running sum
// of every user (the total of all values).
func KeyedSum(ctx context.Context, n int64, p int, cfg engine.Config) (int64, error) {
	j, total := keyedSumJob(n, p, cfg)
	err := j.Execute(ctx)
	return total.Load(), err
}

// keyedSumJob builds KeyedSum's job and the total its sink computes.
func keyedSumJob(n int64, p int, cfg engine.Config) (*engine.Job, *atomic.Int64) {
	cfg.Parallelism = p
	j := engine.NewJob("keyed-sum", cfg)
	src := engine.SourceOf(j, "datagen", datagen.Source(datagen.Options{Count: n}, Gen), engine.NoWatermarks[Event]())
	ks := engine.KeyBy(src, func(e Event) uint64 { return e.User })
	sums := engine.KeyedProcess(ks, "running-sum", engine.KeyedProcessFunction[uint64, Event, UserSum](&runningSum{}))
	var total atomic.Int64
	engine.SinkTo(sums, "last", &lastSink{total: &total})
	return j, &total
}

// KeyedSumBaseline is the hand-written loop that does KeyedSum's work.
func KeyedSumBaseline(n int64) int64 {
	sums := make(map[uint64]int64, Users)
	last := make(map[uint64]int64, Users)
	for i := int64(0); i < n; i++ {
		e := Gen(i)
		s := sums[e.User] + e.Value
		sums[e.User] = s
		last[e.User] = s
	}
	var total int64
	for _, v := range last {
		total += v
	}
	return total
}

// lastSink keeps the last sum per user per subtask and adds them up at the
// end.
type lastSink struct{ total *atomic.Int64 }

func (s *lastSink) Open(context.Context, engine.SinkInfo) (engine.SinkWriter[UserSum], error) {
	return &lastWriter{total: s.total, last: map[uint64]int64{}}, nil
}

type lastWriter struct {
	total *atomic.Int64
	last  map[uint64]int64
}

func (w *lastWriter) Write(b []engine.Record[UserSum]) error {
	for i := range b {
		w.last[b[i].Value.User] = b[i].Value.Sum
	}
	return nil
}

func (w *lastWriter) Close() error {
	var t int64
	for _, v := range w.last {
		t += v
	}
	w.total.Add(t)
	return nil
}
