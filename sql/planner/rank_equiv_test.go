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

// genRow is one generated row of equivSource: its key, value and event
// time (milliseconds), as the SQL computes them.
type genRow struct{ id, k, v, ts int64 }

// equivSource is a table of n rows arriving out of event-time order
// (each block of 8 ids permuted, up to 70 ms), with unique times and
// values, and the same rows computed in Go.
func equivSource(n, keys int64) (string, []genRow) {
	ddl := fmt.Sprintf(`
CREATE TABLE src (
  id BIGINT,
  k AS MOD(id * 31, %d),
  v AS MOD(id * 7919, 10007),
  ts AS TO_TIMESTAMP_LTZ((id - MOD(id, 8) + MOD(id * 5, 8)) * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '0.1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
`, keys, n-1)
	rows := make([]genRow, n)
	for id := range n {
		rows[id] = genRow{id: id, k: id * 31 % keys, v: id * 7919 % 10007, ts: (id - id%8 + id*5%8) * 10}
	}
	return ddl, rows
}

// byKeyInTime groups rows by key, each group in event-time order.
func byKeyInTime(rows []genRow) map[int64][]genRow {
	g := map[int64][]genRow{}
	for _, r := range rows {
		g[r.k] = append(g[r.k], r)
	}
	for _, rs := range g {
		slices.SortFunc(rs, func(a, b genRow) int { return int(a.ts - b.ts) })
	}
	return g
}

// failurePoints is 0 to 2 random rows (of n read) at which to fail.
func failurePoints(rng *rand.Rand, n int64) []int64 {
	var at []int64
	for range rng.IntN(3) {
		at = append(at, n/10+rng.Int64N(n*8/10))
	}
	slices.Sort(at)
	return at
}

// TestOverRankEquivalence runs OVER aggregations, deduplication and
// Top-N over random out-of-order data at parallelism 1, 2 and 4 with 0-2
// failures injected, and compares the committed result (the changelog
// applied) with a batch computation in Go.
func TestOverRankEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	cases := []struct {
		name  string
		query func(rng *rand.Rand) (sinkDDL, insert string, want func([]genRow) string)
	}{
		{"over-rows", func(rng *rand.Rand) (string, string, func([]genRow) string) {
			pre := rng.IntN(12)
			return `CREATE TABLE snk (k BIGINT, id BIGINT, s BIGINT, c BIGINT, mx BIGINT) WITH ('connector' = 'blackhole');`,
				fmt.Sprintf(`INSERT INTO snk SELECT k, id, SUM(v) OVER w, COUNT(*) OVER w, MAX(v) OVER w FROM src
WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN %d PRECEDING AND CURRENT ROW);`, pre),
				func(rows []genRow) string {
					var lines []string
					for k, rs := range byKeyInTime(rows) {
						for i, r := range rs {
							var s, c, mx int64
							for _, x := range rs[max(0, i-pre) : i+1] {
								s, c, mx = s+x.v, c+1, max(mx, x.v)
							}
							lines = append(lines, fmt.Sprintf("+I[%d, %d, %d, %d, %d]", k, r.id, s, c, mx))
						}
					}
					return sortedLines(lines)
				}
		}},
		{"over-range", func(rng *rand.Rand) (string, string, func([]genRow) string) {
			ms := int64(10 * (1 + rng.IntN(30))) // multiples of 10: rows on the frame's lower bound
			return `CREATE TABLE snk (k BIGINT, id BIGINT, s BIGINT, c BIGINT, u BIGINT) WITH ('connector' = 'blackhole');`,
				fmt.Sprintf(`INSERT INTO snk SELECT k, id, SUM(v) OVER w, COUNT(*) OVER w, COUNT(*) OVER u FROM src
WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '0.%03d' SECOND PRECEDING AND CURRENT ROW),
  u AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '0.%03d' SECOND PRECEDING AND CURRENT ROW);`, ms, ms),
				func(rows []genRow) string {
					var lines []string
					for k, rs := range byKeyInTime(rows) {
						for i, r := range rs {
							var s, c int64
							for _, x := range rs[:i+1] {
								if x.ts >= r.ts-ms {
									s, c = s+x.v, c+1
								}
							}
							lines = append(lines, fmt.Sprintf("+I[%d, %d, %d, %d, %d]", k, r.id, s, c, c))
						}
					}
					return sortedLines(lines)
				}
		}},
		{"over-unbounded", func(rng *rand.Rand) (string, string, func([]genRow) string) {
			return `CREATE TABLE snk (k BIGINT, id BIGINT, s BIGINT) WITH ('connector' = 'blackhole');`,
				`INSERT INTO snk SELECT k, id, SUM(v) OVER (PARTITION BY k ORDER BY ts) FROM src;`,
				func(rows []genRow) string {
					var lines []string
					for k, rs := range byKeyInTime(rows) {
						var s int64
						for _, r := range rs {
							s += r.v
							lines = append(lines, fmt.Sprintf("+I[%d, %d, %d]", k, r.id, s))
						}
					}
					return sortedLines(lines)
				}
		}},
		{"dedup-first", func(rng *rand.Rand) (string, string, func([]genRow) string) {
			return `CREATE TABLE snk (k BIGINT, id BIGINT) WITH ('connector' = 'blackhole');`,
				`INSERT INTO snk SELECT k, id FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM src) WHERE rn = 1;`,
				func(rows []genRow) string {
					var lines []string
					for k, rs := range byKeyInTime(rows) {
						lines = append(lines, fmt.Sprintf("+I[%d, %d]", k, rs[0].id))
					}
					return sortedLines(lines)
				}
		}},
		{"dedup-last", func(rng *rand.Rand) (string, string, func([]genRow) string) {
			return `CREATE TABLE snk (k BIGINT, id BIGINT) WITH ('connector' = 'blackhole');`,
				`INSERT INTO snk SELECT k, id FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM src) WHERE rn = 1;`,
				func(rows []genRow) string {
					var lines []string
					for k, rs := range byKeyInTime(rows) {
						lines = append(lines, fmt.Sprintf("+I[%d, %d]", k, rs[len(rs)-1].id))
					}
					return sortedLines(lines)
				}
		}},
		{"topn", func(rng *rand.Rand) (string, string, func([]genRow) string) {
			n := 1 + rng.IntN(5)
			withRN := rng.IntN(2) == 0
			cols, rn := "k, id, v", ""
			if withRN {
				cols, rn = "k, id, v, rn", ", rn BIGINT"
			}
			return fmt.Sprintf(`CREATE TABLE snk (k BIGINT, id BIGINT, v BIGINT%s) WITH ('connector' = 'blackhole');`, rn),
				fmt.Sprintf(`INSERT INTO snk SELECT %s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM src) WHERE rn <= %d;`, cols, n),
				func(rows []genRow) string {
					var lines []string
					for k, rs := range byKeyInTime(rows) {
						rs = slices.Clone(rs)
						slices.SortFunc(rs, func(a, b genRow) int { return int(b.v - a.v) })
						for i, r := range rs[:min(n, len(rs))] {
							if withRN {
								lines = append(lines, fmt.Sprintf("+I[%d, %d, %d, %d]", k, r.id, r.v, i+1))
							} else {
								lines = append(lines, fmt.Sprintf("+I[%d, %d, %d]", k, r.id, r.v))
							}
						}
					}
					return sortedLines(lines)
				}
		}},
		{"window-topn", func(rng *rand.Rand) (string, string, func([]genRow) string) {
			size := int64(100 * (1 + rng.IntN(5)))
			n := 1 + rng.IntN(3)
			return `CREATE TABLE snk (ws TIMESTAMP(3), k BIGINT, s BIGINT, rn BIGINT) WITH ('connector' = 'blackhole');`,
				fmt.Sprintf(`INSERT INTO snk SELECT window_start, k, s, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY s DESC, k) AS rn
  FROM (SELECT window_start, window_end, k, SUM(v) AS s FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '0.%03d' SECOND)) GROUP BY window_start, window_end, k)
) WHERE rn <= %d;`, size, n),
				func(rows []genRow) string {
					type ks struct{ k, s int64 }
					sums := map[int64]map[int64]int64{}
					for _, r := range rows {
						ws := r.ts - r.ts%size
						if sums[ws] == nil {
							sums[ws] = map[int64]int64{}
						}
						sums[ws][r.k] += r.v
					}
					l := row.NewLayout([]types.Type{types.TimestampType(3), types.BigIntType(), types.BigIntType(), types.BigIntType()}, nil)
					var lines []string
					for ws, m := range sums {
						var top []ks
						for k, s := range m {
							top = append(top, ks{k, s})
						}
						slices.SortFunc(top, func(a, b ks) int {
							if a.s != b.s {
								return int(b.s - a.s)
							}
							return int(a.k - b.k)
						})
						for i, x := range top[:min(n, len(top))] {
							r, err := l.Of(row.Insert, row.Timestamp{Millis: ws}, x.k, x.s, int64(i+1))
							if err != nil {
								panic(err)
							}
							lines = append(lines, r.String())
						}
					}
					return sortedLines(lines)
				}
		}},
	}
	for _, tc := range cases {
		for _, par := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/p%d", tc.name, par), func(t *testing.T) {
				n := int64(800 + rng.IntN(800))
				keys := int64(2 + rng.IntN(10))
				ddl, rows := equivSource(n, keys)
				sinkDDL, insert, want := tc.query(rng)
				failAt := failurePoints(rng, n)
				script := ddl + sinkDDL + fmt.Sprintf("\nSET 'parallelism.default' = '%d';\n", par) + insert
				t.Logf("rows %d, keys %d, failures at %v\n%s", n, keys, failAt, insert)
				got := applyChangelog(t, runWithFailures(t, script, "snk", failAt))
				if w := want(rows); got != w {
					t.Fatalf("got:\n%s\nwant:\n%s", head(got), head(w))
				}
			})
		}
	}
}

// head is the first 40 lines of s.
func head(s string) string {
	ls := strings.SplitN(s, "\n", 41)
	return strings.Join(ls[:min(40, len(ls))], "\n")
}
