// This file is bench_windowing.go, not bench_windows.go: Go builds files
// ending in _windows.go on Windows only.

package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/operators/windowbench"
)

func init() {
	registerBench("windows", "event-time windows: count per key in tumbling 10 s and hop 10 s / 2 s windows, checkpoints every 10 s, beside hand-written loops", benchWindows)
}

// benchWindows runs the window workloads of package windowbench (10,000
// users, 100 records per millisecond of event time: 100 records per user
// per 10 s window) as jobs with periodic checkpoints to a temporary
// directory, interleaved with the hand-written loops that compute the same
// results, and checks that both agree. The hop case also reports its cost
// relative to the tumbling one (tumbling records/s ÷ hop records/s, by
// wall and by CPU time).
func benchWindows(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench windows", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	runs := fs.Int("runs", 5, "runs per case; figures are medians")
	records := fs.Int64("records", 20_000_000, "records per run (100,000 per second of event time)")
	par := fs.Int("parallelism", 1, "parallelism of the job")
	interval := fs.Duration("checkpoint-interval", 10*time.Second, "checkpoint interval (0: no checkpoints)")
	backend := fs.String("state-backend", "pebble", "state backend: pebble or memory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *runs < 1:
		return usageError("--runs must be at least 1")
	case *records < 1:
		return usageError("--records must be at least 1")
	case *par < 1:
		return usageError("--parallelism must be at least 1")
	case *backend != "pebble" && *backend != "memory":
		return usageError("--state-backend must be pebble or memory")
	}
	n := *records
	var tumbling bench.Result
	for _, spec := range []windowbench.Spec{windowbench.Tumbling10s, windowbench.Hop10s2s} {
		var eng, base []bench.Sample
		var got windowbench.Result
		var cps []float64
		for r := 0; r < *runs; r++ {
			cfg := engine.Config{StateBackend: *backend}
			var dir string
			if *interval > 0 {
				d, err := os.MkdirTemp("", "sluice-bench-windows-")
				if err != nil {
					return err
				}
				dir = d
				cfg.Checkpoint = engine.CheckpointConfig{Interval: *interval, Dir: dir}
			}
			var taken int
			s, err := bench.Measure(func() (int64, int64, error) {
				var err error
				got, taken, err = windowbench.Job(ctx, spec, n, *par, cfg)
				return n, n * windowbench.RecordBytes, err
			})
			if dir != "" {
				os.RemoveAll(dir)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", spec.Name(), err)
			}
			eng = append(eng, s)
			cps = append(cps, float64(taken))
			var want windowbench.Result
			b, _ := bench.Measure(func() (int64, int64, error) {
				want = windowbench.Baseline(spec, n)
				return n, n * windowbench.RecordBytes, nil
			})
			base = append(base, b)
			if got != want {
				return fmt.Errorf("%s: the job computed %d results (checksum %x), the loop %d (%x)", spec.Name(), got.Results, got.Checksum, want.Results, want.Checksum)
			}
		}
		res := bench.FromSamples(fmt.Sprintf("windows/%s/p%d", spec.Name(), *par), eng).WithBaseline(base).
			Set("results", got.Results).
			Set("checkpoints", bench.MedianOf(cps)).
			Set("state_backend", *backend).
			Set("keys", windowbench.Users).
			Set("records_per_key_per_window", float64(windowbench.PerMs)*float64(spec.Size.Milliseconds())/windowbench.Users)
		if spec == windowbench.Tumbling10s {
			tumbling = res
		} else if res.RecordsPerSec > 0 && res.RecordsPerCPUSec > 0 {
			res = res.Set("cost_vs_tumbling", round3(tumbling.RecordsPerSec/res.RecordsPerSec)).
				Set("cpu_cost_vs_tumbling", round3(tumbling.RecordsPerCPUSec/res.RecordsPerCPUSec))
		}
		if err := bench.Print(stdout, res, *asJSON); err != nil {
			return err
		}
	}
	return nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
