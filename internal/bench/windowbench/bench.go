package windowbench

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
)

// Config is the configuration of Run (`sluice bench windows`).
type Config struct {
	Runs               int           // runs per case; figures are medians
	Records            int64         // records per run (PerMs*1000 per second of event time)
	Parallelism        int           // parallelism of the job
	CheckpointInterval time.Duration // 0: no checkpoints
	StateBackend       string        // pebble or memory
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, Records: 20_000_000, Parallelism: 1, CheckpointInterval: 10 * time.Second, StateBackend: "pebble"}

// Run runs the window workloads of this package (10,000
// users, 100 records per millisecond of event time: 100 records per user
// per 10 s window) as jobs with periodic checkpoints to a temporary
// directory, interleaved with the hand-written loops that compute the same
// results, and checks that both agree. The hop case also reports its cost
// relative to the tumbling one (tumbling records/s ÷ hop records/s, by
// wall and by CPU time).
//
// It hands each result to emit as it finishes and blocks until the cases
// are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	switch {
	case cfg.Runs < 1:
		return bench.ConfigError("--runs must be at least 1")
	case cfg.Records < 1:
		return bench.ConfigError("--records must be at least 1")
	case cfg.Parallelism < 1:
		return bench.ConfigError("--parallelism must be at least 1")
	case cfg.StateBackend != "pebble" && cfg.StateBackend != "memory":
		return bench.ConfigError("--state-backend must be pebble or memory")
	}
	runs, par, interval, backend := cfg.Runs, cfg.Parallelism, cfg.CheckpointInterval, cfg.StateBackend
	n := cfg.Records
	var tumbling bench.Result
	for _, spec := range []Spec{Tumbling10s, Hop10s2s} {
		var eng, base []bench.Sample
		var got Result
		var cps []float64
		for r := 0; r < runs; r++ {
			jobCfg := engine.Config{StateBackend: backend}
			var dir string
			if interval > 0 {
				d, err := os.MkdirTemp("", "sluice-bench-windows-")
				if err != nil {
					return err
				}
				dir = d
				jobCfg.Checkpoint = engine.CheckpointConfig{Interval: interval, Dir: dir}
			}
			var taken int
			s, err := bench.Measure(func() (int64, int64, error) {
				var err error
				got, taken, err = Job(ctx, spec, n, par, jobCfg)
				return n, n * RecordBytes, err
			})
			if dir != "" {
				os.RemoveAll(dir)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", spec.Name(), err)
			}
			eng = append(eng, s)
			cps = append(cps, float64(taken))
			var want Result
			b, _ := bench.Measure(func() (int64, int64, error) {
				want = Baseline(spec, n)
				return n, n * RecordBytes, nil
			})
			base = append(base, b)
			if got != want {
				return fmt.Errorf("%s: the job computed %d results (checksum %x), the loop %d (%x)", spec.Name(), got.Results, got.Checksum, want.Results, want.Checksum)
			}
		}
		res := bench.FromSamples(fmt.Sprintf("windows/%s/p%d", spec.Name(), par), eng).WithBaseline(base).
			Set("results", got.Results).
			Set("checkpoints", bench.MedianOf(cps)).
			Set("state_backend", backend).
			Set("keys", Users).
			Set("records_per_key_per_window", float64(PerMs)*float64(spec.Size.Milliseconds())/Users)
		if spec == Tumbling10s {
			tumbling = res
		} else if res.RecordsPerSec > 0 && res.RecordsPerCPUSec > 0 {
			res = res.Set("cost_vs_tumbling", round3(tumbling.RecordsPerSec/res.RecordsPerSec)).
				Set("cpu_cost_vs_tumbling", round3(tumbling.RecordsPerCPUSec/res.RecordsPerCPUSec))
		}
		if err := emit(res); err != nil {
			return err
		}
	}
	return nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
