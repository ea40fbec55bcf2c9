package operators_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/state"
)

// Click is the record of the examples.
type Click struct {
	User string
	Page string
	TS   int64 // event time, ms
}

func clicks() []Click {
	return []Click{
		{"ann", "/", 1_000}, {"bob", "/a", 2_500}, {"ann", "/b", 9_000},
		{"ann", "/c", 12_000}, {"bob", "/", 14_000}, {"ann", "/", 31_000},
	}
}

// run executes a job built by build over the example clicks and prints
// what the sink collected, sorted.
func run[T any](build func(ks *engine.KeyedStream[Click, string]) *engine.Stream[T]) {
	j := engine.NewJob("example", engine.Config{StateBackend: "memory"})
	src := engine.FromSlice(j, "clicks", clicks(), engine.Monotonous(func(c Click) int64 { return c.TS }))
	out := engine.Collect(build(engine.KeyBy(src, func(c Click) string { return c.User })), "print")
	if err := j.Execute(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, r := range out.Records() {
		lines = append(lines, fmt.Sprintf("%v @%d", r.Value, r.Time))
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

// Clicks per user in tumbling 10 s windows.
func Example_tumbling() {
	run(func(ks *engine.KeyedStream[Click, string]) *engine.Stream[operators.Windowed[string, int64]] {
		w := operators.Window(ks, "clicks-10s", operators.Tumbling(10*time.Second))
		return operators.AggregateWindowed(w, operators.Count[Click]())
	})
	// Output:
	// {ann [0,10000) 2} @9999
	// {ann [10000,20000) 1} @19999
	// {ann [30000,40000) 1} @39999
	// {bob [0,10000) 1} @9999
	// {bob [10000,20000) 1} @19999
}

// Clicks per user in 10 s windows every 5 s (HOP): each click counts in two
// windows, but updates one slice of state.
func Example_sliding() {
	run(func(ks *engine.KeyedStream[Click, string]) *engine.Stream[string] {
		w := operators.Window(ks, "hop", operators.Sliding(10*time.Second, 5*time.Second))
		return operators.AggregateProcess(w, operators.Count[Click](), operators.ProcessWindowFunc[string, int64, string](
			func(user string, counts []int64, ctx *operators.WindowContext[string]) error {
				ctx.Emit(fmt.Sprintf("%s %v: %d", user, ctx.Window(), counts[0]))
				return nil
			}))
	})
	// Output:
	// ann [-5000,5000): 1 @4999
	// ann [0,10000): 2 @9999
	// ann [10000,20000): 1 @19999
	// ann [25000,35000): 1 @34999
	// ann [30000,40000): 1 @39999
	// ann [5000,15000): 2 @14999
	// bob [-5000,5000): 1 @4999
	// bob [0,10000): 1 @9999
	// bob [10000,20000): 1 @19999
	// bob [5000,15000): 1 @14999
}

// Sessions of activity: clicks at most 5 s apart belong to one session;
// the full-window function sees the session's clicks. A session fires
// when the watermark reaches its end, and its result carries that end.
func Example_session() {
	run(func(ks *engine.KeyedStream[Click, string]) *engine.Stream[string] {
		w := operators.Window(ks, "sessions", operators.Session(5*time.Second)).
			ElementCodec(state.JSONCodec[Click]{})
		return operators.Process(w, operators.ProcessWindowFunc[string, Click, string](
			func(user string, cs []Click, ctx *operators.WindowContext[string]) error {
				var pages []string
				for _, c := range cs {
					pages = append(pages, c.Page)
				}
				ctx.Emit(fmt.Sprintf("%s %v %v", user, ctx.Window(), pages))
				return nil
			}))
	})
	// Output:
	// ann [1000,6000) [/] @6000
	// ann [31000,36000) [/] @36000
	// ann [9000,17000) [/b /c] @17000
	// bob [14000,19000) [/] @19000
	// bob [2500,7500) [/a] @7500
}

// Each user's last click as a changelog: an insert, then an update (the
// retracted and the new row) per later click.
func ExampleDedup() {
	run(func(ks *engine.KeyedStream[Click, string]) *engine.Stream[operators.Change[Click]] {
		return operators.Dedup(ks, "last-click", operators.DedupOptions[Click]{
			Keep: operators.KeepLast, Codec: state.JSONCodec[Click]{},
		})
	})
	// Output:
	// +I {ann / 1000} @1000
	// +I {bob /a 2500} @2500
	// +U {ann / 31000} @31000
	// +U {ann /b 9000} @9000
	// +U {ann /c 12000} @12000
	// +U {bob / 14000} @14000
	// -U {ann / 1000} @9000
	// -U {ann /b 9000} @12000
	// -U {ann /c 12000} @31000
	// -U {bob /a 2500} @14000
}

// The first page each user visited in each 10 s window.
func ExampleDedupWindow() {
	run(func(ks *engine.KeyedStream[Click, string]) *engine.Stream[string] {
		w := operators.Window(ks, "first-page", operators.Tumbling(10*time.Second)).ElementCodec(state.JSONCodec[Click]{})
		return engine.Map(operators.DedupWindow(w, operators.KeepFirst), "page", func(c Click) string { return c.User + " " + c.Page })
	})
	// Output:
	// ann / @39999
	// ann / @9999
	// ann /c @19999
	// bob / @19999
	// bob /a @9999
}

// Impressions joined with the clicks that follow them within 5 s.
func ExampleIntervalJoin() {
	type Impression struct {
		User, Ad string
		TS       int64
	}
	j := engine.NewJob("example", engine.Config{StateBackend: "memory"})
	imps := engine.FromSlice(j, "impressions", []Impression{{"ann", "shoes", 500}, {"bob", "hats", 2_000}, {"ann", "socks", 11_000}},
		engine.Monotonous(func(i Impression) int64 { return i.TS }))
	cs := engine.FromSlice(j, "clicks", clicks(), engine.Monotonous(func(c Click) int64 { return c.TS }))
	joined := operators.IntervalJoin(
		engine.KeyBy(imps, func(i Impression) string { return i.User }),
		engine.KeyBy(cs, func(c Click) string { return c.User }),
		"impression-click",
		operators.IntervalJoinOptions[Impression, Click]{Lower: 0, Upper: 5 * time.Second,
			LeftCodec: state.JSONCodec[Impression]{}, RightCodec: state.JSONCodec[Click]{}},
		operators.JoinFunc[Impression, Click, string](func(i Impression, c Click, ctx *operators.JoinContext[string]) error {
			ctx.Emit(fmt.Sprintf("%s saw %s, clicked %s %d ms later", i.User, i.Ad, c.Page, c.TS-i.TS))
			return nil
		}))
	out := engine.Collect(joined, "print")
	if err := j.Execute(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	vs := out.Values()
	slices.Sort(vs)
	for _, v := range vs {
		fmt.Println(v)
	}
	// Output:
	// ann saw shoes, clicked / 500 ms later
	// ann saw socks, clicked /c 1000 ms later
	// bob saw hats, clicked /a 500 ms later
}

// The two pages each user visited most recently in each 10 s window,
// ranked by time.
func ExampleTopN() {
	run(func(ks *engine.KeyedStream[Click, string]) *engine.Stream[string] {
		w := operators.Window(ks, "latest-pages", operators.Tumbling(10*time.Second)).ElementCodec(state.JSONCodec[Click]{})
		top := operators.TopN(w, 2, func(a, b Click) bool { return a.TS > b.TS })
		return engine.Map(top, "row", func(r operators.Ranked[string, Click]) string {
			return fmt.Sprintf("%s %v #%d %s", r.Key, r.Window, r.Rank, r.Value.Page)
		})
	})
	// Output:
	// ann [0,10000) #1 /b @9999
	// ann [0,10000) #2 / @9999
	// ann [10000,20000) #1 /c @19999
	// ann [30000,40000) #1 / @39999
	// bob [0,10000) #1 /a @9999
	// bob [10000,20000) #1 / @19999
}

// A count trigger on the global window: fire every two clicks of a user,
// purging, so that each firing reports the pair.
func ExamplePurgingTrigger() {
	run(func(ks *engine.KeyedStream[Click, string]) *engine.Stream[string] {
		w := operators.Window(ks, "pairs", operators.Global()).
			Trigger(operators.PurgingTrigger(operators.CountTrigger[Click](2))).
			ElementCodec(state.JSONCodec[Click]{})
		return operators.Process(w, operators.ProcessWindowFunc[string, Click, string](
			func(user string, cs []Click, ctx *operators.WindowContext[string]) error {
				ctx.Emit(fmt.Sprintf("%s %s then %s", user, cs[0].Page, cs[1].Page))
				return nil
			}))
	})
	// Output:
	// ann / then /b @9223372036854775807
	// ann /c then / @9223372036854775807
	// bob /a then / @9223372036854775807
}

// Orders and payments of a user paired within the same 10 s window.
func ExampleWindowJoin() {
	type Order struct {
		User string
		ID   int
		TS   int64
	}
	type Payment struct {
		User   string
		Amount int
		TS     int64
	}
	j := engine.NewJob("example", engine.Config{StateBackend: "memory"})
	orders := engine.FromSlice(j, "orders", []Order{{"ann", 1, 1_000}, {"bob", 2, 3_000}, {"ann", 3, 12_000}},
		engine.Monotonous(func(o Order) int64 { return o.TS }))
	payments := engine.FromSlice(j, "payments", []Payment{{"ann", 30, 4_000}, {"ann", 12, 9_000}, {"bob", 7, 15_000}},
		engine.Monotonous(func(p Payment) int64 { return p.TS }))
	pairs := operators.WindowJoin(
		engine.KeyBy(orders, func(o Order) string { return o.User }),
		engine.KeyBy(payments, func(p Payment) string { return p.User }),
		"order-payment", operators.Tumbling(10*time.Second),
		operators.WindowJoinOptions[Order, Payment]{LeftCodec: state.JSONCodec[Order]{}, RightCodec: state.JSONCodec[Payment]{}},
		operators.JoinFunc[Order, Payment, string](func(o Order, p Payment, ctx *operators.JoinContext[string]) error {
			ctx.Emit(fmt.Sprintf("%s order %d payment %d", o.User, o.ID, p.Amount))
			return nil
		}))
	out := engine.Collect(pairs, "print")
	if err := j.Execute(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	vs := out.Values()
	slices.Sort(vs)
	for _, v := range vs {
		fmt.Println(v)
	}
	// Output:
	// ann order 1 payment 12
	// ann order 1 payment 30
}
