package nexmark

import (
	"context"
	"testing"
	"time"
)

// BenchmarkQueries runs each query over 1 M events at parallelism 1 with
// Pebble state and no checkpoints, for profiles:
//
//	go test ./internal/bench/nexmark -run XXX -bench 'Queries/q5$' -benchtime 1x -cpuprofile /tmp/q5.prof
func BenchmarkQueries(b *testing.B) {
	for _, q := range Queries {
		b.Run(q.Name, func(b *testing.B) {
			cfg := DefaultConfig
			cfg.Events, cfg.CheckpointInterval = 1_000_000, 0
			for b.Loop() {
				if _, _, err := runOnce(context.Background(), q, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cfg.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestRunReportsRows: the benchmark's sink counts every row of a query
// (q2: bids on auctions that are multiples of 123) and measures their
// latency.
func TestRunReportsRows(t *testing.T) {
	cfg := DefaultConfig
	cfg.Query, cfg.Events, cfg.Runs, cfg.EventsPerSecond, cfg.CheckpointInterval = "q2", 30_000, 1, 1000, 20*time.Millisecond
	q, _ := QueryByName("q2")
	st, s, err := runOnce(context.Background(), q, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Reference(q, JobConfig{Generator: genConfig(cfg), Events: cfg.Events})
	if err != nil {
		t.Fatal(err)
	}
	if st.rows != int64(len(want)) || st.latencyRows != st.rows || s.Records != cfg.Events {
		t.Fatalf("rows %d (latency of %d), events %d; want %d rows, all with a latency, %d events", st.rows, st.latencyRows, s.Records, len(want), cfg.Events)
	}
}
