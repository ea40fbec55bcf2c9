package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/row"
)

// findAgg is the first group aggregation of p's first INSERT.
func findAgg(t *testing.T, p *Program) *aggPlan {
	t.Helper()
	var walk func(n *relNode) *aggPlan
	walk = func(n *relNode) *aggPlan {
		if n.kind == relAgg {
			return n.agg
		}
		for _, in := range n.inputs {
			if a := walk(in); a != nil {
				return a
			}
		}
		return nil
	}
	if len(p.inserts) == 0 {
		t.Fatal("no INSERT")
	}
	a := walk(p.inserts[0].root)
	if a == nil {
		t.Fatal("no group aggregation in the plan")
	}
	return a
}

// TestGroupAggStateTTL: with table.exec.state.ttl a key's state expires
// an hour (processing time, the harness's manual clock) after its last
// write, and the key's next row starts it again as +I; a key written
// within the hour keeps counting.
func TestGroupAggStateTTL(t *testing.T) {
	p, err := Plan(`CREATE TABLE src (k STRING, v BIGINT) WITH ('connector' = 'datagen');
CREATE TABLE snk (k STRING, c BIGINT, s BIGINT) WITH ('connector' = 'print');
SET 'table.exec.state.ttl' = '1 h';
INSERT INTO snk SELECT k, COUNT(*), SUM(v) FROM src GROUP BY k;`)
	if err != nil {
		t.Fatal(err)
	}
	ap := findAgg(t, p)
	if ap.ttl != time.Hour {
		t.Fatalf("ttl %v, want 1h", ap.ttl)
	}
	enc := row.NewKeyEncoder(ap.in, ap.keys)
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			h, err := engine.NewKeyedProcessHarness[*row.Row, string, *row.Row](enc.Key, &groupAgg{plan: ap}, engine.HarnessOptions{StateBackend: backend})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			in := func(k string, v int64) {
				t.Helper()
				r, err := ap.in.Of(row.Insert, k, v)
				if err != nil {
					t.Fatal(err)
				}
				if err := h.ProcessElement(r, 1); err != nil {
					t.Fatal(err)
				}
			}
			at := func(d time.Duration) {
				t.Helper()
				if err := h.SetProcessingTime(d.Milliseconds()); err != nil {
					t.Fatal(err)
				}
			}
			in("a", 1)
			in("b", 10)
			at(59 * time.Minute)
			in("b", 20) // b written again: expires at 1h59m
			at(61 * time.Minute)
			in("a", 2) // a expired at 1h: starts again
			in("b", 30)
			var got []string
			for _, r := range h.OutputValues() {
				got = append(got, r.String())
			}
			want := "+I[a, 1, 1] +I[b, 1, 10] -U[b, 1, 10] +U[b, 2, 30] +I[a, 1, 2] -U[b, 2, 30] +U[b, 3, 60]"
			if s := strings.Join(got, " "); s != want {
				t.Fatalf("changelog:\n%s\nwant:\n%s", s, want)
			}
		})
	}
}
