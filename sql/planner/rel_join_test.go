package planner

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/row"
)

// sided is a record of one of a join's two inputs, for driving the join
// operator through the one-input harness in a chosen order.
type sided struct {
	right bool
	r     *row.Row
}

type sidedJoin struct{ op *joinOp }

func (s *sidedJoin) Open(ctx *engine.OperatorContext[*row.Row], keys *engine.Keys[string]) error {
	return s.op.Open(ctx, keys)
}

func (s *sidedJoin) ProcessBatch(b []engine.Record[sided]) error {
	for _, x := range b {
		rec := []engine.Record[*row.Row]{{Value: x.Value.r, Time: x.Time}}
		var err error
		if x.Value.right {
			err = s.op.ProcessBatch2(rec)
		} else {
			err = s.op.ProcessBatch1(rec)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *sidedJoin) OnTimer(t engine.TimerFiring) error { return s.op.OnTimer(t) }
func (s *sidedJoin) Close() error                       { return s.op.Close() }

// joinPlanOf plans script and returns the plan of its (one) join.
func joinPlanOf(t *testing.T, script string) *joinPlan {
	t.Helper()
	p, err := Plan(script)
	if err != nil {
		t.Fatal(err)
	}
	var find func(n *relNode) *joinPlan
	find = func(n *relNode) *joinPlan {
		if n.kind == relJoin {
			return n.join
		}
		for _, in := range n.inputs {
			if jp := find(in); jp != nil {
				return jp
			}
		}
		return nil
	}
	jp := find(p.inserts[0].root)
	if jp == nil {
		t.Fatal("no join in the plan")
	}
	return jp
}

// TestJoinChangelog feeds a regular join's operator rows of both sides
// in a set order and checks the changelog it emits, as Flink's: an outer
// row without a match is +I padded with NULLs, its first match retracts
// that (-D) before the joined +I, a retraction takes back its joined rows
// (-D) and re-pads the other side's outer rows that lose their last
// match.
func TestJoinChangelog(t *testing.T) {
	const ddl = `
CREATE TABLE a (id BIGINT, k BIGINT) WITH ('connector' = 'datagen');
CREATE TABLE b (k BIGINT, w STRING) WITH ('connector' = 'datagen');
CREATE TABLE snk (id BIGINT, k BIGINT, k2 BIGINT, w STRING) WITH ('connector' = 'print');
`
	type in struct {
		right bool
		kind  row.Kind
		vals  []any
	}
	L := func(k row.Kind, vs ...any) in { return in{false, k, vs} }
	R := func(k row.Kind, vs ...any) in { return in{true, k, vs} }
	for _, tc := range []struct {
		name, join string
		in         []in
		want       string
	}{{
		name: "left",
		join: "a LEFT JOIN b ON a.k = b.k",
		in: []in{L(row.Insert, int64(1), int64(7)), R(row.Insert, int64(7), "p"), R(row.Insert, int64(7), "q"),
			R(row.Delete, int64(7), "p"), R(row.Delete, int64(7), "q"), L(row.Delete, int64(1), int64(7))},
		want: `+I[1, 7, null, null]
-D[1, 7, null, null]
+I[1, 7, 7, p]
+I[1, 7, 7, q]
-D[1, 7, 7, p]
-D[1, 7, 7, q]
+I[1, 7, null, null]
-D[1, 7, null, null]
`,
	}, {
		name: "full",
		join: "a FULL JOIN b ON a.k = b.k",
		in: []in{R(row.Insert, int64(7), "p"), L(row.Insert, int64(1), int64(7)), L(row.Insert, int64(2), int64(7)),
			L(row.UpdateBefore, int64(1), int64(7)), L(row.UpdateAfter, int64(1), int64(8)), L(row.Delete, int64(2), int64(7)),
			L(row.Insert, int64(3), nil)},
		want: `+I[null, null, 7, p]
-D[null, null, 7, p]
+I[1, 7, 7, p]
+I[2, 7, 7, p]
-D[1, 7, 7, p]
+I[1, 8, null, null]
-D[2, 7, 7, p]
+I[null, null, 7, p]
+I[3, null, null, null]
`,
	}, {
		name: "inner with a condition and duplicates",
		join: "a JOIN b ON a.k = b.k AND a.id < 5",
		in: []in{L(row.Insert, int64(1), int64(7)), L(row.Insert, int64(1), int64(7)), L(row.Insert, int64(9), int64(7)),
			R(row.Insert, int64(7), "p"), L(row.Delete, int64(1), int64(7)), R(row.Delete, int64(7), "p"), R(row.Delete, int64(7), "zz")},
		want: `+I[1, 7, 7, p]
+I[1, 7, 7, p]
-D[1, 7, 7, p]
-D[1, 7, 7, p]
`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			jp := joinPlanOf(t, ddl+"INSERT INTO snk SELECT a.id, a.k, b.k, b.w FROM "+tc.join+";")
			h, err := engine.NewKeyedHarness[sided, string, *row.Row](&sidedJoin{op: &joinOp{jp: jp}}, engine.HarnessOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range tc.in {
				l := jp.left
				if x.right {
					l = jp.right
				}
				r, err := l.Of(x.kind, x.vals...)
				if err != nil {
					t.Fatal(err)
				}
				if err := h.ProcessElement(sided{right: x.right, r: r}, int64(i)); err != nil {
					t.Fatal(err)
				}
			}
			var got strings.Builder
			for _, r := range h.OutputValues() {
				got.WriteString(r.String() + "\n")
			}
			if got.String() != tc.want {
				t.Fatalf("changelog:\n%s\nwant:\n%s", got.String(), tc.want)
			}
		})
	}
}

// TestJoinStateTTL: with table.exec.state.ttl a regular join forgets a
// row the TTL after it was written (processing time), as Flink's.
func TestJoinStateTTL(t *testing.T) {
	jp := joinPlanOf(t, `
CREATE TABLE a (id BIGINT, k BIGINT) WITH ('connector' = 'datagen');
CREATE TABLE b (k BIGINT, w STRING) WITH ('connector' = 'datagen');
CREATE TABLE snk (id BIGINT, w STRING) WITH ('connector' = 'print');
SET 'table.exec.state.ttl' = '1 min';
INSERT INTO snk SELECT a.id, b.w FROM a JOIN b ON a.k = b.k;`)
	opts, err := joinStateOptions(jp)
	if err != nil || len(opts) != 1 {
		t.Fatalf("state options %v, %v", opts, err)
	}
	h, err := engine.NewKeyedHarness[sided, string, *row.Row](&sidedJoin{op: &joinOp{jp: jp, opts: opts}}, engine.HarnessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(right bool, vs ...any) {
		t.Helper()
		l := jp.left
		if right {
			l = jp.right
		}
		r, err := l.Of(row.Insert, vs...)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.ProcessElement(sided{right: right, r: r}, 0); err != nil {
			t.Fatal(err)
		}
	}
	feed(false, int64(1), int64(7))
	if err := h.SetProcessingTime(30_000); err != nil {
		t.Fatal(err)
	}
	feed(true, int64(7), "p") // 30 s later: a's row is there
	if n := len(h.OutputValues()); n != 1 {
		t.Fatalf("%d rows within the TTL, want 1", n)
	}
	if err := h.SetProcessingTime(200_000); err != nil {
		t.Fatal(err)
	}
	feed(false, int64(2), int64(7)) // b's row expired
	if n := len(h.OutputValues()); n != 1 {
		t.Fatalf("%d rows after the TTL, want 1 (the expired row joined): %v", n, h.OutputValues())
	}
}
