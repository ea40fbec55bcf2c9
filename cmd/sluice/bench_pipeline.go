package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/benchjobs"
)

func init() {
	registerBench("pipeline", "engine throughput: chained map/filter, keyed running sum (p=1, p=2), beside hand-written loops", benchPipeline)
}

func benchPipeline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench pipeline", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	runs := fs.Int("runs", 5, "runs per case; figures are medians")
	chainedN := fs.Int64("chained-records", 20_000_000, "records per run of the chained case")
	keyedN := fs.Int64("keyed-records", 5_000_000, "records per run of the keyed cases")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *runs < 1 {
		return usageError("--runs must be at least 1")
	}

	// Chained source→map→filter→sink at parallelism 1, interleaved with the
	// hand-written loop.
	var eng, base []bench.Sample
	for r := 0; r < *runs; r++ {
		var got int64
		s, err := bench.Measure(func() (int64, int64, error) {
			var err error
			got, err = benchjobs.Chained(ctx, *chainedN, 1, engine.Config{})
			return *chainedN, *chainedN * 32, err
		})
		if err != nil {
			return err
		}
		eng = append(eng, s)
		var want int64
		b, _ := bench.Measure(func() (int64, int64, error) {
			want = benchjobs.ChainedBaseline(*chainedN)
			return *chainedN, *chainedN * 32, nil
		})
		base = append(base, b)
		if got != want {
			return fmt.Errorf("chained: engine computed %d, the loop %d", got, want)
		}
	}
	if err := bench.Print(stdout, bench.FromSamples("pipeline/chained-map-filter/p1", eng).WithBaseline(base), *asJSON); err != nil {
		return err
	}

	for _, p := range []int{1, 2} {
		eng, base = nil, nil
		for r := 0; r < *runs; r++ {
			var got int64
			s, err := bench.Measure(func() (int64, int64, error) {
				var err error
				got, err = benchjobs.KeyedSum(ctx, *keyedN, p, engine.Config{})
				return *keyedN, *keyedN * 32, err
			})
			if err != nil {
				return err
			}
			eng = append(eng, s)
			var want int64
			b, _ := bench.Measure(func() (int64, int64, error) {
				want = benchjobs.KeyedSumBaseline(*keyedN)
				return *keyedN, *keyedN * 32, nil
			})
			base = append(base, b)
			if got != want {
				return fmt.Errorf("keyed p=%d: engine computed %d, the loop %d", p, got, want)
			}
		}
		name := fmt.Sprintf("pipeline/keyed-running-sum/p%d", p)
		if err := bench.Print(stdout, bench.FromSamples(name, eng).WithBaseline(base), *asJSON); err != nil {
			return err
		}
	}
	return nil
}
