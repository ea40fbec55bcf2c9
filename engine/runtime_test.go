package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitGoroutines waits until at most n goroutines run, or fails with their
// stacks.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines still running, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoGoroutineLeaks runs jobs that succeed, fail in an operator, panic,
// and are cancelled mid-stream with senders blocked on full channels, and
// checks that every goroutine they started has stopped.
func TestNoGoroutineLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	build := func(p int, fail func(int) error) *Job {
		j := NewJob("leaks", Config{Parallelism: p, ChannelCapacity: 1, BatchSize: 8})
		s := SourceOf[int](j, "gen", endless{}, WatermarkStrategy[int]{})
		ks := KeyBy(s.Rebalance(), func(v int) int { return v % 13 })
		out := KeyedProcess(ks, "work", KeyedProcessFunction[int, int, int](keyedFunc[int, int, int](func(v int, ctx *KeyedContext[int, int]) error {
			if err := fail(v); err != nil {
				return err
			}
			ctx.Emit(v)
			return nil
		})))
		// A sink that is slow at first, so that upstream channels fill and
		// senders block.
		var n atomic.Int64
		ForEach(out, "slow", func(int) error {
			if n.Add(1) < 50 {
				time.Sleep(time.Millisecond)
			}
			return nil
		})
		return j
	}
	for _, p := range []int{1, 3} {
		// Cancelled while running.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if err := build(p, func(int) error { return nil }).Execute(ctx); !errors.Is(err, ErrJobCancelled) {
			t.Fatalf("p=%d cancel: %v", p, err)
		}
		cancel()
		// An operator fails.
		if err := build(p, func(v int) error {
			if v > 5000 {
				return errors.New("enough")
			}
			return nil
		}).Execute(context.Background()); err == nil || !strings.Contains(err.Error(), "enough") {
			t.Fatalf("p=%d failure: %v", p, err)
		}
		// An operator panics.
		if err := build(p, func(v int) error {
			if v > 5000 {
				panic("boom")
			}
			return nil
		}).Execute(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("p=%d panic: %v", p, err)
		}
	}
	// Bounded success.
	j := NewJob("ok", Config{Parallelism: 2})
	Collect(Map(FromSlice(j, "src", make([]int, 10000), WatermarkStrategy[int]{}), "m", func(v int) int { return v }), "sink")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

func TestValidationNamesTheOperator(t *testing.T) {
	cases := []struct {
		name  string
		build func() *Job
		want  string
	}{
		{"nil map function", func() *Job {
			j := NewJob("v", Config{})
			Collect(Map[int, int](FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{}), "mapper", nil), "sink")
			return j
		}, `operator "mapper": nil map function`},
		{"nil filter", func() *Job {
			j := NewJob("v", Config{})
			Collect(FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{}).Filter("keeper", nil), "sink")
			return j
		}, `operator "keeper": nil filter function`},
		{"parallelism above max", func() *Job {
			j := NewJob("v", Config{MaxParallelism: 8})
			Collect(Map(FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{}), "wide", func(v int) int { return v }).SetParallelism(9), "sink")
			return j
		}, `operator "wide": parallelism 9 exceeds max parallelism 8`},
		{"stream of another job", func() *Job {
			other := NewJob("other", Config{})
			s := FromSlice(other, "src", []int{1}, WatermarkStrategy[int]{})
			j := NewJob("v", Config{})
			FromSlice(j, "own", []int{1}, WatermarkStrategy[int]{})
			n := j.addNode("orphan", kindOneInput)
			n.slots = []*slot{{kit: typedKit[int]{}}}
			s.connect(n, 0)
			return j
		}, `operator "orphan": its input stream belongs to another job`},
		{"operator with no input", func() *Job {
			j := NewJob("v", Config{})
			FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{})
			n := j.addNode("floating", kindOneInput)
			n.slots = []*slot{{kit: typedKit[int]{}}}
			return j
		}, `operator "floating": operator has no input`},
		{"keyed operator on a non-keyed stream", func() *Job {
			j := NewJob("v", Config{})
			s := FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{})
			n := j.addNode("needs-keys", kindOneInput)
			n.keyed = true
			n.slots = []*slot{{kit: typedKit[int]{}}}
			s.Rebalance().connect(n, 0)
			return j
		}, `operator "needs-keys": keyed operator's input 1 is not a keyed stream`},
		{"cycle", func() *Job {
			j := NewJob("v", Config{})
			s := FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{})
			a := Map(s, "a", func(v int) int { return v })
			b := Map(a, "b", func(v int) int { return v })
			// Feed b back into a.
			b.connect(a.head(), 0)
			return j
		}, `is part of a cycle`},
		{"duplicate uid", func() *Job {
			j := NewJob("v", Config{})
			s := FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{})
			Collect(Map(s, "same", func(v int) int { return v }), "same")
			return j
		}, `uid "same" is also used by operator "same"`},
		{"key type without codec", func() *Job {
			j := NewJob("v", Config{})
			s := FromSlice(j, "src", []int{1}, WatermarkStrategy[int]{})
			type point struct{ X, Y int }
			KeyBy(s, func(v int) point { return point{v, v} })
			return j
		}, `no built-in codec`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.build().Execute(context.Background())
			if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestIdleSplitLetsWatermarkAdvance: one source subtask never emits. With
// an idle timeout, windows of the other fire while the job still runs;
// without one, they would wait for the end of input.
func TestIdleSplitLetsWatermarkAdvance(t *testing.T) {
	j := NewJob("idle", Config{Parallelism: 2, WatermarkInterval: time.Millisecond})
	ws := WatermarkStrategy[int]{Timestamp: func(v int, _ int64) int64 { return int64(v) }}.WithIdleness(20 * time.Millisecond)
	s := SourceOf[int](j, "half", halfSource{}, ws)
	ks := KeyBy(s, func(v int) int { return 0 })
	out := KeyedProcess(ks, "fire", KeyedProcessFunction[int, int, string](&firstWindow{}))
	var fired atomic.Bool
	ForEach(out, "sink", func(string) error { fired.Store(true); return nil })
	ctx, cancel := context.WithCancel(context.Background())
	r, err := j.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !fired.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	r.Wait()
	if !fired.Load() {
		t.Fatal("the window never fired: the idle subtask held the watermark back")
	}
}

// halfSource: subtask 0 emits 0..999 then waits forever; subtask 1 never
// emits.
type halfSource struct{}

func (halfSource) Open(_ context.Context, info SourceInfo) (SourceReader[int], error) {
	return &halfReader{sub: info.Subtask}, nil
}

type halfReader struct{ sub, n int }

func (r *halfReader) Read(ctx context.Context, out *SourceOutput[int]) error {
	if r.sub == 0 && r.n < 1000 {
		for i := 0; i < 100; i++ {
			out.Collect(r.n)
			r.n++
		}
		return nil
	}
	select {
	case <-time.After(5 * time.Millisecond):
	case <-ctx.Done():
	}
	return nil
}
func (r *halfReader) Close() error { return nil }

// firstWindow emits when the window [0,100) closes.
type firstWindow struct{}

func (firstWindow) ProcessElement(v int, ctx *KeyedContext[int, string]) error {
	if v < 100 {
		return ctx.RegisterEventTimeTimer(99)
	}
	return nil
}
func (firstWindow) OnTimer(ts int64, ctx *KeyedContext[int, string]) error {
	ctx.Emit(fmt.Sprint("fired ", ts))
	return nil
}

type order struct {
	ID   int
	Item string
}

type payment struct {
	ID     int
	Amount int
}

func TestKeyedCoProcessJoin(t *testing.T) {
	j := NewJob("join", Config{Parallelism: 3})
	var orders []order
	var payments []payment
	for i := 0; i < 500; i++ {
		orders = append(orders, order{ID: i, Item: fmt.Sprint("item", i)})
		payments = append(payments, payment{ID: 499 - i, Amount: 499 - i})
	}
	os := KeyBy(FromSlice(j, "orders", orders, WatermarkStrategy[order]{}), func(o order) int { return o.ID })
	ps := KeyBy(FromSlice(j, "payments", payments, WatermarkStrategy[payment]{}), func(p payment) int { return p.ID })
	out := KeyedCoProcess(os, ps, "join", KeyedCoProcessFunction[int, order, payment, string](&pairJoin{}))
	c := Collect(out, "sink")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.Values()
	slices.Sort(got)
	if len(got) != 500 {
		t.Fatalf("%d pairs", len(got))
	}
	for _, g := range got {
		var id, amount int
		var item string
		if _, err := fmt.Sscanf(g, "%d %s %d", &id, &item, &amount); err != nil || item != fmt.Sprint("item", id) || amount != id {
			t.Fatalf("bad pair %q", g)
		}
	}
}

// pairJoin keeps the unmatched side in keyed state.
type pairJoin struct {
	item interface {
		Value() (string, bool, error)
		Update(string) error
		Clear() error
	}
	amount interface {
		Value() (int64, bool, error)
		Update(int64) error
		Clear() error
	}
}

func (p *pairJoin) Open(rc *RuntimeContext) error {
	var err error
	if p.item, err = GetValueState[string](rc, "item"); err != nil {
		return err
	}
	p.amount, err = GetValueState[int64](rc, "amount")
	return err
}

func (p *pairJoin) ProcessElement1(o order, ctx *KeyedContext[int, string]) error {
	if a, ok, err := p.amount.Value(); err != nil || ok {
		ctx.Emit(fmt.Sprintf("%d %s %d", o.ID, o.Item, a))
		return errors.Join(err, p.amount.Clear())
	}
	return p.item.Update(o.Item)
}

func (p *pairJoin) ProcessElement2(pm payment, ctx *KeyedContext[int, string]) error {
	if it, ok, err := p.item.Value(); err != nil || ok {
		ctx.Emit(fmt.Sprintf("%d %s %d", pm.ID, it, pm.Amount))
		return errors.Join(err, p.item.Clear())
	}
	return p.amount.Update(int64(pm.Amount))
}

func TestBroadcastAndCoProcess(t *testing.T) {
	j := NewJob("bc", Config{Parallelism: 3})
	data := FromSlice(j, "data", []int{1, 2, 3, 4, 5, 6}, WatermarkStrategy[int]{})
	rules := FromSlice(j, "rules", []string{"r1", "r2"}, WatermarkStrategy[string]{}).SetParallelism(1)
	out := CoProcess(Connect(data, rules.Broadcast()), "mix", CoProcessFunction[int, string, string](&mixer{}))
	c := Collect(out, "sink")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	var nRules, nData int
	for _, v := range c.Values() {
		if strings.HasPrefix(v, "rule") {
			nRules++
		} else {
			nData++
		}
	}
	// Every subtask of "mix" sees both rules; the data is split among them.
	if nRules != 2*3 || nData != 6 {
		t.Fatalf("rules %d (want 6), data %d (want 6): %v", nRules, nData, c.Values())
	}
}

type mixer struct{}

func (mixer) ProcessElement1(v int, ctx *Context[string]) error {
	ctx.Emit(fmt.Sprint("data ", v))
	return nil
}
func (mixer) ProcessElement2(r string, ctx *Context[string]) error {
	ctx.Emit(fmt.Sprint("rule ", r, " at ", ctx.Operator().Subtask()))
	return nil
}

func TestSideOutputsAndLateCounting(t *testing.T) {
	j := NewJob("side", Config{Parallelism: 2})
	odd := NewOutputTag[string]("odd")
	dropped := NewOutputTag[int]("nobody-listens")
	s := FromSlice(j, "src", []int{1, 2, 3, 4, 5}, WatermarkStrategy[int]{})
	main := Process(s, "split", ProcessFunc[int, int](func(v int, ctx *Context[int]) error {
		if v%2 == 1 {
			odd.Emit(ctx, fmt.Sprint("odd ", v))
			dropped.Emit(ctx, v)
			return nil
		}
		ctx.Emit(v)
		return nil
	}))
	evens := Collect(main, "evens")
	odds := Collect(SideOutput(main, odd), "odds")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(evens.Values()) != 2 || len(odds.Values()) != 3 {
		t.Fatalf("evens %v odds %v", evens.Values(), odds.Values())
	}
	m := r.Metrics()
	var split OperatorMetrics
	for _, om := range m.Operators {
		if om.Name == "split" {
			split = om
		}
	}
	if split.RecordsIn != 5 || split.RecordsOut != 2 || split.SideOutputs["odd"] != 3 || split.SideOutputs["nobody-listens"] != 3 {
		t.Fatalf("split metrics %+v", split)
	}
}
