package planner_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
)

// TestNestedQueriesEqualFlattened: a query written with a subquery, a CTE
// or a view gives the same rows as the one flat query it stands for, for
// a projection with filters at both levels and for a window aggregation
// over a filtered, projected relation.
func TestNestedQueriesEqualFlattened(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	n := 50 + rng.Int64N(500)
	par := 1 + rng.IntN(3)
	lim := rng.Int64N(1000)
	m := 2 + rng.Int64N(5)
	size := 1 + rng.Int64N(5) // window size, s
	table := fmt.Sprintf(`
CREATE TABLE src (
  id BIGINT,
  v AS id * 37 %% 1000,
  ts AS TO_TIMESTAMP_LTZ(id * 100, 3),
  WATERMARK FOR ts AS ts
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
SET 'parallelism.default' = '%d';
`, n-1, par)
	calcSink := "CREATE TABLE snk (id BIGINT, x BIGINT) WITH ('connector' = 'print');\n"
	inner := fmt.Sprintf("SELECT id, v * 2 AS w, v FROM src WHERE v > %d", lim)
	outer := fmt.Sprintf("SELECT id, w + 1 FROM s WHERE MOD(id, %d) <> 0", m)
	flat := fmt.Sprintf("INSERT INTO snk SELECT id, v * 2 + 1 FROM src WHERE v > %d AND MOD(id, %d) <> 0;", lim, m)
	nested := map[string]string{
		"subquery": fmt.Sprintf("INSERT INTO snk SELECT id, w + 1 FROM (%s) AS s WHERE MOD(id, %d) <> 0;", inner, m),
		"cte":      fmt.Sprintf("INSERT INTO snk WITH s AS (%s) %s;", inner, outer),
		"view":     fmt.Sprintf("CREATE VIEW s AS %s;\nINSERT INTO snk %s;", inner, outer),
	}
	want, err := runSQL(t, table+calcSink+flat)
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range nested {
		got, err := runSQL(t, table+calcSink+q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Fatalf("%s differs from the flat query (n=%d par=%d lim=%d m=%d)\n%s:\n%s\nflat:\n%s", name, n, par, lim, m, name, got, want)
		}
	}

	winSink := "CREATE TABLE snk (ws TIMESTAMP(3), c BIGINT, s BIGINT, mx BIGINT) WITH ('connector' = 'print');\n"
	tvf := func(from string) string {
		return fmt.Sprintf("FROM TABLE(TUMBLE(TABLE %s, DESCRIPTOR(ts), INTERVAL '%d' SECOND))", from, size)
	}
	flatWin := fmt.Sprintf("INSERT INTO snk SELECT window_start, COUNT(*), SUM(v * 2), MAX(v * 2) %s WHERE v > %d AND MOD(id, %d) <> 0 GROUP BY window_start, window_end;", tvf("src"), lim, m)
	innerWin := fmt.Sprintf("SELECT ts, id, v * 2 AS w FROM src WHERE v > %d", lim)
	outerWin := fmt.Sprintf("SELECT window_start, COUNT(*), SUM(w), MAX(w) %s WHERE MOD(id, %d) <> 0 GROUP BY window_start, window_end", tvf("s"), m)
	nestedWin := map[string]string{
		"cte window":  fmt.Sprintf("INSERT INTO snk WITH s AS (%s) %s;", innerWin, outerWin),
		"view window": fmt.Sprintf("CREATE VIEW s AS %s;\nINSERT INTO snk %s;", innerWin, outerWin),
	}
	want, err = runSQL(t, table+winSink+flatWin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(want) == "" {
		t.Fatal("the flat window query gave no rows")
	}
	for name, q := range nestedWin {
		got, err := runSQL(t, table+winSink+q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Fatalf("%s differs from the flat query (n=%d par=%d lim=%d m=%d size=%d)\n%s:\n%s\nflat:\n%s", name, n, par, lim, m, size, name, got, want)
		}
	}
}

// TestUnionAllIsConcatenation: UNION ALL of two random datagen tables (INT
// widened to BIGINT, NULLs included) gives, as a multiset, the rows of the
// two queries run alone; a self-union gives every row twice.
func TestUnionAllIsConcatenation(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	na, nb := 1+rng.Int64N(300), 1+rng.Int64N(300)
	par := 1 + rng.IntN(3)
	tables := fmt.Sprintf(`
CREATE TABLE a (x INT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '%d',
  'fields.x.min' = '-50', 'fields.x.max' = '50', 'fields.s.length' = '3', 'fields.s.null-rate' = '0.2');
CREATE TABLE b (y BIGINT, t STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '%d',
  'fields.y.null-rate' = '0.1', 'fields.t.length' = '5');
CREATE TABLE snk (x BIGINT, s STRING) WITH ('connector' = 'print');
SET 'parallelism.default' = '%d';
`, na, nb, par)
	qa := "SELECT x, s FROM a WHERE x IS NULL OR x <> 0"
	qb := "SELECT y, UPPER(t) FROM b"
	run := func(q string) []string {
		t.Helper()
		out, err := runSQL(t, tables+"INSERT INTO snk "+q+";")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	ra, rb := run(qa), run(qb)
	want := slices.Concat(ra, rb)
	slices.Sort(want)
	if got := run(qa + " UNION ALL " + qb); !slices.Equal(got, want) {
		t.Fatalf("UNION ALL (%d rows) is not the two inputs (%d + %d rows), na=%d nb=%d par=%d\nunion:\n%s\nconcatenation:\n%s", len(got), len(ra), len(rb), na, nb, par, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	twice := slices.Concat(ra, ra)
	slices.Sort(twice)
	if got := run(qa + " UNION ALL " + qa); !slices.Equal(got, twice) {
		t.Fatalf("a self-union (%d rows) is not every row twice (%d rows)", len(got), len(twice))
	}
}
