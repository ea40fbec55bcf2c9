package tableenv_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/sql/tableenv"
)

type reading struct {
	Sensor string `sql:"sensor"`
	ID     int64  `sql:"id"`
	V      int64  `sql:"v"`
}

// readingTime is reading id's event time: 10 ms apart, up to 40 ms out of
// order.
func readingTime(r reading) int64 { return r.ID*10 - (r.ID*7919)%40 }

type windowSum struct {
	Start  time.Time `sql:"window_start"`
	Sensor string    `sql:"sensor"`
	Total  int64     `sql:"total"`
	N      int64     `sql:"n"`
}

// runInterop runs a Go stream → SQL window aggregate (a Go aggregate and
// COUNT) → Go stream → exactly-once sink job with checkpoints, failing
// it at each row number of inj's points (counted in a Go operator before
// the SQL), and returns the committed lines, sorted.
func runInterop(t *testing.T, parts [][]reading, par int, inj *enginetest.Injector) []string {
	t.Helper()
	cfg := engine.Config{Parallelism: par, StateBackend: "pebble", MaxParallelism: 32,
		Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(len(inj.Points())+1, time.Millisecond)}
	j := engine.NewJob("interop-failures", cfg)
	env := tableenv.New(j, tableenv.Options{})
	var n atomic.Int64
	src := engine.FromPartitions(j, "readings", parts, engine.BoundedOutOfOrderness(50*time.Millisecond, readingTime))
	src = engine.Map(src, "maybe-fail", func(r reading) reading {
		inj.Panic()
		if n.Add(1)%50 == 0 {
			time.Sleep(200 * time.Microsecond) // let checkpoints happen mid-stream
		}
		return r
	})
	must(t, tableenv.FromStream(env, "readings", src, tableenv.Rowtime("ts")))
	must(t, tableenv.AggregateFunc1[int64](env, "my_sum", sumAgg{}))
	out, err := tableenv.ToStream[windowSum](env, `
SELECT window_start, sensor, my_sum(v) AS total, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, sensor`)
	if err != nil {
		t.Fatal(err)
	}
	lines := engine.Map(out, "format", func(w windowSum) string {
		return fmt.Sprintf("%d %s %d %d", w.Start.UnixMilli(), w.Sensor, w.Total, w.N)
	})
	sink := engine.CollectExactlyOnce(lines, "committed")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatalf("execute: %v", err)
	}
	if inj.Fired() != len(inj.Points()) {
		t.Fatalf("%d of the failures at %v fired", inj.Fired(), inj.Points())
	}
	got := sink.CommittedValues()
	slices.Sort(got)
	return got
}

// TestExactlyOnceWithFailures: the interop job with 0–2 random failures
// at parallelism 1, 2 and 4 commits what a failure-free run does, which
// is what a Go batch computation gives.
func TestExactlyOnceWithFailures(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 13))
	const total = 2000
	parts := make([][]reading, 4)
	want := map[string][2]int64{}
	for id := range int64(total) {
		r := reading{Sensor: fmt.Sprintf("s%d", id%5), ID: id, V: rng.Int64N(100)}
		parts[id%4] = append(parts[id%4], r)
		ts := readingTime(r)
		ws := ts - ((ts%1000)+1000)%1000
		k := fmt.Sprintf("%d %s", ws, r.Sensor)
		w := want[k]
		want[k] = [2]int64{w[0] + r.V, w[1] + 1}
	}
	var wantLines []string
	for k, w := range want {
		wantLines = append(wantLines, fmt.Sprintf("%s %d %d", k, w[0], w[1]))
	}
	slices.Sort(wantLines)
	for _, par := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("parallelism=", par), func(t *testing.T) {
			clean := runInterop(t, parts, par, enginetest.NewInjector())
			if g, w := strings.Join(clean, "\n"), strings.Join(wantLines, "\n"); g != w {
				t.Fatalf("failure-free run:\n%s\nwant:\n%s", g, w)
			}
			inj := enginetest.RandomInjector(rng, total, 1+rng.IntN(2))
			got := runInterop(t, parts, par, inj)
			if g, w := strings.Join(got, "\n"), strings.Join(clean, "\n"); g != w {
				t.Fatalf("with failures at %v:\n%s\nwithout:\n%s", inj.Points(), g, w)
			}
		})
	}
}
