package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/row"
)

// findRelOp is the operator of the first node of kind in p's first
// INSERT.
func findRelOp[T relOp](t *testing.T, p *Program, kind relKind) T {
	t.Helper()
	var walk func(n *relNode) *relNode
	walk = func(n *relNode) *relNode {
		if n.kind == kind {
			return n
		}
		for _, in := range n.inputs {
			if x := walk(in); x != nil {
				return x
			}
		}
		return nil
	}
	if len(p.inserts) == 0 {
		t.Fatal("no INSERT")
	}
	n := walk(p.inserts[0].root)
	if n == nil {
		t.Fatalf("no node of kind %d in the plan", kind)
	}
	op, ok := n.op.(T)
	if !ok {
		t.Fatalf("the node's operator is a %T", n.op)
	}
	return op
}

// ttlHarness drives a keyed process function of the planner on rows of
// layout in, keyed by columns keys, with the harness's manual
// processing-time clock.
type ttlHarness struct {
	t  *testing.T
	h  *engine.Harness[*row.Row, *row.Row]
	in *row.Layout
}

func newTTLHarness(t *testing.T, backend string, in *row.Layout, keys []int, fn engine.KeyedProcessFunction[string, *row.Row, *row.Row]) *ttlHarness {
	t.Helper()
	enc := row.NewKeyEncoder(in, keys)
	h, err := engine.NewKeyedProcessHarness[*row.Row, string, *row.Row](enc.Key, fn, engine.HarnessOptions{StateBackend: backend})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &ttlHarness{t: t, h: h, in: in}
}

// row feeds a row of the given values at event time ts.
func (x *ttlHarness) row(ts int64, vs ...any) {
	x.t.Helper()
	r, err := x.in.Of(row.Insert, vs...)
	if err != nil {
		x.t.Fatal(err)
	}
	if err := x.h.ProcessElement(r, ts); err != nil {
		x.t.Fatal(err)
	}
}

func (x *ttlHarness) watermark(wm int64) {
	x.t.Helper()
	if err := x.h.ProcessWatermark(wm); err != nil {
		x.t.Fatal(err)
	}
}

func (x *ttlHarness) at(d time.Duration) {
	x.t.Helper()
	if err := x.h.SetProcessingTime(d.Milliseconds()); err != nil {
		x.t.Fatal(err)
	}
}

// changelog is the output so far, in print form, space separated.
func (x *ttlHarness) changelog() string {
	var got []string
	for _, r := range x.h.OutputValues() {
		got = append(got, r.String())
	}
	return strings.Join(got, " ")
}

func ts(ms int64) row.Timestamp { return row.Timestamp{Millis: ms} }

// TestOverStateTTL: with table.exec.state.ttl a partition's OVER
// accumulators (an unbounded frame) or frame rows (a bounded one) expire
// an hour (processing time) after their last write, and its next row
// starts the aggregates again; a partition written within the hour keeps
// them.
func TestOverStateTTL(t *testing.T) {
	const want = "+I[a, 1, 1, 1970-01-01T00:00:00.001Z, 1] +I[b, 10, 1, 1970-01-01T00:00:00.001Z, 10] +I[b, 20, 2, 1970-01-01T00:00:00.002Z, 30] " +
		"+I[a, 2, 3, 1970-01-01T00:00:00.003Z, 2] +I[b, 30, 3, 1970-01-01T00:00:00.003Z, 60]"
	for _, frame := range []string{
		"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
		"ROWS BETWEEN 5 PRECEDING AND CURRENT ROW",
		"RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW",
	} {
		p, err := Plan(`CREATE TABLE src (k STRING, v BIGINT, ms BIGINT, ts AS TO_TIMESTAMP_LTZ(ms, 3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen');
CREATE TABLE snk (k STRING, v BIGINT, ts TIMESTAMP_LTZ(3), s BIGINT) WITH ('connector' = 'print');
SET 'table.exec.state.ttl' = '1 h';
INSERT INTO snk SELECT k, v, ts, SUM(v) OVER (PARTITION BY k ORDER BY ts ` + frame + `) FROM src;`)
		if err != nil {
			t.Fatal(err)
		}
		op := findRelOp[*overPlan](t, p, relOver)
		if op.ttl != time.Hour {
			t.Fatalf("ttl %v, want 1h", op.ttl)
		}
		for _, backend := range []string{"memory", "pebble"} {
			t.Run(frame+"/"+backend, func(t *testing.T) {
				x := newTTLHarness(t, backend, op.in, op.keys, &overFunc{op: op})
				x.row(1, "a", int64(1), int64(1), ts(1))
				x.row(1, "b", int64(10), int64(1), ts(1))
				x.watermark(1)
				x.at(59 * time.Minute)
				x.row(2, "b", int64(20), int64(2), ts(2)) // b's state written again: expires at 1h59m
				x.watermark(2)
				x.at(61 * time.Minute)
				x.row(3, "a", int64(2), int64(3), ts(3)) // a's expired at 1h: starts again
				x.row(3, "b", int64(30), int64(3), ts(3))
				x.watermark(3)
				if got := x.changelog(); got != want {
					t.Fatalf("changelog:\n%s\nwant:\n%s", got, want)
				}
			})
		}
	}
}
