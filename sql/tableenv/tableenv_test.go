package tableenv_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/tableenv"
)

type click struct {
	User string `sql:"user_name"`
	URL  string
	N    int64
}

func clicks(n int) []click {
	var cs []click
	for i := range n {
		cs = append(cs, click{User: fmt.Sprintf("u%d", i%3), URL: fmt.Sprintf("/p/%d", i%5), N: int64(i)})
	}
	return cs
}

// clickTime is click i's event time: 100 ms apart, up to 150 ms out of
// order.
func clickTime(c click) int64 { return c.N*100 - (c.N*7919)%150 }

func run(t *testing.T, j *engine.Job) {
	t.Helper()
	if err := j.Execute(context.Background()); err != nil {
		t.Fatalf("execute: %v", err)
	}
}

type projected struct {
	User  string `sql:"user_name"`
	Upper string `sql:"shouted"`
	N     int64
}

func TestScalarFunctionInQuery(t *testing.T) {
	j := engine.NewJob("scalar", engine.Config{Parallelism: 2})
	env := tableenv.New(j, tableenv.Options{})
	src := engine.FromSlice(j, "clicks", clicks(10), engine.NoWatermarks[click]())
	if err := tableenv.FromStream(env, "clicks", src); err != nil {
		t.Fatal(err)
	}
	if err := tableenv.ScalarFunc2(env, "shout", func(s string, n int64) string { return strings.ToUpper(s) + strings.Repeat("!", int(n%3)) }); err != nil {
		t.Fatal(err)
	}
	out, err := tableenv.ToStream[projected](env, "SELECT user_name, shout(URL, N) AS shouted, N FROM clicks WHERE N >= 5")
	if err != nil {
		t.Fatal(err)
	}
	got := engine.Collect(out, "collect")
	run(t, j)
	vs := got.Values()
	slices.SortFunc(vs, func(a, b projected) int { return int(a.N - b.N) })
	var lines []string
	for _, v := range vs {
		lines = append(lines, fmt.Sprintf("%s %s %d", v.User, v.Upper, v.N))
	}
	want := "u2 /P/0!! 5\nu0 /P/1 6\nu1 /P/2! 7\nu2 /P/3!! 8\nu0 /P/4 9"
	if g := strings.Join(lines, "\n"); g != want {
		t.Fatalf("got\n%s\nwant\n%s", g, want)
	}
}

// sumAgg is a Go aggregate: the sum of its argument, with retraction.
type sumAgg struct{}

type sumAcc struct{ Sum, N int64 }

func (sumAgg) CreateAccumulator() sumAcc           { return sumAcc{} }
func (sumAgg) Accumulate(a sumAcc, v int64) sumAcc { return sumAcc{a.Sum + v, a.N + 1} }
func (sumAgg) Retract(a sumAcc, v int64) sumAcc    { return sumAcc{a.Sum - v, a.N - 1} }
func (sumAgg) Merge(a, b sumAcc) sumAcc            { return sumAcc{a.Sum + b.Sum, a.N + b.N} }
func (sumAgg) Result(a sumAcc) int64               { return a.Sum }

// minLen is a Go aggregate without Retract: the shortest string seen.
type minLen struct{}

func (minLen) CreateAccumulator() *string { return nil }
func (minLen) Accumulate(a *string, s string) *string {
	if a == nil || len(s) < len(*a) {
		return &s
	}
	return a
}
func (m minLen) Merge(a, b *string) *string {
	if b == nil {
		return a
	}
	return m.Accumulate(a, *b)
}
func (minLen) Result(a *string) *string { return a }

type windowed struct {
	Start time.Time `sql:"window_start"`
	End   time.Time `sql:"window_end"`
	User  string    `sql:"user_name"`
	Total int64     `sql:"total"`
	Count int64     `sql:"c"`
}

// TestWindowRoundTrip: a Go stream with event time and watermarks →
// TUMBLE window with a Go aggregate → a typed Go stream, equal to the
// batch computation.
func TestWindowRoundTrip(t *testing.T) {
	for _, par := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("parallelism=", par), func(t *testing.T) {
			j := engine.NewJob("window", engine.Config{Parallelism: par})
			env := tableenv.New(j, tableenv.Options{})
			cs := clicks(200)
			src := engine.FromSlice(j, "clicks", cs, engine.BoundedOutOfOrderness(200*time.Millisecond, clickTime))
			if err := tableenv.FromStream(env, "clicks", src, tableenv.Rowtime("ts")); err != nil {
				t.Fatal(err)
			}
			if err := tableenv.AggregateFunc1[int64](env, "my_sum", sumAgg{}); err != nil {
				t.Fatal(err)
			}
			out, err := tableenv.ToStream[windowed](env, `
SELECT window_start, window_end, user_name, my_sum(N) AS total, COUNT(*) AS c
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, user_name`)
			if err != nil {
				t.Fatal(err)
			}
			got := engine.Collect(out, "collect")
			run(t, j)
			want := map[string][2]int64{}
			for _, c := range cs {
				ws := clickTime(c) - ((clickTime(c)%1000)+1000)%1000 // floor
				k := fmt.Sprintf("%d %s", ws, c.User)
				w := want[k]
				want[k] = [2]int64{w[0] + c.N, w[1] + 1}
			}
			have := map[string][2]int64{}
			for _, rec := range got.Records() {
				v := rec.Value
				if v.End.Sub(v.Start) != time.Second {
					t.Fatalf("window %v..%v", v.Start, v.End)
				}
				// The result keeps event time: a window's row is at its
				// window_time (end - 1 ms), as Flink's.
				if rec.Time != v.End.UnixMilli()-1 {
					t.Fatalf("window %v..%v: record time %d", v.Start, v.End, rec.Time)
				}
				have[fmt.Sprintf("%d %s", v.Start.UnixMilli(), v.User)] = [2]int64{v.Total, v.Count}
			}
			if fmt.Sprint(have) != fmt.Sprint(want) {
				t.Fatalf("got  %v\nwant %v", have, want)
			}
		})
	}
}

type perUser struct {
	User  string `sql:"user_name"`
	Total int64  `sql:"total"`
	Short *string
}

// TestChangelogGroupBy: a GROUP BY without a window into
// ToChangelogStream, with a retracting Go aggregate over an updating
// input, and the same query refused by ToStream with Flink's message.
func TestChangelogGroupBy(t *testing.T) {
	j := engine.NewJob("changelog", engine.Config{Parallelism: 1})
	env := tableenv.New(j, tableenv.Options{})
	src := engine.FromSlice(j, "clicks", clicks(12), engine.NoWatermarks[click]())
	if err := tableenv.FromStream(env, "clicks", src); err != nil {
		t.Fatal(err)
	}
	if err := tableenv.AggregateFunc1[int64](env, "my_sum", sumAgg{}); err != nil {
		t.Fatal(err)
	}
	if err := tableenv.AggregateFunc1[string](env, "shortest", minLen{}); err != nil {
		t.Fatal(err)
	}
	q := `SELECT user_name, my_sum(N) AS total, shortest(URL) AS Short FROM clicks GROUP BY user_name`
	_, err := tableenv.ToStream[perUser](env, q)
	if err == nil || !strings.Contains(err.Error(), "Table sink '*anonymous_datastream_sink$1*' doesn't support consuming update and delete changes which is produced by node GroupAggregate(") || !strings.Contains(err.Error(), "ToChangelogStream") {
		t.Fatalf("ToStream of an updating query: %v", err)
	}
	// The sum of the per-user totals, itself a GROUP BY over the
	// changelog: my_sum retracts.
	type total struct {
		K     int32 `sql:"k"`
		Total int64 `sql:"total"`
	}
	ch, err := tableenv.ToChangelogStream[total](env, `
SELECT k, my_sum(total) AS total FROM (SELECT CAST(1 AS INT) AS k, user_name, my_sum(N) AS total FROM clicks GROUP BY user_name) GROUP BY k`)
	if err != nil {
		t.Fatal(err)
	}
	per, err := tableenv.ToChangelogStream[perUser](env, q)
	if err != nil {
		t.Fatal(err)
	}
	got, gotPer := engine.Collect(ch, "collect"), engine.Collect(per, "collect-per-user")
	run(t, j)
	final := map[int32]int64{}
	var kinds []string
	for _, c := range got.Values() {
		kinds = append(kinds, c.Kind.String())
		switch c.Kind {
		case tableenv.Insert, tableenv.UpdateAfter:
			final[c.Row.K] = c.Row.Total
		case tableenv.UpdateBefore, tableenv.Delete:
			delete(final, c.Row.K)
		}
	}
	if final[1] != 66 || len(final) != 1 {
		t.Fatalf("final %v (kinds %v), want 66 = 0+...+11", final, kinds)
	}
	users := map[string]perUser{}
	for _, c := range gotPer.Values() {
		if c.Kind == tableenv.Insert || c.Kind == tableenv.UpdateAfter {
			users[c.Row.User] = c.Row
		}
	}
	for u, want := range map[string]int64{"u0": 0 + 3 + 6 + 9, "u1": 1 + 4 + 7 + 10, "u2": 2 + 5 + 8 + 11} {
		if got := users[u]; got.Total != want || got.Short == nil || len(*got.Short) != 4 {
			t.Fatalf("user %s: %+v, want total %d", u, got, want)
		}
	}
}

type hopped struct {
	Start time.Time `sql:"window_start"`
	User  string    `sql:"user_name"`
	Total int64     `sql:"total"`
}

// TestHopWindowMerges: a HOP window merges its slices' accumulators
// through the Go aggregate's Merge.
func TestHopWindowMerges(t *testing.T) {
	j := engine.NewJob("hop", engine.Config{Parallelism: 2})
	env := tableenv.New(j, tableenv.Options{})
	cs := clicks(100)
	src := engine.FromSlice(j, "clicks", cs, engine.BoundedOutOfOrderness(200*time.Millisecond, clickTime))
	must(t, tableenv.FromStream(env, "clicks", src, tableenv.Rowtime("ts")))
	must(t, tableenv.AggregateFunc1[int64](env, "my_sum", sumAgg{}))
	out, err := tableenv.ToStream[hopped](env, `
SELECT window_start, user_name, my_sum(N) AS total
FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND))
GROUP BY window_start, window_end, user_name`)
	if err != nil {
		t.Fatal(err)
	}
	got := engine.Collect(out, "collect")
	run(t, j)
	want := map[string]int64{}
	for _, c := range cs {
		ts := clickTime(c)
		last := ts - ((ts%1000)+1000)%1000
		for ws := last - 2000; ws <= last; ws += 1000 {
			want[fmt.Sprintf("%d %s", ws, c.User)] += c.N
		}
	}
	have := map[string]int64{}
	for _, v := range got.Values() {
		have[fmt.Sprintf("%d %s", v.Start.UnixMilli(), v.User)] = v.Total
	}
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", have, want)
	}
}

type nullable struct {
	K int64
	V *int64
}

// countNonNull counts its argument's rows: the NULL ones too, since it
// takes a pointer.
type countAll struct{}

func (countAll) CreateAccumulator() int64           { return 0 }
func (countAll) Accumulate(n int64, _ *int64) int64 { return n + 1 }
func (countAll) Merge(a, b int64) int64             { return a + b }
func (countAll) Result(n int64) int64               { return n }

type nullCounts struct {
	K       int64 `sql:"K"`
	Summed  int64 `sql:"summed"`
	Counted int64 `sql:"counted"`
}

// TestAggregateNulls: a NULL argument is skipped by an aggregate of a
// non-pointer parameter and passed to one of a pointer parameter.
func TestAggregateNulls(t *testing.T) {
	j := engine.NewJob("nulls", engine.Config{Parallelism: 1})
	env := tableenv.New(j, tableenv.Options{})
	one, two := int64(1), int64(2)
	rows := []nullable{{1, &one}, {1, nil}, {1, &two}, {2, nil}}
	must(t, tableenv.FromStream(env, "t", engine.FromSlice(j, "t", rows, engine.NoWatermarks[nullable]())))
	must(t, tableenv.AggregateFunc1[int64](env, "my_sum", sumAgg{}))
	must(t, tableenv.AggregateFunc1[*int64](env, "count_all", countAll{}))
	out, err := tableenv.ToChangelogStream[nullCounts](env, "SELECT K, my_sum(V) AS summed, count_all(V) AS counted FROM t GROUP BY K")
	if err != nil {
		t.Fatal(err)
	}
	got := engine.Collect(out, "collect")
	run(t, j)
	final := map[int64]nullCounts{}
	for _, c := range got.Values() {
		if c.Kind == tableenv.Insert || c.Kind == tableenv.UpdateAfter {
			final[c.Row.K] = c.Row
		}
	}
	if fmt.Sprint(final) != "map[1:{1 3 3} 2:{2 0 1}]" {
		t.Fatalf("got %v", final)
	}
}
