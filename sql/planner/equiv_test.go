package planner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
	"github.com/sluicehq/sluice/state"
)

type event struct{ ID, K, V, TS int64 }

type agg struct{ N, Sum, Min, Max int64 }

type aggFn struct{}

func (aggFn) CreateAccumulator() agg { return agg{Min: 1 << 62, Max: -1 << 62} }
func (aggFn) Add(e event, a agg) agg {
	a.N++
	a.Sum += e.V
	a.Min, a.Max = min(a.Min, e.V), max(a.Max, e.V)
	return a
}
func (aggFn) Result(a agg) agg                   { return a }
func (aggFn) AccumulatorCodec() state.Codec[agg] { return state.JSONCodec[agg]{} }
func (aggFn) Merge(a, b agg) agg {
	return agg{a.N + b.N, a.Sum + b.Sum, min(a.Min, b.Min), max(a.Max, b.Max)}
}

// outLine prints one result as the SQL job's print sink does.
func outLine(l *row.Layout, ws, we, k int64, a agg) string {
	r := l.New()
	r.SetTimestamp(0, row.TimestampFromMillis(ws))
	r.SetTimestamp(1, row.TimestampFromMillis(we))
	r.SetInt(2, k)
	r.SetInt(3, a.N)
	r.SetInt(4, a.Sum)
	r.SetInt(5, a.Min)
	r.SetInt(6, a.Max)
	return r.String()
}

// TestSQLEqualsGoAPIAndBatch runs one TUMBLE aggregation three ways: as
// SQL, as the same job written with the Go API, and as a loop over the
// generated rows; all three must agree.
func TestSQLEqualsGoAPIAndBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	n := 200 + rng.Int64N(2000)
	keys := 1 + rng.Int64N(9)
	step := 1 + rng.Int64N(50)         // ms between rows
	size := 100 * (1 + rng.Int64N(20)) // window size, ms
	par := 1 + rng.IntN(3)
	g := windowRows{n: n, keys: keys, step: step, burst: 1, pause: 0}
	gen := g.event

	// INTERVAL literals take whole or fractional seconds.
	src := g.table(par) + fmt.Sprintf(`INSERT INTO snk
SELECT window_start, window_end, k, COUNT(*), SUM(v), MIN(v), MAX(v)
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '%g' SECOND))
GROUP BY window_start, window_end, k;
`, float64(size)/1000)
	got, err := runSQL(t, src)
	if err != nil {
		t.Fatal(err)
	}

	l := row.NewLayout([]types.Type{types.TimestampType(3), types.TimestampType(3), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType()}, nil)

	// The Go API.
	j := engine.NewJob("go", engine.Config{StateBackend: "memory", Parallelism: par})
	s := engine.SourceOf(j, "src", datagen.Source(datagen.Options{Count: n}, gen), engine.Monotonous(func(e event) int64 { return e.TS }))
	w := operators.Window(engine.KeyBy(s, func(e event) int64 { return e.K }), "w", operators.Tumbling(time.Duration(size)*time.Millisecond))
	out := engine.Collect(operators.AggregateWindowed(w, aggFn{}), "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	var api []string
	for _, v := range out.Values() {
		api = append(api, outLine(l, v.Window.Start, v.Window.End, v.Key, v.Value))
	}
	slices.Sort(api)

	// A batch computation.
	type wk struct{ ws, k int64 }
	groups := map[wk]agg{}
	for i := range n {
		e := gen(i)
		g := wk{e.TS - e.TS%size, e.K}
		a, ok := groups[g]
		if !ok {
			a = aggFn{}.CreateAccumulator()
		}
		groups[g] = aggFn{}.Add(e, a)
	}
	var batch []string
	for g, a := range groups {
		batch = append(batch, outLine(l, g.ws, g.ws+size, g.k, a))
	}
	slices.Sort(batch)

	want := strings.Join(batch, "\n") + "\n"
	if got != want {
		t.Fatalf("SQL and batch differ (n=%d keys=%d step=%d size=%d par=%d)\nSQL:\n%s\nbatch:\n%s", n, keys, step, size, par, got, want)
	}
	if a := strings.Join(api, "\n") + "\n"; a != want {
		t.Fatalf("Go API and batch differ\nAPI:\n%s\nbatch:\n%s", a, want)
	}
}
