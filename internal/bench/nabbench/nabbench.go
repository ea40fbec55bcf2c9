// Package nabbench is `sluice bench nab`: the Numenta Anomaly Benchmark
// v1.1 scores of RANDOM_CUT_FOREST at KDA's defaults and of its calibrated
// output, scored by operators/anomaly/nab.
package nabbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/operators/anomaly"
	"github.com/sluicehq/sluice/operators/anomaly/nab"
)

// Config is the configuration of Run.
type Config struct {
	Runs int // runs, each with another seed (medians are reported)
	// Data is the NAB directory; "" means $SLUICE_NAB_DIR, else
	// ../shared/datasets/nab from the working directory or a parent.
	Data    string
	Workers int // series scored in parallel
}

// DefaultConfig is the configuration of the published figures.
func DefaultConfig() Config { return Config{Runs: 5, Workers: runtime.GOMAXPROCS(0)} }

// Run runs RANDOM_CUT_FOREST with KDA's defaults (100 trees, 256
// samples, time decay 100000, shingle 1) over every NAB series, exactly as
// NAB's KDA entry did (one fresh application per series, the value column
// as the only dimension), and scores two detectors of that one run with the
// NAB v1.1 scorer: the raw ANOMALY_SCORE divided by log2(257) (NAB's entry
// divided by 8; any scaling ranks the same), and Sluice's calibrated
// ANOMALY_PROBABILITY. Each run uses another seed; the reported scores are
// medians over --runs, with every run's scores alongside. Series run in
// parallel; scoring is deterministic. Run hands each detector's result
// to emit and blocks until the runs are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs < 1 || cfg.Workers < 1 {
		return bench.ConfigError("--runs and --workers must be positive")
	}
	path, err := nabDir(cfg.Data)
	if err != nil {
		return err
	}
	corpus, err := nab.LoadCorpus(path)
	if err != nil {
		return err
	}

	type detector struct {
		name    string
		samples []bench.Sample
		scores  map[string][]float64 // profile → per-run normalised score
	}
	raw := &detector{name: "nab/rcf_kda_defaults", scores: map[string][]float64{}}
	prob := &detector{name: "nab/rcf_probability", scores: map[string][]float64{}}
	for r := 0; r < cfg.Runs; r++ {
		rawScores := make([][]float64, len(corpus.Series))
		probScores := make([][]float64, len(corpus.Series))
		sample, err := bench.Measure(func() (int64, int64, error) {
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(cfg.Workers)
			for i := range corpus.Series {
				g.Go(func() error {
					if err := gctx.Err(); err != nil {
						return err
					}
					var err error
					rawScores[i], probScores[i], err = runNABSeries(&corpus.Series[i], uint64(r+1)*1000003+uint64(i))
					return err
				})
			}
			err := g.Wait()
			return int64(corpus.Points()), int64(corpus.Points() * 8), err
		})
		if err != nil {
			return err
		}
		raw.samples = append(raw.samples, sample)
		prob.samples = append(prob.samples, sample)
		for _, p := range nab.ProfilesV11 {
			for _, d := range []struct {
				det    *detector
				scores [][]float64
			}{{raw, rawScores}, {prob, probScores}} {
				res, err := corpus.Score(d.scores, p)
				if err != nil {
					return err
				}
				d.det.scores[p.Name] = append(d.det.scores[p.Name], res.Normalized)
			}
		}
	}
	for _, d := range []*detector{raw, prob} {
		res := bench.FromSamples(d.name, d.samples).
			Set("standard", bench.MedianOf(d.scores[nab.Standard.Name])).
			Set("low_fp", bench.MedianOf(d.scores[nab.RewardLowFP.Name])).
			Set("low_fn", bench.MedianOf(d.scores[nab.RewardLowFN.Name])).
			Set("standard_runs", rounded(d.scores[nab.Standard.Name])).
			Set("low_fp_runs", rounded(d.scores[nab.RewardLowFP.Name])).
			Set("low_fn_runs", rounded(d.scores[nab.RewardLowFN.Name])).
			Set("series", len(corpus.Series))
		if d == raw {
			res = res.Set("published_kda", "51.7/38.4/59.7")
		}
		if err := emit(res); err != nil {
			return err
		}
	}
	return nil
}

// runNABSeries streams one series through a fresh RANDOM_CUT_FOREST planned
// as NAB's KDA application was (timestamp and value columns, KDA defaults),
// with the calibrated output on.
func runNABSeries(s *nab.Series, seed uint64) (raw, prob []float64, err error) {
	schema := anomaly.Schema{{Name: "timestamp", Type: anomaly.TypeTimestamp}, {Name: "value", Type: anomaly.TypeDouble}}
	op, err := anomaly.NewRandomCutForest(schema, anomaly.RCFParams{Seed: seed, Probability: true})
	if err != nil {
		return nil, nil, err
	}
	scale := 1 / math.Log2(anomaly.DefaultSampleSize+1)
	raw = make([]float64, len(s.Values))
	prob = make([]float64, len(s.Values))
	row := make(anomaly.Row, 0, 4)
	for i, v := range s.Values {
		row, err = op.ProcessInto(row, anomaly.Row{s.Timestamps[i], v})
		if err != nil {
			return nil, nil, fmt.Errorf("%s record %d: %w", s.Name, i, err)
		}
		raw[i] = row[2].(float64) * scale
		prob[i] = row[3].(float64)
	}
	return raw, prob, nil
}

func rounded(vs []float64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = float64(int64(v*100+0.5)) / 100
	}
	return out
}

// nabDir finds the NAB data set.
func nabDir(flagValue string) (string, error) {
	candidates := []string{flagValue, os.Getenv("SLUICE_NAB_DIR")}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			candidates = append(candidates, filepath.Join(d, "..", "shared", "datasets", "nab"), filepath.Join(d, "shared", "datasets", "nab"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "labels", "combined_windows.json")); err == nil {
			return c, nil
		}
		if c == flagValue {
			return "", fmt.Errorf("no NAB data set at %s", c)
		}
	}
	return "", errors.New("NAB data set not found: pass --data or set SLUICE_NAB_DIR")
}
