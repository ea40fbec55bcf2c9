package pipelinebench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
)

// The overhead of metrics collection (`sluice bench pipeline
// --metrics-overhead`): each case runs with collection on and off,
// interleaved run by run. "On" is what `sluice serve` does for a job's
// page and /metrics — Graph, Subtasks (per-subtask counters, busy /
// backpressured / idle time), Metrics and CheckpointHistory read from the
// running job — every ScrapeEvery (100 ms: a dashboard polling ten times
// a second, 150 times Prometheus' default 15 s scrape); "off" reads
// nothing. The engine's own counters (records, backpressure and idle
// time) are part of the engine and counted in both.

// ScrapeEvery is how often "on" reads a running job's figures.
const ScrapeEvery = 100 * time.Millisecond

// scrape reads every figure of r, as the service does, until stop closes,
// and returns how many times it did.
func scrape(r *engine.Running, stop <-chan struct{}, n *atomic.Int64) {
	t := time.NewTicker(ScrapeEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.Graph()
			r.Subtasks()
			r.Metrics()
			r.CheckpointHistory()
			n.Add(1)
		}
	}
}

// runCollected runs j, reading its figures every ScrapeEvery when on.
func runCollected(ctx context.Context, j *engine.Job, on bool, scrapes *atomic.Int64) error {
	r, err := j.Start(ctx)
	if err != nil {
		return err
	}
	if on {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { scrape(r, stop, scrapes); close(done) }()
		err = r.Wait()
		close(stop)
		<-done
		return err
	}
	return r.Wait()
}

// RunMetricsOverhead runs the chained and keyed p=2 cases with metrics
// collection on and off side by side (pipeline/metrics-off/... and
// pipeline/metrics-on/..., the "on" result with "off" as its baseline,
// so the ratio is on/off throughput).
func RunMetricsOverhead(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs < 1 {
		return bench.ConfigError("--runs must be at least 1")
	}
	type build func() (*engine.Job, *atomic.Int64)
	cases := []struct {
		name string
		n    int64
		job  build
	}{
		{"chained-map-filter/p1", cfg.ChainedRecords, func() (*engine.Job, *atomic.Int64) { return chainedJob(cfg.ChainedRecords, 1, engine.Config{}) }},
		{"keyed-running-sum/p2", cfg.KeyedRecords, func() (*engine.Job, *atomic.Int64) { return keyedSumJob(cfg.KeyedRecords, 2, engine.Config{}) }},
	}
	for _, c := range cases {
		var on, off []bench.Sample
		var scrapes atomic.Int64
		for r := 0; r < cfg.Runs; r++ {
			var sums [2]int64
			for k, collect := range []bool{false, true} {
				if r%2 == 1 {
					collect = !collect // alternate which goes first
				}
				j, sum := c.job()
				s, err := bench.Measure(func() (int64, int64, error) {
					return c.n, c.n * 32, runCollected(ctx, j, collect, &scrapes)
				})
				if err != nil {
					return err
				}
				sums[k] = sum.Load()
				if collect {
					on = append(on, s)
				} else {
					off = append(off, s)
				}
			}
			if sums[0] != sums[1] {
				return fmt.Errorf("%s: the runs computed %d and %d", c.name, sums[0], sums[1])
			}
		}
		if scrapes.Load() == 0 {
			return fmt.Errorf("%s: the runs were too short for one scrape (%v); give more records", c.name, ScrapeEvery)
		}
		if err := emit(bench.FromSamples("pipeline/metrics-off/"+c.name, off)); err != nil {
			return err
		}
		if err := emit(bench.FromSamples("pipeline/metrics-on/"+c.name, on).WithBaseline(off)); err != nil {
			return err
		}
	}
	return nil
}
