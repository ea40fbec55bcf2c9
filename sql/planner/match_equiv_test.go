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

// matchQuant is a quantifier of the random patterns: its SQL and bounds.
type matchQuant struct {
	sql      string
	min, max int
}

var matchQuants = []matchQuant{
	{"", 1, 1}, {"+", 1, -1}, {"*", 0, -1}, {"?", 0, 1},
	{"{2}", 2, 2}, {"{1,3}", 1, 3}, {"{2,}", 2, -1},
}

// refElem is one element of a pattern for the reference matcher.
type refElem struct {
	v         int // 0 A, 1 B, 2 C, 3 D
	min, max  int
	reluctant bool
}

type refRow struct {
	id, v, ts int64
}

// refMatcher is a straightforward batch MATCH_RECOGNIZE over one key's rows
// sorted by time: for each start row in turn, a backtracking search that
// tries the alternatives in the SQL standard's preference order (a greedy
// quantifier one more row first, a reluctant one fewer) and takes the
// first complete, non-empty match; then AFTER MATCH SKIP.
type refMatcher struct {
	elems   []refElem
	thr     int64
	within  int64 // 0: none
	skip    string
	skipVar int
}

// define is the DEFINE of the random query, in Go:
// B AS B.v < PREV(B.v), C AS C.v > PREV(C.v), D AS D.v > LAST(B.v) OR
// D.v >= thr; A matches every row. PREV outside the match is NULL.
func (m *refMatcher) define(v int, rows []refRow, s int, vars []int, i int) bool {
	switch v {
	case 1, 2:
		if len(vars) == 0 {
			return false
		}
		if v == 1 {
			return rows[i].v < rows[i-1].v
		}
		return rows[i].v > rows[i-1].v
	case 3:
		if rows[i].v >= m.thr {
			return true
		}
		for j := len(vars) - 1; j >= 0; j-- {
			if vars[j] == 1 {
				return rows[i].v > rows[s+j].v
			}
		}
		return false
	}
	return true
}

func (m *refMatcher) best(rows []refRow, s int) ([]int, bool) {
	var dfs func(e, c, i int, vars []int) ([]int, bool)
	dfs = func(e, c, i int, vars []int) ([]int, bool) {
		if e == len(m.elems) {
			return vars, len(vars) > 0
		}
		p := m.elems[e]
		stay := func() ([]int, bool) {
			if (p.max >= 0 && c >= p.max) || i >= len(rows) {
				return nil, false
			}
			if m.within > 0 && rows[i].ts-rows[s].ts >= m.within {
				return nil, false
			}
			if !m.define(p.v, rows, s, vars, i) {
				return nil, false
			}
			return dfs(e, c+1, i+1, append(slices.Clone(vars), p.v))
		}
		leave := func() ([]int, bool) {
			if c < p.min {
				return nil, false
			}
			return dfs(e+1, 0, i, vars)
		}
		first, second := stay, leave
		if p.reluctant {
			first, second = leave, stay
		}
		if r, ok := first(); ok {
			return r, true
		}
		return second()
	}
	return dfs(0, 0, s, nil)
}

// run gives the matches of one key: first row and variables of each.
func (m *refMatcher) run(rows []refRow) [][2]any {
	var out [][2]any
	for s := 0; s < len(rows); {
		vars, ok := m.best(rows, s)
		if !ok {
			s++
			continue
		}
		out = append(out, [2]any{s, vars})
		next := s + 1
		switch m.skip {
		case "PAST LAST ROW":
			next = s + len(vars)
		case "TO LAST B", "TO FIRST B":
			for j, v := range vars {
				if v == m.skipVar {
					next = s + j
					if m.skip == "TO FIRST B" {
						break
					}
				}
			}
		}
		s = max(next, s+1)
	}
	return out
}

// TestMatchRecognizeEquivalence runs a random MATCH_RECOGNIZE (random
// quantifiers, greedy or reluctant, skip strategy and WITHIN) over
// generated rows that arrive out of order, at parallelism 1, 2 and 4 with
// up to two failures, and compares the committed rows with the reference
// matcher's over each key's rows sorted by time.
func TestMatchRecognizeEquivalence(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, par := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("parallelism=%d", par), func(t *testing.T) {
			// A pattern that matches a few times at least.
			for try := 0; ; try++ {
				if matchEquivalence(t, rng, par, try == 9) {
					return
				}
			}
		})
	}
}

// matchEquivalence runs one random query at parallelism par, unless its
// reference result has fewer than 5 matches and not must.
func matchEquivalence(t *testing.T, rng *rand.Rand, par int, must bool) bool {
	const n = 1200
	keys := int64(5 + rng.IntN(4))
	mulA, addB, mod := int64(1+rng.IntN(97)), int64(rng.IntN(50)), int64(8+rng.IntN(20))
	m := &refMatcher{thr: mod - 1 - int64(rng.IntN(3)), skipVar: 1}
	var pat []string
	for v, name := range []string{"A", "B", "C", "D"} {
		q := matchQuant{"", 1, 1}
		if v == 1 || v == 2 {
			q = matchQuants[rng.IntN(len(matchQuants))]
		}
		rel := q.sql != "" && rng.IntN(2) == 0
		s := name + q.sql
		if rel {
			s += "?"
		}
		pat = append(pat, s)
		m.elems = append(m.elems, refElem{v: v, min: q.min, max: q.max, reluctant: rel})
	}
	m.skip = []string{"PAST LAST ROW", "TO NEXT ROW", "TO LAST B", "TO FIRST B"}[rng.IntN(4)]
	within := ""
	if rng.IntN(2) == 0 {
		m.within = int64(1000 + rng.IntN(3000))
		within = fmt.Sprintf("WITHIN INTERVAL '%d.%03d' SECOND", m.within/1000, m.within%1000)
	}
	// Unique times, up to 3.2 s out of order: 64 * (id - r) + id mod 64
	// with r < 64.
	tsOf := func(id int64) int64 { return 1_000_000 + 64*(id-id*7919%50) + id%64 }
	script := fmt.Sprintf(`
CREATE TABLE src (
  id BIGINT,
  k AS id %% %d,
  v AS MOD(id * id * %d + id * %d, %d),
  ts AS TO_TIMESTAMP_LTZ(1000000 + 64 * (id - MOD(id * 7919, 50)) + MOD(id, 64), 3),
  WATERMARK FOR ts AS ts - INTERVAL '4' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '%d');
CREATE TABLE snk (k BIGINT, s BIGINT, e BIGINT, nb BIGINT, sc BIGINT, cls STRING, mt TIMESTAMP_LTZ(3)) WITH ('connector' = 'blackhole');
SET 'parallelism.default' = '%d';
INSERT INTO snk SELECT * FROM src MATCH_RECOGNIZE (
  PARTITION BY k
  ORDER BY ts
  MEASURES FIRST(A.id) AS s, LAST(id) AS e, COUNT(B.id) AS nb, SUM(C.v) AS sc, CLASSIFIER() AS cls, MATCH_ROWTIME() AS mt
  ONE ROW PER MATCH
  AFTER MATCH SKIP %s
  PATTERN (%s) %s
  DEFINE B AS B.v < PREV(B.v), C AS C.v > PREV(C.v), D AS D.v > LAST(B.v) OR D.v >= %d
);
`, keys, mulA, addB, mod, n-1, par, m.skip, strings.Join(pat, " "), within, m.thr)
	t.Logf("parallelism %d, PATTERN (%s), SKIP %s %s", par, strings.Join(pat, " "), m.skip, within)

	// The reference: each key's rows sorted by time.
	byKey := map[int64][]refRow{}
	for id := int64(0); id < n; id++ {
		byKey[id%keys] = append(byKey[id%keys], refRow{id: id, v: (id*id*mulA + id*addB) % mod, ts: tsOf(id)})
	}
	l := row.NewLayout([]types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.TimestampLTZType(3)}, nil)
	var lines []string
	for k, rows := range byKey {
		slices.SortFunc(rows, func(a, b refRow) int { return int(a.ts - b.ts) })
		for _, mt := range m.run(rows) {
			s, vars := mt[0].(int), mt[1].([]int)
			last := rows[s+len(vars)-1]
			var nb int64
			var sc any
			for j, v := range vars {
				switch v {
				case 1:
					nb++
				case 2:
					if sc == nil {
						sc = int64(0)
					}
					sc = sc.(int64) + rows[s+j].v
				}
			}
			r, err := l.Of(row.Insert, k, rows[s].id, last.id, nb, sc, []string{"A", "B", "C", "D"}[vars[len(vars)-1]], row.Timestamp{Millis: last.ts})
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, r.String())
		}
	}
	if len(lines) < 5 && !must {
		return false
	}
	slices.Sort(lines)
	want := strings.Join(lines, "\n") + "\n"
	var failAt []int64
	for range rng.IntN(3) {
		failAt = append(failAt, 1+rng.Int64N(n-1))
	}
	t.Logf("%d matches; failures at rows %v", len(lines), failAt)
	got := applyChangelog(t, runWithFailures(t, script, "snk", failAt))
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	return true
}
