package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/sql/row"
)

const ttlSource = `CREATE TABLE src (k STRING, v BIGINT, ms BIGINT, ts AS TO_TIMESTAMP_LTZ(ms, 3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen');
SET 'table.exec.state.ttl' = '1 h';
`

// planRank plans script (after ttlSource) and returns its rank, checking
// its TTL and kind.
func planRank(t *testing.T, script string, kind rankKind) *rankPlan {
	t.Helper()
	p, err := Plan(ttlSource + script)
	if err != nil {
		t.Fatal(err)
	}
	rp := findRelOp[*rankPlan](t, p, relRank)
	if rp.ttl != time.Hour || rp.kind != kind {
		t.Fatalf("ttl %v, kind %d; want 1h, %d", rp.ttl, rp.kind, kind)
	}
	return rp
}

// TestTopNStateTTL: with table.exec.state.ttl a partition's top rows
// expire an hour (processing time) after their last write, and its next
// row starts a new top N as rank 1; a partition written within the hour
// keeps its ranks.
func TestTopNStateTTL(t *testing.T) {
	rp := planRank(t, `CREATE TABLE snk (k STRING, v BIGINT, rn BIGINT) WITH ('connector' = 'print');
INSERT INTO snk SELECT k, v, rn FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM src) WHERE rn <= 2;`, rankTopN)
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			x := newTTLHarness(t, backend, rp.in, rp.keys, &topNFunc{rp: rp})
			x.row(1, "a", int64(5))
			x.row(1, "b", int64(10))
			x.at(59 * time.Minute)
			x.row(2, "b", int64(20)) // b written again: expires at 1h59m
			x.at(61 * time.Minute)
			x.row(3, "a", int64(1)) // a expired at 1h: rank 1 again
			x.row(3, "b", int64(15))
			want := "+I[a, 5, 1] +I[b, 10, 1] -U[b, 10, 1] +U[b, 20, 1] +I[b, 10, 2] +I[a, 1, 1] -U[b, 10, 2] +U[b, 15, 2]"
			if got := x.changelog(); got != want {
				t.Fatalf("changelog:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestKeepFirstStateTTL: with table.exec.state.ttl a deduplication
// keeping the first row forgets a key an hour (processing time) after
// its row was emitted, and the key's next row is emitted as a new first;
// a key emitted within the hour still drops its later rows.
func TestKeepFirstStateTTL(t *testing.T) {
	rp := planRank(t, `CREATE TABLE snk (k STRING, v BIGINT, ts TIMESTAMP_LTZ(3)) WITH ('connector' = 'print');
INSERT INTO snk SELECT k, v, ts FROM (SELECT k, v, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM src) WHERE rn = 1;`, rankKeepFirst)
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			x := newTTLHarness(t, backend, rp.in, rp.keys, &keepFirstFunc{rp: rp})
			x.row(1, "a", int64(1), ts(1))
			x.watermark(1) // a emitted at 0
			x.at(59 * time.Minute)
			x.row(2, "b", int64(10), ts(2))
			x.watermark(2) // b emitted at 59m: forgotten at 1h59m
			x.at(61 * time.Minute)
			x.row(3, "a", int64(2), ts(3)) // a forgotten at 1h: a new first
			x.row(3, "b", int64(11), ts(3))
			x.watermark(3)
			want := "+I[a, 1, 1970-01-01T00:00:00.001Z] +I[b, 10, 1970-01-01T00:00:00.002Z] +I[a, 2, 1970-01-01T00:00:00.003Z]"
			if got := x.changelog(); got != want {
				t.Fatalf("changelog:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestKeepLastStateTTL: with table.exec.state.ttl a deduplication keeping
// the last row forgets a key an hour (processing time) after its row last
// changed, and the key's next row is an insert (+I) rather than an update;
// a key changed within the hour is updated (-U, +U).
func TestKeepLastStateTTL(t *testing.T) {
	rp := planRank(t, `CREATE TABLE snk (k STRING, v BIGINT, ts TIMESTAMP_LTZ(3)) WITH ('connector' = 'print');
INSERT INTO snk SELECT k, v, ts FROM (SELECT k, v, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM src) WHERE rn = 1;`, rankKeepLast)
	enc := row.NewKeyEncoder(rp.in, rp.keys)
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			op, err := operators.NewDedupOperator(enc.Key, rp.keepLastOptions())
			if err != nil {
				t.Fatal(err)
			}
			h, err := engine.NewKeyedHarness(op, engine.HarnessOptions{StateBackend: backend})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			in := func(k string, v, ms int64) {
				t.Helper()
				r, err := rp.in.Of(row.Insert, k, v, ts(ms))
				if err != nil {
					t.Fatal(err)
				}
				if err := h.ProcessElement(r, ms); err != nil {
					t.Fatal(err)
				}
			}
			at := func(d time.Duration) {
				t.Helper()
				if err := h.SetProcessingTime(d.Milliseconds()); err != nil {
					t.Fatal(err)
				}
			}
			in("a", 1, 1)
			in("b", 10, 1)
			at(59 * time.Minute)
			in("b", 20, 2) // b changed: forgotten at 1h59m
			at(61 * time.Minute)
			in("a", 2, 3) // a forgotten at 1h: an insert
			in("b", 30, 3)
			var got []string
			for _, c := range h.OutputValues() {
				got = append(got, c.Kind.String()+strings.TrimPrefix(c.Value.String(), "+I"))
			}
			want := "+I[a, 1, 1970-01-01T00:00:00.001Z] +I[b, 10, 1970-01-01T00:00:00.001Z] -U[b, 10, 1970-01-01T00:00:00.001Z] +U[b, 20, 1970-01-01T00:00:00.002Z] " +
				"+I[a, 2, 1970-01-01T00:00:00.003Z] -U[b, 20, 1970-01-01T00:00:00.002Z] +U[b, 30, 1970-01-01T00:00:00.003Z]"
			if s := strings.Join(got, " "); s != want {
				t.Fatalf("changelog:\n%s\nwant:\n%s", s, want)
			}
		})
	}
}
