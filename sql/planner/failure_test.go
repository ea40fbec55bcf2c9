package planner_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// runWithFailures plans and runs script with checkpoints every 2 ms and
// restarts, failing the job when the n-th row (counted over every table
// read, across restarts) is read for each n of failAt, and returns the
// rows committed to table sink, exactly once, in commit order. Each
// failure point fires once.
func runWithFailures(t *testing.T, script, sink string, failAt []int64) []*row.Row {
	t.Helper()
	out := engine.NewTxCollect[*row.Row]()
	runFailing(t, script, failAt, 2*time.Millisecond, func(table string) engine.Sink[*row.Row] {
		if table == sink {
			return out
		}
		return nil
	})
	return out.CommittedValues()
}

// runRealSinksWithFailures is runWithFailures with the tables' own
// connectors as sinks, checkpoints every 5 ms.
func runRealSinksWithFailures(t *testing.T, script string, failAt []int64) {
	t.Helper()
	runFailing(t, script, failAt, 5*time.Millisecond, nil)
}

// runFailing plans and runs script with checkpoints every interval, the
// pebble backend and restarts, sinkTo as RunOptions.SinkTo, and a tap on
// every table read that fails the job at each row number of failAt once;
// it fails the test if a failure point never fired.
func runFailing(t *testing.T, script string, failAt []int64, interval time.Duration, sinkTo func(string) engine.Sink[*row.Row]) {
	t.Helper()
	p, err := planner.Plan(script)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	defer p.Close()
	cfg, err := p.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateBackend = "pebble"
	cfg.MaxParallelism = 32
	cfg.Checkpoint = engine.CheckpointConfig{Interval: interval, Dir: t.TempDir()}
	cfg.Restart = engine.FixedDelay(len(failAt)+1, time.Millisecond)
	j := engine.NewJob(p.JobName("failures"), cfg)
	var read atomic.Int64
	fired := make([]atomic.Bool, len(failAt))
	o := planner.RunOptions{
		DataDir: t.TempDir(),
		SinkTo:  sinkTo,
		Tap: func(table string, s *engine.Stream[*row.Row]) *engine.Stream[*row.Row] {
			return engine.Map(s, table+"-maybe-fail", func(r *row.Row) *row.Row {
				n := read.Add(1)
				for i, at := range failAt {
					if n >= at && fired[i].CompareAndSwap(false, true) {
						panic(fmt.Sprintf("injected failure at row %d", n))
					}
				}
				if n%50 == 0 {
					time.Sleep(200 * time.Microsecond) // let checkpoints happen mid-stream
				}
				return r
			})
		},
	}
	if err := p.Build(j, o); err != nil {
		t.Fatalf("build: %v", err)
	}
	if err := j.Execute(context.Background()); err != nil {
		t.Fatalf("execute: %v", err)
	}
	for i := range fired {
		if !fired[i].Load() {
			t.Fatalf("failure %d (at row %d) never fired: %d rows read", i, failAt[i], read.Load())
		}
	}
}

// applyChangelog applies rows (+I and +U add a row, -U and -D take back
// an equal one) and returns the final table as sorted print lines without
// the kind. A retraction of a row that is not there fails the test.
func applyChangelog(t *testing.T, rows []*row.Row) string {
	t.Helper()
	count := map[string]int{}
	for _, r := range rows {
		c := r.Clone()
		c.Kind = row.Insert
		k := c.String()
		if r.Kind.IsRetract() {
			if count[k] == 0 {
				t.Fatalf("%v retracts a row that is not in the result", r)
			}
			count[k]--
			continue
		}
		count[k]++
	}
	var lines []string
	for k, n := range count {
		for ; n > 0; n-- {
			lines = append(lines, k)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// sortedLines sorts lines and joins them, one per line.
func sortedLines(lines []string) string {
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestRunWithFailuresExactlyOnce checks the kit on a window aggregation:
// failures at two points give the same committed rows as a run without.
func TestRunWithFailuresExactlyOnce(t *testing.T) {
	script := `
CREATE TABLE src (
  id BIGINT,
  k AS id % 7,
  ts AS TO_TIMESTAMP_LTZ(id * 10 - MOD(id * 7919, 40), 3),
  WATERMARK FOR ts AS ts - INTERVAL '0.05' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '2999');
CREATE TABLE snk (ws TIMESTAMP(3), k BIGINT, c BIGINT) WITH ('connector' = 'blackhole');
SET 'parallelism.default' = '2';
INSERT INTO snk SELECT window_start, k, COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;
`
	// The batch computation: COUNT(*) per 1 s window and key.
	counts := map[[2]int64]int64{}
	for id := int64(0); id < 3000; id++ {
		ts := id*10 - id*7919%40
		ws := ts - ((ts%1000)+1000)%1000
		counts[[2]int64{ws, id % 7}]++
	}
	l := row.NewLayout([]types.Type{types.TimestampType(3), types.BigIntType(), types.BigIntType()}, nil)
	var lines []string
	for g, c := range counts {
		r, err := l.Of(row.Insert, row.Timestamp{Millis: g[0]}, g[1], c)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, r.String())
	}
	slices.Sort(lines)
	want := strings.Join(lines, "\n") + "\n"
	if got := applyChangelog(t, runWithFailures(t, script, "snk", nil)); got != want {
		t.Fatalf("without failures:\n%s\nwant:\n%s", got, want)
	}
	got := applyChangelog(t, runWithFailures(t, script, "snk", []int64{900, 2400}))
	if got != want {
		t.Fatalf("with failures:\n%s\nwithout:\n%s", got, want)
	}
}
