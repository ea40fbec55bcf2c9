// Package pipelinebench is `sluice bench pipeline`: the engine's throughput
// on a chained source→map→filter→sink job and a keyed running sum (p=1,
// p=2), each run interleaved with the hand-written Go loop that does the
// same work, so that both are measured side by side in one process run.
// The workloads are also the engine's `go test -bench` benchmarks.
package pipelinebench

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
)

// Config is the configuration of Run.
type Config struct {
	Runs           int   // runs per case; figures are medians
	ChainedRecords int64 // records per run of the chained case
	KeyedRecords   int64 // records per run of the keyed cases
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, ChainedRecords: 20_000_000, KeyedRecords: 5_000_000}

// Run runs the cases and hands each result to emit as it finishes
// (pipeline/chained-map-filter/p1, pipeline/keyed-running-sum/p1 and /p2).
// It blocks until they are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs < 1 {
		return bench.ConfigError("--runs must be at least 1")
	}
	if cfg.ChainedRecords < 1 || cfg.KeyedRecords < 1 {
		return bench.ConfigError("--chained-records and --keyed-records must be at least 1")
	}

	// Chained source→map→filter→sink at parallelism 1, interleaved with the
	// hand-written loop.
	var eng, base []bench.Sample
	for r := 0; r < cfg.Runs; r++ {
		var got int64
		s, err := bench.Measure(func() (int64, int64, error) {
			var err error
			got, err = Chained(ctx, cfg.ChainedRecords, 1, engine.Config{})
			return cfg.ChainedRecords, cfg.ChainedRecords * 32, err
		})
		if err != nil {
			return err
		}
		eng = append(eng, s)
		var want int64
		b, _ := bench.Measure(func() (int64, int64, error) {
			want = ChainedBaseline(cfg.ChainedRecords)
			return cfg.ChainedRecords, cfg.ChainedRecords * 32, nil
		})
		base = append(base, b)
		if got != want {
			return fmt.Errorf("chained: engine computed %d, the loop %d", got, want)
		}
	}
	if err := emit(bench.FromSamples("pipeline/chained-map-filter/p1", eng).WithBaseline(base)); err != nil {
		return err
	}

	for _, p := range []int{1, 2} {
		eng, base = nil, nil
		for r := 0; r < cfg.Runs; r++ {
			var got int64
			s, err := bench.Measure(func() (int64, int64, error) {
				var err error
				got, err = KeyedSum(ctx, cfg.KeyedRecords, p, engine.Config{})
				return cfg.KeyedRecords, cfg.KeyedRecords * 32, err
			})
			if err != nil {
				return err
			}
			eng = append(eng, s)
			var want int64
			b, _ := bench.Measure(func() (int64, int64, error) {
				want = KeyedSumBaseline(cfg.KeyedRecords)
				return cfg.KeyedRecords, cfg.KeyedRecords * 32, nil
			})
			base = append(base, b)
			if got != want {
				return fmt.Errorf("keyed p=%d: engine computed %d, the loop %d", p, got, want)
			}
		}
		name := fmt.Sprintf("pipeline/keyed-running-sum/p%d", p)
		if err := emit(bench.FromSamples(name, eng).WithBaseline(base)); err != nil {
			return err
		}
	}
	return nil
}
