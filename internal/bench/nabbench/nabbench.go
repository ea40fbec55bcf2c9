// Package nabbench is `sluice bench nab`: the Numenta Anomaly Benchmark
// scores of RANDOM_CUT_FOREST at KDA's defaults and of its calibrated
// output, in-sample and cross-validated.
package nabbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/operators/anomaly"
	"github.com/sluicehq/sluice/operators/anomaly/nab"
)

// Config is the configuration of Run.
type Config struct {
	Runs    int    // runs, each with another seed (medians are reported)
	Data    string // NAB directory (default: $SLUICE_NAB_DIR, else ../shared/datasets/nab from the working directory or a parent)
	Workers int    // series scored in parallel
	CV      bool   // also choose ANOMALY_PROBABILITY's constants by two-fold cross-validation and report the held-out scores
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, Workers: runtime.GOMAXPROCS(0), CV: true}

// Run runs RANDOM_CUT_FOREST with KDA's defaults (100 trees, 256
// samples, time decay 100000, shingle 1) over every NAB series, exactly as
// NAB's KDA entry did (one fresh application per series, the value column
// as the only dimension), and scores two detectors of that one run with the
// NAB v1.1 scorer: the raw ANOMALY_SCORE divided by log2(257) (NAB's entry
// divided by 8; any scaling ranks the same), and Sluice's calibrated
// ANOMALY_PROBABILITY. With --cv (default) a third detector,
// nab/rcf_probability_cv, is ANOMALY_PROBABILITY with its three constants
// chosen by two-fold cross-validation over the series (see crossValidate):
// its scores are held out, not fitted to NAB as the defaults were. Each run
// uses another seed (of the forests and of the split); the reported scores are
// medians over --runs, with every run's scores alongside. Series run in
// parallel; scoring is deterministic.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	// Read through pointers, as the code read its flags before it moved
	// here from cmd/sluice.
	runs, dir, workers, cv := &cfg.Runs, &cfg.Data, &cfg.Workers, &cfg.CV
	if *runs < 1 || *workers < 1 {
		return bench.ConfigError("--runs and --workers must be positive")
	}
	path, err := nabDir(*dir)
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
	held := &detector{name: "nab/rcf_probability_cv", scores: map[string][]float64{}}
	var folds [][2]cvFit
	var pooled []float64
	halfDefaults := map[string][]float64{} // profile → per-run in-sample score of the defaults on the same halves
	for r := 0; r < *runs; r++ {
		rawScores := make([][]float64, len(corpus.Series))
		probScores := make([][]float64, len(corpus.Series))
		forestScores := make([][]float64, len(corpus.Series))
		sample, err := bench.Measure(func() (int64, int64, error) {
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(*workers)
			for i := range corpus.Series {
				g.Go(func() error {
					if err := gctx.Err(); err != nil {
						return err
					}
					var err error
					rawScores[i], probScores[i], forestScores[i], err = runNABSeries(&corpus.Series[i], uint64(r+1)*1000003+uint64(i))
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
		if !*cv {
			continue
		}
		cvr, err := crossValidate(ctx, corpus, forestScores, probScores, uint64(r+1), *workers)
		if err != nil {
			return err
		}
		held.samples = append(held.samples, sample)
		folds = append(folds, cvr.fits)
		pooled = append(pooled, cvr.pooled)
		for _, p := range nab.ProfilesV11 {
			held.scores[p.Name] = append(held.scores[p.Name], cvr.heldOut[p.Name])
			halfDefaults[p.Name] = append(halfDefaults[p.Name], cvr.defaults[p.Name])
		}
	}
	dets := []*detector{raw, prob}
	if *cv {
		dets = append(dets, held)
	}
	for _, d := range dets {
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
		if d == held {
			var fits []string
			for _, f := range folds {
				fits = append(fits, f[0].String(), f[1].String())
			}
			res = res.Set("folds", fits).
				Set("pooled_standard", bench.MedianOf(pooled)).Set("pooled_standard_runs", rounded(pooled)).
				Set("defaults_same_halves_standard", bench.MedianOf(halfDefaults[nab.Standard.Name])).
				Set("defaults_same_halves_low_fp", bench.MedianOf(halfDefaults[nab.RewardLowFP.Name])).
				Set("defaults_same_halves_low_fn", bench.MedianOf(halfDefaults[nab.RewardLowFN.Name]))
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
// forest is the unscaled ANOMALY_SCORE, what the calibrator takes.
func runNABSeries(s *nab.Series, seed uint64) (raw, prob, forest []float64, err error) {
	schema := anomaly.Schema{{Name: "timestamp", Type: anomaly.TypeTimestamp}, {Name: "value", Type: anomaly.TypeDouble}}
	op, err := anomaly.NewRandomCutForest(schema, anomaly.RCFParams{Seed: seed, Probability: true})
	if err != nil {
		return nil, nil, nil, err
	}
	scale := 1 / math.Log2(anomaly.DefaultSampleSize+1)
	raw = make([]float64, len(s.Values))
	prob = make([]float64, len(s.Values))
	forest = make([]float64, len(s.Values))
	row := make(anomaly.Row, 0, 4)
	for i, v := range s.Values {
		row, err = op.ProcessInto(row, anomaly.Row{s.Timestamps[i], v})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s record %d: %w", s.Name, i, err)
		}
		forest[i] = row[2].(float64)
		raw[i] = forest[i] * scale
		prob[i] = row[3].(float64)
	}
	return raw, prob, forest, nil
}

// The candidates of the cross-validation: ANOMALY_PROBABILITY's three
// constants on a geometric grid around the defaults (64, 100, 5).
var (
	cvMinHistory  = []int{16, 32, 64, 128, 256}
	cvOnsetWindow = []int{25, 50, 100, 200, 400}
	cvPriorWeight = []float64{1, 2.5, 5, 10, 20}
)

// cvFit is the constants one fold chose and its scores (NAB standard).
type cvFit struct {
	cfg             anomaly.CalibratorConfig
	fitted, heldOut float64 // on the fold's own half, on the other half
}

func (f cvFit) String() string {
	return fmt.Sprintf("MinHistory=%d OnsetWindow=%d PriorWeight=%g fit=%.2f held_out=%.2f",
		f.cfg.MinHistory, f.cfg.OnsetWindow, f.cfg.PriorWeight, f.fitted, f.heldOut)
}

// crossValidate chooses the calibrator's constants by two-fold
// cross-validation: the series are split in two halves at random (seed), the
// constants that maximise the NAB standard score of one half are chosen on
// that half alone and applied to the other, both ways (see cvResult). The
// grid's default point must reproduce the operator's own probabilities
// (prob), which checks that the replay is the operator's calibration.
func crossValidate(ctx context.Context, corpus *nab.Corpus, forest, prob [][]float64, seed uint64, workers int) (cvResult, error) {
	var fits [2]cvFit
	n := len(corpus.Series)
	perm := rand.New(rand.NewPCG(seed, 0x6e6162)).Perm(n)
	var halves [2][]int
	halves[0], halves[1] = perm[:n/2], perm[n/2:]
	sub := func(h []int, scores [][]float64) (*nab.Corpus, [][]float64) {
		c := &nab.Corpus{}
		var ss [][]float64
		for _, i := range h {
			c.Series = append(c.Series, corpus.Series[i])
			c.LabelledWindows += len(corpus.Series[i].Windows)
			ss = append(ss, scores[i])
		}
		return c, ss
	}
	base := anomaly.CalibratorConfig{MaxScore: math.Log2(anomaly.DefaultSampleSize + 1), Horizon: anomaly.DefaultTimeDecay}
	calibrate := func(cfg anomaly.CalibratorConfig, i int) ([]float64, error) {
		c, err := anomaly.NewCalibrator(cfg)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(forest[i]))
		for k, s := range forest[i] {
			out[k] = c.Update(s)
		}
		return out, nil
	}
	var cfgs []anomaly.CalibratorConfig
	for _, mh := range cvMinHistory {
		for _, ow := range cvOnsetWindow {
			for _, pw := range cvPriorWeight {
				c := base
				c.MinHistory, c.OnsetWindow, c.PriorWeight = mh, ow, pw
				cfgs = append(cfgs, c)
			}
		}
	}
	score := make([][2]float64, len(cfgs)) // per candidate: NAB standard of each half
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for ci, cfg := range cfgs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			all := make([][]float64, n)
			for i := range all {
				var err error
				if all[i], err = calibrate(cfg, i); err != nil {
					return err
				}
				if cfg.MinHistory == anomaly.DefaultMinHistory && cfg.OnsetWindow == anomaly.DefaultOnsetWindow &&
					cfg.PriorWeight == anomaly.DefaultPriorWeight && !slices.Equal(all[i], prob[i]) {
					return fmt.Errorf("cross-validation: %s: replayed calibration differs from the operator's", corpus.Series[i].Name)
				}
			}
			for h := range halves {
				c, ss := sub(halves[h], all)
				res, err := c.Score(ss, nab.Standard)
				if err != nil {
					return err
				}
				score[ci][h] = res.Normalized
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return cvResult{}, err
	}
	out := make([][]float64, n)
	for h := range halves {
		best := 0
		for ci := range cfgs {
			if score[ci][h] > score[best][h] {
				best = ci
			}
		}
		fits[h] = cvFit{cfg: cfgs[best], fitted: score[best][h], heldOut: score[best][1-h]}
		for _, i := range halves[1-h] {
			var err error
			if out[i], err = calibrate(cfgs[best], i); err != nil {
				return cvResult{}, err
			}
		}
	}
	// Each half scored alone (thresholds swept on it, as for every NAB
	// detector): under the constants chosen on the other half, and under
	// the defaults for comparison on the same halves.
	res := cvResult{fits: fits, heldOut: map[string]float64{}, defaults: map[string]float64{}}
	for _, p := range nab.ProfilesV11 {
		for h := range halves {
			c, ss := sub(halves[h], out)
			r, err := c.Score(ss, p)
			if err != nil {
				return cvResult{}, err
			}
			res.heldOut[p.Name] += r.Normalized / 2
			c, ss = sub(halves[h], prob)
			if r, err = c.Score(ss, p); err != nil {
				return cvResult{}, err
			}
			res.defaults[p.Name] += r.Normalized / 2
		}
		r, err := corpus.Score(out, p)
		if err != nil {
			return cvResult{}, err
		}
		if p == nab.Standard {
			res.pooled = r.Normalized
		}
	}
	return res, nil
}

// cvResult is one run's cross-validation: per profile the mean over the two
// halves of the half's score under the constants chosen on the other half
// (heldOut) and under the defaults (defaults); pooled is the standard score
// of the whole corpus with each half under its held-out constants, one
// threshold for both (which penalises folds that chose different scales).
type cvResult struct {
	fits              [2]cvFit
	heldOut, defaults map[string]float64
	pooled            float64
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
	return "", errors.New("NAB data set not found: pass --data DIR or set SLUICE_NAB_DIR to a directory with NAB's data/ and labels/ (github.com/numenta/NAB), or put it at ../shared/datasets/nab beside the checkout")
}
