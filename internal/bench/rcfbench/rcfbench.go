// Package rcfbench is `sluice bench rcf`: the random cut forest's µs per
// record at KDA's defaults, interleaved with the previous forest layout,
// bytes per forest, and HOTSPOTS' records/s.
package rcfbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/operators/anomaly"
	"github.com/sluicehq/sluice/operators/anomaly/benchref"
)

// Config is the configuration of Run.
type Config struct {
	Runs            int // runs per case (medians are reported)
	Records         int // records per forest run
	TimeDecay       int // forest timeDecay in records (100000 = KDA's default; AWS's library defaults to 2560)
	HotspotsRecords int // records per HOTSPOTS run
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, Records: 50000, TimeDecay: 100000, HotspotsRecords: 20000}

// Run measures the anomaly operators' cores on AWS's own benchmark
// workload (RandomCutForestBenchmark: a fresh forest of 100 trees and 256
// samples fed 50,000 points of NormalMixtureTestData, scoring then updating
// each) at Kinesis Data Analytics' default time decay, 100000 records, the
// setting KDA users run and NAB is scored with (AWS's Java library
// defaults to 2560, under which it takes 37-54 µs per record on this class
// of machine; that JVM library has no in-process baseline).
//
// Each run feeds the same records, in rotating order, to the previous
// forest layout (package anomaly/benchref, the code of snapshot format 1),
// to the current one record at a time (Process, what the operator calls)
// and to the current one in batches of 512 (ProcessBatch), so that a busy
// machine slows all three alike: speedup is the median over runs of each
// run's old/new ratio. Times are medians over --runs; bytes per forest are
// each layout's HeapBytes after the run.
// Run hands each result to emit as it finishes and blocks until the cases
// are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	// Read through pointers, as the code read its flags before it moved
	// here from cmd/sluice.
	runs, n, decay, hotN := &cfg.Runs, &cfg.Records, &cfg.TimeDecay, &cfg.HotspotsRecords
	if *runs < 1 || *n < 1 || *hotN < 1 || *decay < 1 {
		return bench.ConfigError("--runs, --records, --time-decay and --hotspots-records must be positive")
	}
	const trees, sampleSize, batch = 100, 256, 512
	cases := []struct {
		dims    int
		explain bool
	}{{1, false}, {4, false}, {10, false}, {10, true}}
	for _, c := range cases {
		data := normalMixture(*n, c.dims, 99)
		name := fmt.Sprintf("rcf/%ddim", c.dims)
		if c.explain {
			name += "/explanation"
		}
		var oldS, newS, batchS []bench.Sample
		var speedup, batchSpeedup []float64
		oldBytes, newBytes := 0, 0
		for r := 0; r < *runs; r++ {
			seed := uint64(r + 1)
			runOld := func() (int64, int64, error) {
				f, err := benchref.NewForest(c.dims, trees, sampleSize, float64(*decay), seed)
				if err != nil {
					return 0, 0, err
				}
				for _, rec := range data {
					if _, err := f.Process(rec, c.explain); err != nil {
						return 0, 0, err
					}
				}
				oldBytes = f.HeapBytes()
				return int64(len(data)), int64(len(data) * c.dims * 8), nil
			}
			newForest := func() (*anomaly.Forest, error) {
				return anomaly.NewForest(anomaly.ForestConfig{
					Dimensions: c.dims, NumberOfTrees: trees, SampleSize: sampleSize,
					TimeDecay: float64(*decay), Seed: seed,
				})
			}
			runNew := func() (int64, int64, error) {
				f, err := newForest()
				if err != nil {
					return 0, 0, err
				}
				var attr *anomaly.Attribution
				if c.explain {
					attr = &anomaly.Attribution{}
				}
				for _, rec := range data {
					if _, err := f.Process(rec, attr); err != nil {
						return 0, 0, err
					}
				}
				newBytes = f.HeapBytes()
				return int64(len(data)), int64(len(data) * c.dims * 8), nil
			}
			runBatch := func() (int64, int64, error) {
				f, err := newForest()
				if err != nil {
					return 0, 0, err
				}
				scores := make([]float64, batch)
				var attrs []anomaly.Attribution
				if c.explain {
					attrs = make([]anomaly.Attribution, batch)
				}
				for i := 0; i < len(data); i += batch {
					if err := f.ProcessBatch(data[i:min(i+batch, len(data))], scores, attrs); err != nil {
						return 0, 0, err
					}
				}
				return int64(len(data)), int64(len(data) * c.dims * 8), nil
			}
			fns := []func() (int64, int64, error){runOld, runNew, runBatch}
			got := make([]bench.Sample, len(fns))
			for k := range fns {
				i := (k + r) % len(fns) // rotate who goes first
				if err := ctx.Err(); err != nil {
					return err
				}
				s, err := bench.Measure(fns[i])
				if err != nil {
					return err
				}
				got[i] = s
			}
			oldS, newS, batchS = append(oldS, got[0]), append(newS, got[1]), append(batchS, got[2])
			speedup = append(speedup, got[0].Wall.Seconds()/got[1].Wall.Seconds())
			batchSpeedup = append(batchSpeedup, got[0].Wall.Seconds()/got[2].Wall.Seconds())
		}
		us := func(s []bench.Sample) float64 { return 1e6 / bench.Median(s, bench.Sample.RecordsPerSec) }
		res := bench.FromSamples(name, newS).
			Set("us_per_record", us(newS)).
			Set("us_per_record_cpu", 1e6/bench.Median(newS, bench.Sample.RecordsPerCPUSec)).
			Set("us_per_record_best", 1e6/bestRate(newS)).
			Set("us_per_record_batch512", us(batchS)).
			Set("us_per_record_old", us(oldS)).
			Set("speedup_vs_old", median(speedup)).
			Set("speedup_batch512_vs_old", median(batchSpeedup)).
			Set("bytes_per_forest", newBytes).
			Set("bytes_per_forest_old", oldBytes).
			Set("dims", c.dims).Set("trees", trees).Set("sample_size", sampleSize).Set("time_decay", *decay).
			Set("explanation", c.explain)
		if err := emit(res); err != nil {
			return err
		}
	}

	// HOTSPOTS on KDA's example workload: 2-d points, uniform noise with two
	// planted clusters, window 1000, radius 0.2, 17 points.
	p := anomaly.HotspotsParams{WindowSize: 1000, ScanRadius: 0.2, MinimumNumberOfPointsInAHotspot: 17}
	pts := hotspotPoints(*hotN, 7)
	var samples []bench.Sample
	found := 0
	for r := 0; r < *runs; r++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := bench.Measure(func() (int64, int64, error) {
			h, err := anomaly.NewHotspotDetector(2, p)
			if err != nil {
				return 0, 0, err
			}
			var out string
			for _, pt := range pts {
				hs, err := h.Add(pt)
				if err != nil {
					return 0, 0, err
				}
				found = len(hs)
				out = anomaly.HotspotsJSON(hs) // the operator renders JSON per record
			}
			_ = out
			return int64(len(pts)), int64(len(pts) * 16), nil
		})
		if err != nil {
			return err
		}
		samples = append(samples, s)
	}
	res := bench.FromSamples("hotspots/window1000", samples).
		Set("window", p.WindowSize).Set("scan_radius", p.ScanRadius).
		Set("min_points", p.MinimumNumberOfPointsInAHotspot).Set("hotspots_in_last_window", found)
	return emit(res)
}

// median is the median of xs (which it sorts).
func median(xs []float64) float64 {
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// bestRate is the fastest run's records/s: on a shared machine the least
// disturbed run is the closest to what the code costs.
func bestRate(samples []bench.Sample) float64 {
	best := 0.0
	for _, s := range samples {
		best = max(best, s.RecordsPerSec())
	}
	return best
}

// normalMixture is AWS's NormalMixtureTestData: N(0,1) per dimension, with
// runs from N(4,2) entered with probability 0.01 and left with
// probability 0.3.
func normalMixture(n, dims int, seed uint64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	out := make([][]float64, n)
	anom := false
	for i := range out {
		out[i] = make([]float64, dims)
		mu, sd := 0.0, 1.0
		if anom {
			mu, sd = 4, 2
		}
		for j := range out[i] {
			out[i][j] = mu + sd*r.NormFloat64()
		}
		if !anom && r.Float64() < 0.01 {
			anom = true
		} else if anom && r.Float64() < 0.3 {
			anom = false
		}
	}
	return out
}

// hotspotPoints mimics KDA's HOTSPOTS example stream: points uniform on
// [0,10]², a fifth of them in two small clusters.
func hotspotPoints(n int, seed uint64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, seed))
	centres := [][2]float64{{2, 2}, {7, 8}}
	out := make([][]float64, n)
	for i := range out {
		if k := i % 10; k < 2 {
			c := centres[k]
			out[i] = []float64{c[0] + 0.3*r.Float64(), c[1] + 0.3*r.Float64()}
			continue
		}
		out[i] = []float64{10 * r.Float64(), 10 * r.Float64()}
	}
	return out
}
