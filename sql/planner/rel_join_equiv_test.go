package planner_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
)

// joinRow is a generated row of one side of the join equivalence tests:
// its key and event time as the SQL tables compute them.
type joinRow struct{ id, k, ts int64 }

// joinSide is a generated table: rows id 0..n-1 with key id % keys, one
// every step ms, out of order by up to 40 ms (the watermark waits 50).
type joinSide struct{ n, keys, step, mul int64 }

func (s joinSide) row(id int64) joinRow {
	return joinRow{id: id, k: id % s.keys, ts: id*s.step - id*s.mul%40}
}

func (s joinSide) table(name string) string {
	return fmt.Sprintf(`CREATE TABLE %s (
  id BIGINT,
  k AS id %% %d,
  ts AS TO_TIMESTAMP_LTZ(id * %d - MOD(id * %d, 40), 3),
  WATERMARK FOR ts AS ts - INTERVAL '0.05' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
`, name, s.keys, s.step, s.mul, s.n-1)
}

// batchJoin is the join computed directly: every pair of rows with equal
// keys that match, then (outer joins) the rows of an outer side that met
// none, padded with NULLs; as sorted print lines.
func batchJoin(a, b joinSide, match func(x, y joinRow) bool, leftOuter, rightOuter bool) string {
	var lines []string
	bMatched := make([]bool, b.n)
	for i := range a.n {
		x := a.row(i)
		hit := false
		for j := range b.n {
			y := b.row(j)
			if x.k == y.k && match(x, y) {
				hit, bMatched[j] = true, true
				lines = append(lines, fmt.Sprintf("+I[%d, %d]", x.id, y.id))
			}
		}
		if !hit && leftOuter {
			lines = append(lines, fmt.Sprintf("+I[%d, null]", x.id))
		}
	}
	if rightOuter {
		for j := range b.n {
			if !bMatched[j] {
				lines = append(lines, fmt.Sprintf("+I[null, %d]", j))
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestJoinEquivalence runs interval, window, temporal and regular joins, inner and outer,
// over generated out-of-order data at parallelism 1, 2 and 4 with up to
// two failures at random points (checkpoints and restarts), and requires
// the final table (the committed changelog applied) to be the batch
// computation's.
func TestJoinEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 13))
	interval := func(x, y joinRow) bool { return x.ts >= y.ts-100 && x.ts <= y.ts+50 }
	always := func(x, y joinRow) bool { return true }
	odd := func(x, y joinRow) bool { return (x.id+y.id)%2 == 1 }
	win := func(ts int64) int64 { return ts - (ts%200+200)%200 }
	sameWindow := func(x, y joinRow) bool { return win(x.ts) == win(y.ts) }
	const tumbles = "(SELECT * FROM TABLE(TUMBLE(TABLE a, DESCRIPTOR(ts), INTERVAL '0.2' SECOND))) a %s JOIN (SELECT * FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(ts), INTERVAL '0.2' SECOND))) b ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.k = b.k"

	for _, tc := range []struct {
		name         string
		a, b         joinSide
		join         string
		match        func(x, y joinRow) bool
		lOuter, rOut bool
	}{
		{"interval inner", joinSide{900, 5, 10, 7919}, joinSide{700, 5, 13, 104729},
			"a JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '0.1' SECOND AND b.ts + INTERVAL '0.05' SECOND", interval, false, false},
		{"interval left", joinSide{900, 7, 10, 7919}, joinSide{500, 5, 13, 104729},
			"a LEFT JOIN b ON a.k = b.k AND a.ts >= b.ts - INTERVAL '0.1' SECOND AND b.ts + INTERVAL '0.05' SECOND >= a.ts", interval, true, false},
		{"interval full", joinSide{700, 7, 10, 7919}, joinSide{700, 9, 13, 104729},
			"a FULL JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '0.1' SECOND AND b.ts + INTERVAL '0.05' SECOND", interval, true, true},
		{"window inner", joinSide{900, 5, 10, 7919}, joinSide{700, 5, 13, 104729},
			fmt.Sprintf(tumbles, ""), sameWindow, false, false},
		{"window full", joinSide{700, 7, 10, 7919}, joinSide{700, 9, 13, 104729},
			fmt.Sprintf(tumbles, "FULL"), sameWindow, true, true},
		// Temporal: b's rows are versions of their key (50 ms apart, so
		// no two at one time); match nil means the version valid at a's
		// time.
		{"temporal inner", joinSide{900, 5, 10, 7919}, joinSide{300, 7, 50, 104729},
			"a JOIN b FOR SYSTEM_TIME AS OF a.ts ON a.k = b.k", nil, false, false},
		{"temporal left", joinSide{900, 9, 10, 7919}, joinSide{300, 7, 50, 104729},
			"a LEFT JOIN b FOR SYSTEM_TIME AS OF a.ts ON a.k = b.k", nil, true, false},
		{"regular inner", joinSide{500, 40, 10, 7919}, joinSide{300, 50, 13, 104729},
			"a JOIN b ON a.k = b.k", always, false, false},
		{"regular left", joinSide{500, 40, 10, 7919}, joinSide{300, 30, 13, 104729},
			"a LEFT JOIN b ON a.k = b.k AND MOD(a.id + b.id, 2) = 1", odd, true, false},
		{"regular right", joinSide{400, 30, 10, 7919}, joinSide{300, 40, 13, 104729},
			"a RIGHT JOIN b ON b.k = a.k", always, false, true},
		{"regular full", joinSide{500, 30, 10, 7919}, joinSide{300, 40, 13, 104729},
			"a FULL JOIN b ON a.k = b.k AND MOD(a.id + b.id, 2) = 1", odd, true, true},
	} {
		var want string
		if tc.match == nil {
			want = batchTemporal(tc.a, tc.b, tc.lOuter)
		} else {
			want = batchJoin(tc.a, tc.b, tc.match, tc.lOuter, tc.rOut)
		}
		for _, par := range []int{1, 2, 4} {
			var failAt []int64
			for range rng.IntN(3) {
				failAt = append(failAt, 1+rng.Int64N(tc.a.n+tc.b.n-1))
			}
			t.Run(fmt.Sprintf("%s/p%d", tc.name, par), func(t *testing.T) {
				script := tc.a.table("a") + tc.b.table("b") + fmt.Sprintf(`CREATE TABLE snk (aid BIGINT, bid BIGINT) WITH ('connector' = 'print');
SET 'parallelism.default' = '%d';
INSERT INTO snk SELECT a.id, b.id FROM %s;
`, par, tc.join)
				got := applyChangelog(t, runWithFailures(t, script, "snk", failAt))
				if got != want {
					t.Fatalf("failures at %v: %d lines, want %d\n%s", failAt, strings.Count(got, "\n"), strings.Count(want, "\n"), firstDiff(got, want))
				}
			})
		}
	}
}

// firstDiff shows where two line lists first differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, g[i], w[i])
		}
	}
	return "one is a prefix of the other"
}

// batchTemporal is the temporal join computed directly: each row of a
// with the row of b of its key with the latest time at or before a's.
func batchTemporal(a, b joinSide, leftOuter bool) string {
	var lines []string
	for i := range a.n {
		x := a.row(i)
		best := int64(-1)
		for j := range b.n {
			y := b.row(j)
			if y.k == x.k && y.ts <= x.ts && (best < 0 || y.ts > b.row(best).ts) {
				best = j
			}
		}
		switch {
		case best >= 0:
			lines = append(lines, fmt.Sprintf("+I[%d, %d]", x.id, best))
		case leftOuter:
			lines = append(lines, fmt.Sprintf("+I[%d, null]", x.id))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}
