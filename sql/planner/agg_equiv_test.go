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

// TestGroupAggEquivalence: a group aggregation, and one over its
// updating result, over generated data with out-of-order event time, at
// parallelism 1, 2 and 4 with 0-2 failures at random rows, give (the
// committed changelog applied) the result of a batch computation in Go.
func TestGroupAggEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	for _, par := range []int{1, 2, 4} {
		n := int64(500 + rng.IntN(1500))
		keys := int64(3 + rng.IntN(40))
		var fails []int64
		for range rng.IntN(3) {
			fails = append(fails, 1+rng.Int64N(n-1))
		}
		slices.Sort(fails)
		t.Run(fmt.Sprintf("p%d", par), func(t *testing.T) {
			t.Logf("rows %d, keys %d, failures at %v", n, keys, fails)
			src := fmt.Sprintf(`
CREATE TABLE src (
  id BIGINT,
  k AS MOD(id * 7919, %d),
  v AS MOD(id * 31, 1000) - 500,
  ts AS TO_TIMESTAMP_LTZ(id * 10 - MOD(id * 7919, 40), 3),
  WATERMARK FOR ts AS ts - INTERVAL '0.05' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
SET 'parallelism.default' = '%d';
`, keys, n-1, par)
			// One level: every aggregate, accumulating only.
			one := src + `
CREATE TABLE snk (k BIGINT, c BIGINT, s BIGINT, lo BIGINT, hi BIGINT, d BIGINT) WITH ('connector' = 'print');
INSERT INTO snk SELECT k, COUNT(*), SUM(v), MIN(v), MAX(v), COUNT(DISTINCT MOD(v, 10)) FROM src GROUP BY k;
`
			type acc struct {
				c, s, lo, hi int64
				d            map[int64]bool
			}
			per := map[int64]*acc{}
			for id := int64(0); id < n; id++ {
				k, v := id*7919%keys, id*31%1000-500
				a := per[k]
				if a == nil {
					a = &acc{lo: v, hi: v, d: map[int64]bool{}}
					per[k] = a
				}
				a.c++
				a.s += v
				a.lo, a.hi = min(a.lo, v), max(a.hi, v)
				a.d[v%10] = true // Go's % truncates as SQL's MOD
			}
			l1 := row.NewLayout([]types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType()}, nil)
			var want []string
			for k, a := range per {
				r, err := l1.Of(row.Insert, k, a.c, a.s, a.lo, a.hi, int64(len(a.d)))
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, r.String())
			}
			if got, w := applyChangelog(t, runWithFailures(t, one, "snk", fails)), sorted(want); got != w {
				t.Fatalf("one level:\n%s\nwant:\n%s", got, w)
			}

			// Two levels: the outer aggregate retracts (MIN and MAX by
			// their value counts).
			two := src + `
CREATE VIEW per_k AS SELECT k, COUNT(*) AS c FROM src GROUP BY k;
CREATE TABLE snk (c BIGINT, n BIGINT, lo BIGINT, hi BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO snk SELECT c, COUNT(*), MIN(k), MAX(k), SUM(k) FROM per_k GROUP BY c HAVING COUNT(*) > 0;
`
			type acc2 struct{ n, lo, hi, s int64 }
			byC := map[int64]*acc2{}
			for k, a := range per {
				b := byC[a.c]
				if b == nil {
					b = &acc2{lo: k, hi: k}
					byC[a.c] = b
				}
				b.n++
				b.s += k
				b.lo, b.hi = min(b.lo, k), max(b.hi, k)
			}
			l2 := row.NewLayout([]types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType()}, nil)
			want = nil
			for c, b := range byC {
				r, err := l2.Of(row.Insert, c, b.n, b.lo, b.hi, b.s)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, r.String())
			}
			if got, w := applyChangelog(t, runWithFailures(t, two, "snk", fails)), sorted(want); got != w {
				t.Fatalf("two levels:\n%s\nwant:\n%s", got, w)
			}
		})
	}
}

func sorted(lines []string) string {
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}
