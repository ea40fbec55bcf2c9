package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChainedMapFilter(t *testing.T) {
	j := NewJob("t", Config{})
	vals := make([]int, 10000)
	for i := range vals {
		vals[i] = i
	}
	s := FromSlice(j, "src", vals, WatermarkStrategy[int]{})
	m := Map(s, "double", func(v int) int { return v * 2 })
	f := m.Filter("div3", func(v int) bool { return v%3 == 0 })
	c := Collect(f, "sink")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.Values()
	var want []int
	for _, v := range vals {
		if v*2%3 == 0 {
			want = append(want, v*2)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
}

type sumFn struct {
	sum interface {
		Value() (int64, bool, error)
		Update(int64) error
	}
}

func (f *sumFn) Open(rc *RuntimeContext) error {
	s, err := GetValueState[int64](rc, "sum")
	f.sum = s
	return err
}

func (f *sumFn) ProcessElement(v [2]int64, ctx *KeyedContext[int64, [2]int64]) error {
	cur, _, err := f.sum.Value()
	if err != nil {
		return err
	}
	cur += v[1]
	ctx.Emit([2]int64{v[0], cur})
	return f.sum.Update(cur)
}

func TestKeyedRunningSumParallelism(t *testing.T) {
	var in [][2]int64
	for i := int64(0); i < 20000; i++ {
		in = append(in, [2]int64{i % 97, i})
	}
	run := func(p int) map[int64][]int64 {
		j := NewJob("sum", Config{Parallelism: p})
		s := FromSlice(j, "src", in, WatermarkStrategy[[2]int64]{})
		ks := KeyBy(s, func(v [2]int64) int64 { return v[0] })
		out := KeyedProcess(ks, "sum", KeyedProcessFunction[int64, [2]int64, [2]int64](&sumFn{}))
		c := Collect(out, "sink")
		if err := j.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		res := map[int64][]int64{}
		for _, v := range c.Values() {
			res[v[0]] = append(res[v[0]], v[1])
		}
		return res
	}
	base := run(1)
	for _, p := range []int{2, 4} {
		got := run(p)
		for k, sums := range base {
			// Per key, the final sum is the same; the multiset of partial
			// sums depends on arrival order only within a key, which is
			// preserved per source subtask but not across them.
			if got[k][len(got[k])-1] != sums[len(sums)-1] && slices.Max(got[k]) != slices.Max(sums) {
				t.Fatalf("p=%d key %d: final sum %d, want %d", p, k, slices.Max(got[k]), slices.Max(sums))
			}
			if len(got[k]) != len(sums) {
				t.Fatalf("p=%d key %d: %d outputs, want %d", p, k, len(got[k]), len(sums))
			}
		}
	}
}

func TestOperatorErrorNamesOperatorAndStopsJob(t *testing.T) {
	j := NewJob("fail", Config{Parallelism: 2})
	vals := make([]int, 100000)
	s := FromSlice(j, "src", vals, WatermarkStrategy[int]{})
	ks := KeyBy(s, func(v int) int { return v })
	out := KeyedProcess(ks, "boom", KeyedProcessFunction[int, int, int](keyedFunc[int, int, int](func(v int, ctx *KeyedContext[int, int]) error {
		return errors.New("kaput")
	})))
	Collect(out, "sink")
	err := j.Execute(context.Background())
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "boom" || !strings.Contains(err.Error(), "kaput") {
		t.Fatalf("err = %v", err)
	}
}

func TestPanicBecomesOperatorError(t *testing.T) {
	j := NewJob("panic", Config{})
	s := FromSlice(j, "src", []int{1, 2, 3}, WatermarkStrategy[int]{})
	m := Map(s, "explode", func(v int) int {
		if v == 2 {
			panic("at the disco")
		}
		return v
	})
	Collect(m, "sink")
	err := j.Execute(context.Background())
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "explode" || oe.Panic == "" {
		t.Fatalf("err = %v", err)
	}
}

type keyedFunc[K comparable, In, Out any] func(v In, ctx *KeyedContext[K, Out]) error

func (f keyedFunc[K, In, Out]) ProcessElement(v In, ctx *KeyedContext[K, Out]) error {
	return f(v, ctx)
}

func TestEventTimeTimersFireAtFinalWatermark(t *testing.T) {
	var in []Record[string]
	for i := 0; i < 1000; i++ {
		in = append(in, Record[string]{Value: fmt.Sprint("k", i%10), Time: int64(i)})
	}
	j := NewJob("timers", Config{Parallelism: 2, WatermarkInterval: -1})
	s := FromRecords(j, "src", in, 0)
	ks := KeyBy(s, func(r Record[string]) string { return r.Value })
	out := KeyedProcess(ks, "count", KeyedProcessFunction[string, Record[string], string](&countWindow{}))
	c := Collect(out, "sink")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.Values()
	slices.Sort(got)
	// Ten keys, ten 100 ms windows each, 10 records per key per window.
	if len(got) != 100 {
		t.Fatalf("got %d firings: %v", len(got), got[:min(5, len(got))])
	}
	for _, g := range got {
		if !strings.HasSuffix(g, "=10") {
			t.Fatalf("firing %q, want count 10", g)
		}
	}
}

// countWindow counts records per key in 100 ms tumbling windows with
// event-time timers.
type countWindow struct {
	counts interface {
		Get(int64) (int64, bool, error)
		Put(int64, int64) error
		Remove(int64) error
	}
}

func (c *countWindow) Open(rc *RuntimeContext) error {
	m, err := GetMapState[int64, int64](rc, "counts")
	c.counts = m
	return err
}

func (c *countWindow) ProcessElement(r Record[string], ctx *KeyedContext[string, string]) error {
	end := r.Time/100*100 + 99
	n, _, err := c.counts.Get(end)
	if err != nil {
		return err
	}
	if err := c.counts.Put(end, n+1); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(end)
}

func (c *countWindow) OnTimer(ts int64, ctx *KeyedContext[string, string]) error {
	n, _, err := c.counts.Get(ts)
	if err != nil {
		return err
	}
	ctx.Emit(fmt.Sprintf("%s@%d=%d", ctx.CurrentKey(), ts, n))
	return c.counts.Remove(ts)
}

func TestCancelStopsUnboundedJob(t *testing.T) {
	j := NewJob("forever", Config{Parallelism: 2})
	s := SourceOf[int](j, "gen", endless{}, WatermarkStrategy[int]{})
	ks := KeyBy(s, func(v int) int { return v % 7 })
	out := KeyedProcess(ks, "noop", KeyedProcessFunction[int, int, int](keyedFunc[int, int, int](func(v int, ctx *KeyedContext[int, int]) error {
		ctx.Emit(v)
		return nil
	})))
	Collect(out.Filter("none", func(int) bool { return false }), "sink")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := j.Execute(ctx)
	if !errors.Is(err, ErrJobCancelled) {
		t.Fatalf("err = %v", err)
	}
}

type endless struct{}

func (endless) Open(context.Context, SourceInfo) (SourceReader[int], error) {
	return &endlessReader{}, nil
}

type endlessReader struct{ n int }

func (r *endlessReader) Read(_ context.Context, out *SourceOutput[int]) error {
	for i := out.Room(); i > 0; i-- {
		r.n++
		out.Collect(r.n)
	}
	return nil
}
func (r *endlessReader) Close() error { return nil }
