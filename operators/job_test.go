package operators

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// click is the record of the job tests.
type click struct {
	User string
	TS   int64
	Val  int64
}

// makeClicks builds nParts partitions of n records each: event times grow
// by one per record within a partition, with disorder below d, so that
// with BoundedOutOfOrderness(d) no record is ever late.
func makeClicks(rng *rand.Rand, nParts, n, users int, d int64) [][]click {
	parts := make([][]click, nParts)
	for j := range parts {
		for i := 0; i < n; i++ {
			parts[j] = append(parts[j], click{
				User: fmt.Sprint("u", rng.IntN(users)),
				TS:   1_000 + int64(i) - rng.Int64N(d),
				Val:  1 + rng.Int64N(50),
			})
		}
	}
	return parts
}

// refSums is the reference: sums per key and window, for non-merging
// assigners by listing each record's windows, for sessions by merging
// each key's sorted records.
func refSums(a Assigner, parts [][]click) []string {
	spec, _ := a.spec()
	sums := map[keyWindow]int64{}
	if spec.isMerging() {
		byKey := map[string][]click{}
		for _, p := range parts {
			for _, c := range p {
				byKey[c.User] = append(byKey[c.User], c)
			}
		}
		for k, cs := range byKey {
			slices.SortFunc(cs, func(x, y click) int { return int(x.TS - y.TS) })
			cur := TimeWindow{cs[0].TS, cs[0].TS + spec.size}
			var sum int64
			for _, c := range cs {
				w := TimeWindow{c.TS, c.TS + spec.size}
				if !w.Intersects(cur) {
					sums[keyWindow{k, cur}] = sum
					cur, sum = w, 0
				}
				cur, sum = cur.Cover(w), sum+c.Val
			}
			sums[keyWindow{k, cur}] = sum
		}
	} else {
		for _, p := range parts {
			for _, c := range p {
				for _, w := range refWindows(spec, c.TS) {
					sums[keyWindow{c.User, w}] += c.Val
				}
			}
		}
	}
	var out []string
	for kw, s := range sums {
		at := kw.w.End - 1
		if spec.isMerging() {
			at = kw.w.End // sessions fire at, and their results carry, End
		}
		out = append(out, fmt.Sprintf("%s %s %d @%d", kw.key, kw.w, s, at))
	}
	slices.Sort(out)
	return out
}

// TestWindowJobsExactlyOnce runs tumbling, sliding, session and cumulating
// window sums in one job that fails at random points and restarts from
// its latest checkpoint; each committed output must equal the reference
// exactly (no result lost, none twice).
func TestWindowJobsExactlyOnce(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 6))
	assigners := []Assigner{
		Tumbling(50 * time.Millisecond),
		Sliding(50*time.Millisecond, 10*time.Millisecond),
		Session(7 * time.Millisecond),
		Cumulate(10*time.Millisecond, 50*time.Millisecond),
	}
	for round := 0; round < 3; round++ {
		const d = 20
		parts := makeClicks(rng, 1+rng.IntN(4), 500+rng.IntN(1000), 2+rng.IntN(30), d)
		total := int64(0)
		for _, p := range parts {
			total += int64(len(p))
		}
		var calls atomic.Int64
		var failAt []int64
		for f := 0; f < 1+rng.IntN(3); f++ {
			failAt = append(failAt, total/3+rng.Int64N(total-total/3)) // after some checkpoints
		}
		p := 1 + rng.IntN(3)
		backend := []string{"memory", "pebble"}[rng.IntN(2)]
		cfg := engine.Config{
			Parallelism: p, MaxParallelism: 32, StateBackend: backend, BatchSize: []int{7, 64, 512}[rng.IntN(3)],
			Checkpoint: engine.CheckpointConfig{Interval: time.Duration(1+rng.IntN(5)) * time.Millisecond, Dir: t.TempDir()},
			Restart:    engine.FixedDelay(10, time.Millisecond),
		}
		j := engine.NewJob("windows", cfg)
		src := engine.FromPartitions(j, "clicks", parts, engine.BoundedOutOfOrderness(d*time.Millisecond, func(c click) int64 { return c.TS }))
		m := engine.Map(src, "maybe-fail", func(c click) click {
			n := calls.Add(1)
			if slices.Contains(failAt, n) {
				panic(fmt.Sprintf("injected failure at record %d", n))
			}
			if n%20 == 0 {
				time.Sleep(time.Millisecond) // let checkpoints happen mid-stream
			}
			return c
		})
		ks := engine.KeyBy(m, func(c click) string { return c.User })
		var sinks []*engine.TxCollect[string]
		for i, a := range assigners {
			res := AggregateWindowed(Window(ks, fmt.Sprint("window-", i), a), Sum(func(c click) int64 { return c.Val }))
			s := engine.Map(res, fmt.Sprint("format-", i), func(r Windowed[string, int64]) string {
				return fmt.Sprintf("%s %s %d", r.Key, r.Window, r.Value)
			})
			stamped := engine.Process(s, fmt.Sprint("stamp-", i), engine.ProcessFunction[string, string](engine.ProcessFunc[string, string](
				func(v string, ctx *engine.Context[string]) error {
					ctx.Emit(fmt.Sprintf("%s @%d", v, ctx.Timestamp()))
					return nil
				})))
			sinks = append(sinks, engine.CollectExactlyOnce(stamped, fmt.Sprint("sink-", i)))
		}
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			t.Fatalf("seed %d round %d (p=%d, %s): %v", seed, round, p, backend, err)
		}
		cps, restored := 0, 0
		for _, e := range r.Events() {
			switch {
			case e.Kind == engine.EventCheckpointCompleted:
				cps++
			case e.Kind == engine.EventRestored && e.CheckpointID > 0:
				restored++
			}
		}
		t.Logf("round %d: p=%d %s, %d records, %d checkpoints, %d restarts, %d from a checkpoint", round, p, backend, total, cps, r.Attempt(), restored)
		for i, a := range assigners {
			got := sinks[i].CommittedValues()
			slices.Sort(got)
			want := refSums(a, parts)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d round %d %v: %d results, want %d\n%s", seed, round, a, len(got), len(want), diffLines(got, want))
			}
		}
	}
}

// diffLines shows the first differences of two sorted line lists.
func diffLines(got, want []string) string {
	var b strings.Builder
	i, j, n := 0, 0, 0
	for (i < len(got) || j < len(want)) && n < 10 {
		switch {
		case j == len(want) || (i < len(got) && got[i] < want[j]):
			fmt.Fprintf(&b, "+ %s\n", got[i])
			i++
			n++
		case i == len(got) || want[j] < got[i]:
			fmt.Fprintf(&b, "- %s\n", want[j])
			j++
			n++
		default:
			i++
			j++
		}
	}
	return b.String()
}

// TestInvalidSpecsRejected: bad window specs fail Job.Validate (and
// Execute), naming the operator.
func TestInvalidSpecsRejected(t *testing.T) {
	type click2 = click
	cases := []struct {
		name  string
		build func(ks *engine.KeyedStream[click2, string])
		want  string
	}{
		{"zero-size", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "zero-size", Tumbling(0)), Count[click2]())
		}, "tumbling window size 0s must be positive"},
		{"hop-slide", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "hop-slide", Sliding(time.Second, 2*time.Second)), Count[click2]())
		}, "slide 2s is larger than its size 1s"},
		{"cumulate-step", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "cumulate-step", Cumulate(7*time.Second, time.Minute)), Count[click2]())
		}, "step 7s does not divide the max size 1m0s"},
		{"negative-gap", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "negative-gap", Session(-time.Second)), Count[click2]())
		}, "session gap -1s must be positive"},
		{"sub-ms", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "sub-ms", Tumbling(1500*time.Microsecond)), Count[click2]())
		}, "not a whole number of milliseconds"},
		{"lateness", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "lateness", Tumbling(time.Second)).AllowedLateness(-time.Second), Count[click2]())
		}, "allowed lateness -1s must not be negative"},
		{"no-codec", func(ks *engine.KeyedStream[click2, string]) {
			Reduce(Window(ks, "no-codec", Tumbling(time.Second)), func(a, b click2) click2 { return a })
		}, "set one with ElementCodec"},
		{"gap-type", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "gap-type", DynamicSession(func(s string) time.Duration { return time.Second })), Count[click2]())
		}, "dynamic session gap function is a func(string) time.Duration"},
		{"count-trigger", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "count-trigger", Global()).Trigger(CountTrigger[click2](0)), Count[click2]())
		}, "count trigger count 0 must be positive"},
		{"merging-trigger", func(ks *engine.KeyedStream[click2, string]) {
			Aggregate(Window(ks, "merging-trigger", Session(time.Second)).Trigger(plainTrigger{}), Count[click2]())
		}, "does not support merging"},
		{"interval", func(ks *engine.KeyedStream[click2, string]) {
			IntervalJoin(ks, ks, "interval", IntervalJoinOptions[click2, click2]{Lower: time.Second, Upper: 0},
				JoinFunc[click2, click2, string](func(a, b click2, ctx *JoinContext[string]) error { return nil }))
		}, "are empty"},
		{"topn", func(ks *engine.KeyedStream[click2, string]) {
			TopN(Window(ks, "topn", Tumbling(time.Second)).ElementCodec(clickCodec), 0, func(a, b click2) bool { return a.Val > b.Val })
		}, "top-N count 0 must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := engine.NewJob("bad", engine.Config{StateBackend: "memory"})
			src := engine.FromSlice(j, "src", []click{{User: "a", TS: 1}}, engine.Monotonous(func(c click) int64 { return c.TS }))
			c.build(engine.KeyBy(src, func(c click) string { return c.User }))
			err := j.Validate()
			if err == nil {
				t.Fatal("Validate accepted the job")
			}
			if !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v\nwant the operator %q and %q", err, c.name, c.want)
			}
			if err := j.Execute(context.Background()); err == nil || !errors.Is(err, engine.ErrInvalidJob) {
				t.Fatalf("Execute: %v, want ErrInvalidJob", err)
			}
		})
	}
}

// plainTrigger is a user-defined trigger without OnMerge.
type plainTrigger struct{}

func (plainTrigger) OnElement(click, int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Fire, nil
}
func (plainTrigger) OnEventTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (plainTrigger) OnProcessingTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (plainTrigger) Clear(TimeWindow, *TriggerContext) error { return nil }

// TestWindowRescale stops a windowing job after a few checkpoints and
// resumes it at another parallelism: key groups, with their slices, session
// sets and timers, move between subtasks, and the committed output of both
// runs together is exactly the reference.
func TestWindowRescale(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 8))
	const d = 10
	parts := makeClicks(rng, 3, 1500, 20, d)
	dir := t.TempDir()
	assigners := []Assigner{Sliding(40*time.Millisecond, 10*time.Millisecond), Session(5 * time.Millisecond)}
	sinks := []*engine.TxCollect[string]{engine.NewTxCollect[string](), engine.NewTxCollect[string]()}
	var slow atomic.Bool
	slow.Store(true)
	build := func(p int) *engine.Job {
		j := engine.NewJob("rescale", engine.Config{Parallelism: p, MaxParallelism: 16, StateBackend: "pebble",
			Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: dir, Resume: true}})
		src := engine.FromPartitions(j, "clicks", parts, engine.BoundedOutOfOrderness(d*time.Millisecond, func(c click) int64 { return c.TS }))
		var n atomic.Int64
		m := engine.Map(src, "slow", func(c click) click {
			if slow.Load() && n.Add(1)%10 == 0 {
				time.Sleep(time.Millisecond)
			}
			return c
		})
		ks := engine.KeyBy(m, func(c click) string { return c.User })
		for i, a := range assigners {
			res := AggregateWindowed(Window(ks, fmt.Sprint("window-", i), a), Sum(func(c click) int64 { return c.Val }))
			s := engine.Process(res, fmt.Sprint("format-", i), engine.ProcessFunction[Windowed[string, int64], string](
				engine.ProcessFunc[Windowed[string, int64], string](func(r Windowed[string, int64], ctx *engine.Context[string]) error {
					ctx.Emit(fmt.Sprintf("%s %s %d @%d", r.Key, r.Window, r.Value, ctx.Timestamp()))
					return nil
				})))
			engine.SinkTo(s, fmt.Sprint("sink-", i), sinks[i])
		}
		return j
	}
	r1, err := build(2).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if id, _ := r1.LatestCheckpoint(); id >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	r1.Cancel()
	if err := r1.Wait(); !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatalf("first run: %v", err)
	}
	first := len(sinks[0].Committed())
	slow.Store(false)
	r2, err := build(3).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Wait(); err != nil {
		t.Fatal(err)
	}
	if evs := r2.Events(); len(evs) == 0 || evs[0].Kind != engine.EventRestored {
		t.Fatalf("second run did not restore: %v", evs)
	}
	t.Logf("first run committed %d sliding results, both %d", first, len(sinks[0].Committed()))
	for i, a := range assigners {
		got := sinks[i].CommittedValues()
		slices.Sort(got)
		if want := refSums(a, parts); !slices.Equal(got, want) {
			t.Fatalf("seed %d %v: %d results, want %d\n%s", seed, a, len(got), len(want), diffLines(got, want))
		}
	}
}

// TestLateDataSideOutputAndCounter: records too late for their windows
// reach the late-data side output and the late_records counter; records
// without a timestamp reach the error output and its counter.
func TestLateDataSideOutputAndCounter(t *testing.T) {
	in := []click{
		{"a", 1_000, 1}, {"a", 5_000, 1}, {"a", 12_000, 1},
		{"a", 3_000, 1},  // late: [0,10000) fired at watermark 11999
		{"a", 25_000, 1}, // watermark 24999: [10000,20000) fires
		{"a", 11_000, 1}, // late
		{"a", engine.NoTimestamp, 1},
		{"b", 26_000, 1},
	}
	j := engine.NewJob("late", engine.Config{StateBackend: "memory", BatchSize: 1, WatermarkInterval: -1})
	src := engine.FromSlice(j, "src", in, engine.Monotonous(func(c click) int64 { return c.TS }))
	ks := engine.KeyBy(src, func(c click) string { return c.User })
	counts := AggregateWindowed(Window(ks, "count", Tumbling(10*time.Second)), Count[click]())
	results := engine.Collect(counts, "results")
	late := engine.Collect(engine.SideOutput(counts, LateDataTag[click]()), "late")
	bad := engine.Collect(engine.SideOutput(counts, ErrorTag[click]()), "bad")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range results.Values() {
		got = append(got, fmt.Sprintf("%s %v %d", w.Key, w.Window, w.Value))
	}
	slices.Sort(got)
	want := []string{"a [0,10000) 2", "a [10000,20000) 1", "a [20000,30000) 1", "b [20000,30000) 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("results %q, want %q", got, want)
	}
	if l := late.Values(); len(l) != 2 || l[0].TS != 3_000 || l[1].TS != 11_000 {
		t.Fatalf("late records %v", l)
	}
	if b := bad.Values(); len(b) != 1 || b[0].TS != engine.NoTimestamp {
		t.Fatalf("error records %v", b)
	}
	for _, om := range r.Metrics().Operators {
		if om.Name == "count" {
			if om.Counters[CounterLate] != 2 || om.Counters[CounterErrors] != 1 {
				t.Fatalf("counters %v", om.Counters)
			}
			return
		}
	}
	t.Fatal("no metrics for the window operator")
}

// checkoutTrigger is a user-defined trigger: a session fires (and purges)
// as soon as it sees a checkout, else at its end; it keeps per-window
// state (the pages seen), which must merge with the sessions.
type checkoutTrigger struct {
	seen *state.ValueState[int64]
}

func (t *checkoutTrigger) Open(ti *TriggerInit) error {
	var err error
	t.seen, err = TriggerValueState[int64](ti, "seen", nil)
	return err
}

func (t *checkoutTrigger) OnElement(c click, _ int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	n, _, err := t.seen.Value()
	if err != nil {
		return Continue, err
	}
	if err := t.seen.Update(n + 1); err != nil {
		return Continue, err
	}
	if c.Val == 0 { // a checkout
		return FireAndPurge, nil
	}
	return Continue, ctx.RegisterEventTimeTimer(ctx.WindowTime(w))
}

func (t *checkoutTrigger) OnEventTime(at int64, w TimeWindow, ctx *TriggerContext) (TriggerResult, error) {
	if at == ctx.WindowTime(w) {
		return Fire, nil
	}
	return Continue, nil
}

func (t *checkoutTrigger) OnProcessingTime(int64, TimeWindow, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}

func (t *checkoutTrigger) Clear(w TimeWindow, ctx *TriggerContext) error {
	if err := t.seen.Clear(); err != nil {
		return err
	}
	return ctx.DeleteEventTimeTimer(ctx.WindowTime(w))
}

func (t *checkoutTrigger) OnMerge(w TimeWindow, merged []TimeWindow, ctx *TriggerContext) error {
	var sum int64
	for _, m := range merged {
		ctx.UseWindow(m)
		n, _, err := t.seen.Value()
		if err != nil {
			return err
		}
		sum += n
	}
	ctx.UseWindow(w)
	if err := t.seen.Update(sum); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(ctx.WindowTime(w))
}

// TestUserDefinedTrigger runs a stateful user-defined trigger on session
// windows in a job: early firing with purge on a record, merging of its
// state, the final firing at the session's end.
func TestUserDefinedTrigger(t *testing.T) {
	in := []click{
		{"a", 1_000, 5}, {"a", 2_000, 7}, {"a", 3_000, 0}, // checkout: fires [1,2,3 values] and purges
		{"a", 3_500, 4}, {"b", 4_000, 1}, {"a", 20_000, 9}, // session ends at 8500 with 4
	}
	j := engine.NewJob("trigger", engine.Config{StateBackend: "memory", BatchSize: 1, WatermarkInterval: -1})
	src := engine.FromSlice(j, "src", in, engine.Monotonous(func(c click) int64 { return c.TS }))
	ks := engine.KeyBy(src, func(c click) string { return c.User })
	w := Window(ks, "sessions", Session(5*time.Second)).Trigger(&checkoutTrigger{})
	sums := AggregateWindowed(w, Sum(func(c click) int64 { return c.Val }))
	out := engine.Collect(sums, "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range out.Records() {
		got = append(got, fmt.Sprintf("%s %v %d @%d", r.Value.Key, r.Value.Window, r.Value.Value, r.Time))
	}
	slices.Sort(got)
	want := []string{ // session results carry End
		"a [1000,8000) 12 @8000", // the checkout's firing: sum 5+7+0
		"a [1000,8500) 4 @8500",  // the session's end: only what came after the purge
		"a [20000,25000) 9 @25000",
		"b [4000,9000) 1 @9000",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestSessionResultsOnTimeDownstream: a session fires when the watermark
// reaches its End, after the operator passed End-1 on downstream, so its
// results carry End (WindowContext.WindowTime). At End-1 they would be
// behind the downstream watermark: here a's session [0,5) fires at
// watermark 5, after watermark 4 closed the downstream window [0,5), and
// a count of sessions per 5 ms would drop it as late.
func TestSessionResultsOnTimeDownstream(t *testing.T) {
	in := []click{{"a", 0, 1}, {"b", 5, 1}, {"b", 6, 1}, {"c", 30, 1}} // a watermark after each
	j := engine.NewJob("cascade", engine.Config{StateBackend: "memory", BatchSize: 1, WatermarkInterval: -1})
	src := engine.FromSlice(j, "src", in, engine.Monotonous(func(c click) int64 { return c.TS }))
	ks := engine.KeyBy(src, func(c click) string { return c.User })
	type sinks struct {
		out  *engine.CollectSink[Windowed[int, int64]]
		late *engine.CollectSink[Windowed[string, int64]]
	}
	var runs []sinks
	for _, general := range []bool{false, true} {
		name := fmt.Sprint("sessions-general-", general)
		w := Window(ks, name, Session(5*time.Millisecond))
		if general {
			w.Trigger(EventTimeTrigger[click]())
		}
		sessions := AggregateWindowed(w, Count[click]())
		byOne := engine.KeyBy(sessions, func(Windowed[string, int64]) int { return 0 })
		perSlot := AggregateWindowed(Window(byOne, name+"-per-5ms", Tumbling(5*time.Millisecond)), Count[Windowed[string, int64]]())
		runs = append(runs, sinks{engine.Collect(perSlot, name+"-out"),
			engine.Collect(engine.SideOutput(perSlot, LateDataTag[Windowed[string, int64]]()), name+"-late")})
	}
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Sessions a [0,5) @5 and b [5,11) @11 fall in [5,10) and [10,15),
	// c [30,35) @35 in [35,40).
	want := []string{"[10,15) 1 @14", "[35,40) 1 @39", "[5,10) 1 @9"}
	for i, r := range runs {
		var got []string
		for _, o := range r.out.Records() {
			got = append(got, fmt.Sprintf("%v %d @%d", o.Value.Window, o.Value.Value, o.Time))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || len(r.late.Records()) > 0 {
			t.Errorf("general %v: sessions per 5 ms %q, want %q; late downstream %v", i == 1, got, want, r.late.Records())
		}
	}
}
