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

// typedRows is the input of the typed window path tests: row id has a
// nullable BIGINT key k, an INT key k2, a BIGINT value v that is NULL in
// every row of key (3, 1), a BIGINT b whose sums overflow, a DOUBLE d and
// an event time up to 39 ms out of order (the watermark waits 50 ms).
const typedRows = `
CREATE TABLE src (
  id BIGINT,
  k AS NULLIF(id %% 5, 4),
  k2 AS CAST(id %% 2 AS INT),
  v AS IF(id %% 10 = 3, CAST(NULL AS BIGINT), id * 37 %% 1000),
  b AS id * 1537228672809129301,
  d AS CAST(id %% 13 AS DOUBLE) / 4,
  ts AS TO_TIMESTAMP_LTZ(id * 10 - MOD(id * 7919, 40), 3),
  WATERMARK FOR ts AS ts - INTERVAL '0.05' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
SET 'parallelism.default' = '%d';
CREATE TABLE snk (ws TIMESTAMP(3), k BIGINT, k2 INT, c BIGINT, cv BIGINT, s BIGINT, mn BIGINT, mx BIGINT,
  av BIGINT, sb BIGINT, md DOUBLE) WITH ('connector' = 'blackhole');
`

type typedGroup struct {
	ws, k  int64
	kNull  bool
	k2     int64
	c, cv  int64
	s, sb  int64
	mn, mx int64
	md     float64
}

// typedBatch is the aggregation as a loop over the rows; filtered keeps
// the FILTER query's form (aggregates of expressions, over id % 3 = 0).
func typedBatch(n int64, filtered bool) string {
	groups := map[[4]int64]*typedGroup{}
	for id := range n {
		ts := id*10 - id*7919%40
		ws := ts - ((ts%1000)+1000)%1000
		kNull := id%5 == 4
		key := [4]int64{ws, id % 5, id % 2, 0}
		g := groups[key]
		if g == nil {
			g = &typedGroup{ws: ws, k: id % 5, kNull: kNull, k2: id % 2, md: -1}
			groups[key] = g
		}
		g.c++
		vNull := id%10 == 3
		v := id * 37 % 1000
		b := id * 1537228672809129301 // wraps as Java's long
		d := float64(id%13) / 4
		if filtered {
			if id%3 != 0 {
				vNull = true // SUM(v * 2) FILTER (WHERE id % 3 = 0) and friends
			}
			v *= 2
			d++
		}
		if !vNull {
			if g.cv == 0 || v < g.mn {
				g.mn = v
			}
			if g.cv == 0 || v > g.mx {
				g.mx = v
			}
			g.cv++
			g.s += v
		}
		g.sb += b
		g.md = max(g.md, d)
	}
	l := row.NewLayout([]types.Type{types.TimestampType(3), types.BigIntType(), types.IntType(), types.BigIntType(), types.BigIntType(),
		types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.DoubleType()}, nil)
	var lines []string
	for _, g := range groups {
		r := l.New()
		r.SetTimestamp(0, row.TimestampFromMillis(g.ws))
		if !g.kNull {
			r.SetInt(1, g.k)
		}
		r.SetInt(2, g.k2)
		r.SetInt(3, g.c)
		r.SetInt(4, g.cv)
		if g.cv > 0 {
			r.SetInt(5, g.s)
			r.SetInt(6, g.mn)
			r.SetInt(7, g.mx)
			r.SetInt(8, g.s/g.cv)
		}
		r.SetInt(9, g.sb)
		r.SetFloat(10, g.md)
		lines = append(lines, r.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestTypedWindowEqualsBatch runs window aggregations on the typed paths
// (a two-column integer key with NULLs; COUNT, SUM, MIN, MAX and AVG over
// BIGINT with all-NULL groups, BIGINT sums that wrap, MAX over DOUBLE)
// with checkpoints, random failures and parallelism 1, 2 or 4 against a
// loop over the same rows: once reading columns (the stateless input),
// once over expressions with FILTER (the per-goroutine input).
func TestTypedWindowEqualsBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 13))
	for _, tc := range []struct {
		name     string
		filtered bool
		sel      string
	}{
		{"columns", false, "COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), AVG(v), SUM(b), MAX(d)"},
		{"expressions", true, "COUNT(*), COUNT(v * 2) FILTER (WHERE id % 3 = 0), SUM(v * 2) FILTER (WHERE id % 3 = 0), " +
			"MIN(v * 2) FILTER (WHERE id % 3 = 0), MAX(v * 2) FILTER (WHERE id % 3 = 0), AVG(v * 2) FILTER (WHERE id % 3 = 0), SUM(b), MAX(d + 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 1000 + rng.Int64N(2000)
			par := []int{1, 2, 4}[rng.IntN(3)]
			var failAt []int64
			for range rng.IntN(3) {
				failAt = append(failAt, 1+rng.Int64N(n-1))
			}
			script := fmt.Sprintf(typedRows, n-1, par) + `INSERT INTO snk
SELECT window_start, k, k2, ` + tc.sel + `
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, k, k2;
`
			got := applyChangelog(t, runWithFailures(t, script, "snk", failAt))
			if want := typedBatch(n, tc.filtered); got != want {
				t.Fatalf("n=%d par=%d failures at %v: SQL and batch differ\nSQL:\n%s\nbatch:\n%s", n, par, failAt, got, want)
			}
		})
	}
}

// TestWindowOverSelfUnionCountsEachRowTwice: a window that releases its
// input rows once folded in must not release a row that reaches it
// twice (a table UNION ALL itself): every count and sum doubles.
func TestWindowOverSelfUnionCountsEachRowTwice(t *testing.T) {
	tbl := `CREATE TABLE src (id BIGINT, k AS id % 3, ts AS TO_TIMESTAMP_LTZ(id, 3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'rows-per-second' = '0', 'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '4999');
CREATE TABLE snk (ws TIMESTAMP(3), k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'print');
`
	q := `INSERT INTO snk SELECT window_start, k, COUNT(*), SUM(id)
FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;`
	once, err := runSQL(t, tbl+"CREATE VIEW u AS SELECT * FROM src;\n"+q)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := runSQL(t, tbl+"CREATE VIEW u AS SELECT * FROM src UNION ALL SELECT * FROM src;\n"+q)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(once), "\n") {
		var c, s int64
		f := strings.Split(strings.TrimSuffix(line, "]"), ", ")
		if _, err := fmt.Sscan(f[2], &c); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if _, err := fmt.Sscan(f[3], &s); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		want = append(want, fmt.Sprintf("%s, %s, %d, %d]", f[0], f[1], 2*c, 2*s))
	}
	slices.Sort(want)
	if got := strings.TrimSpace(twice); got != strings.Join(want, "\n") {
		t.Fatalf("self-union:\n%s\nwant every count and sum doubled:\n%s", got, strings.Join(want, "\n"))
	}
}
