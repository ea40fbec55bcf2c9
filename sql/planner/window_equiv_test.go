package planner_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// windowRows generates rows in bursts: row i has key i % keys and comes
// step ms after row i-1, and every burst rows a pause is added, so that
// sessions both merge and split. The SQL table computes the same columns.
type windowRows struct{ n, keys, step, burst, pause int64 }

func (g windowRows) ts(i int64) int64 { return i*g.step + i/g.burst*g.pause }

func (g windowRows) table(par int) string {
	return fmt.Sprintf(`
CREATE TABLE src (
  id BIGINT,
  k AS id %% %d,
  v AS id * 37 %% 1000,
  ts AS TO_TIMESTAMP_LTZ(id * %d + id / %d * %d, 3),
  WATERMARK FOR ts AS ts
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
CREATE TABLE snk (ws TIMESTAMP(3), we TIMESTAMP(3), k BIGINT, c BIGINT, s BIGINT, mn BIGINT, mx BIGINT)
  WITH ('connector' = 'print');
SET 'parallelism.default' = '%d';
`, g.keys, g.step, g.burst, g.pause, g.n-1, par)
}

func (g windowRows) event(i int64) event {
	return event{ID: i, K: i % g.keys, V: i * 37 % 1000, TS: g.ts(i)}
}

func randomRows(rng *rand.Rand) windowRows {
	return windowRows{
		n:     200 + rng.Int64N(1500),
		keys:  1 + rng.Int64N(6),
		step:  1 + rng.Int64N(40),
		burst: 5 + rng.Int64N(100),
		pause: rng.Int64N(3000),
	}
}

func resultLines(t *testing.T, groups map[[3]int64]agg) string {
	t.Helper()
	l := row.NewLayout([]types.Type{types.TimestampType(3), types.TimestampType(3), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType()}, nil)
	var lines []string
	for g, a := range groups {
		lines = append(lines, outLine(l, g[0], g[1], g[2], a))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestCumulateEqualsBatch runs a CUMULATE aggregation as SQL and as a loop
// over the generated rows: each row counts in every window [start,
// start+step*j) of its max-size period that contains it.
func TestCumulateEqualsBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	g := randomRows(rng)
	step := 100 * (1 + rng.Int64N(10))
	size := step * (1 + rng.Int64N(6))
	par := 1 + rng.IntN(3)
	src := g.table(par) + fmt.Sprintf(`INSERT INTO snk
SELECT window_start, window_end, k, COUNT(*), SUM(v), MIN(v), MAX(v)
FROM TABLE(CUMULATE(TABLE src, DESCRIPTOR(ts), INTERVAL '%g' SECOND, INTERVAL '%g' SECOND))
GROUP BY window_start, window_end, k;
`, float64(step)/1000, float64(size)/1000)
	got, err := runSQL(t, src)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[[3]int64]agg{}
	for i := range g.n {
		e := g.event(i)
		start := e.TS - e.TS%size
		for end := start + step; end <= start+size; end += step {
			if e.TS >= end {
				continue
			}
			key := [3]int64{start, end, e.K}
			a, ok := groups[key]
			if !ok {
				a = aggFn{}.CreateAccumulator()
			}
			groups[key] = aggFn{}.Add(e, a)
		}
	}
	t.Logf("%d result rows", strings.Count(got, "\n"))
	if want := resultLines(t, groups); got != want {
		t.Fatalf("SQL and batch differ (%+v step=%d size=%d par=%d)\nSQL:\n%s\nbatch:\n%s", g, step, size, par, got, want)
	}
}

// TestSessionEqualsBatch runs a SESSION aggregation per key as SQL and as
// a loop: per key, rows in time order stay in one session while each
// comes at most gap after the previous one (windows [ts, ts+gap) that
// touch merge, as Flink's do); a session is [first, last+gap).
func TestSessionEqualsBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	g := randomRows(rng)
	gap := 1 + rng.Int64N(2*g.keys*g.step+g.pause)
	par := 1 + rng.IntN(3)
	src := g.table(par) + fmt.Sprintf(`INSERT INTO snk
SELECT window_start, window_end, k, COUNT(*), SUM(v), MIN(v), MAX(v)
FROM TABLE(SESSION(TABLE src PARTITION BY k, DESCRIPTOR(ts), INTERVAL '%g' SECOND))
GROUP BY window_start, window_end, k;
`, float64(gap)/1000)
	got, err := runSQL(t, src)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[[3]int64]agg{}
	type open struct {
		start, last int64
		a           agg
	}
	cur := map[int64]*open{}
	closeSession := func(k int64, s *open) { groups[[3]int64{s.start, s.last + gap, k}] = s.a }
	for i := range g.n { // rows come in time order
		e := g.event(i)
		s := cur[e.K]
		if s != nil && e.TS > s.last+gap {
			closeSession(e.K, s)
			s = nil
		}
		if s == nil {
			s = &open{start: e.TS, a: aggFn{}.CreateAccumulator()}
			cur[e.K] = s
		}
		s.last = e.TS
		s.a = aggFn{}.Add(e, s.a)
	}
	for k, s := range cur {
		closeSession(k, s)
	}
	t.Logf("%d result rows", strings.Count(got, "\n"))
	if want := resultLines(t, groups); got != want {
		t.Fatalf("SQL and batch differ (%+v gap=%d par=%d)\nSQL:\n%s\nbatch:\n%s", g, gap, par, got, want)
	}
}
