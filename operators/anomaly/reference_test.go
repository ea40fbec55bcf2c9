package anomaly

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/operators/anomaly/internal/reference"
)

// refConfig converts a configuration for the reference implementation.
func refConfig(c ForestConfig) reference.ForestConfig {
	return reference.ForestConfig{
		Dimensions: c.Dimensions, NumberOfTrees: c.NumberOfTrees, SampleSize: c.SampleSize,
		TimeDecay: c.TimeDecay, ShingleSize: c.ShingleSize, OutputAfter: c.OutputAfter, Seed: c.Seed,
	}
}

// equivalenceData is a stream with ordinary points, runs of anomalies and,
// if dups, many repeated values (leaf masses above 1, shared store slots).
func equivalenceData(r *splitMix64, n, dims int, dups bool) [][]float64 {
	data := mixture(n, dims, r.next())
	if dups {
		for _, rec := range data {
			for j := range rec {
				if r.float64() < 0.7 {
					rec[j] = math.Round(rec[j] * 2)
				}
			}
		}
	}
	return data
}

// The forest scores and explains exactly as the previous layout (package
// reference, the code of snapshot format 1) does, bit for bit, whether
// records come one at a time or in batches of any size, with and without
// explanation.
func TestForestMatchesReference(t *testing.T) {
	seed := testseed.Seed(t)
	r := splitMix64{state: seed}
	cfgs := []ForestConfig{
		{Dimensions: 1},
		{Dimensions: 4, NumberOfTrees: 30, TimeDecay: 2560},
		{Dimensions: 10, NumberOfTrees: 20, SampleSize: 64, TimeDecay: 300},
		{Dimensions: 2, NumberOfTrees: 9, SampleSize: 16, TimeDecay: 17},
		{Dimensions: 3, NumberOfTrees: 11, SampleSize: 32, TimeDecay: 100, ShingleSize: 4},
		{Dimensions: 1, NumberOfTrees: 13, SampleSize: 10, TimeDecay: 11, ShingleSize: 3, OutputAfter: 10},
	}
	for ci, cfg := range cfgs {
		for _, dups := range []bool{false, true} {
			cfg.Seed = r.next()
			name := fmt.Sprintf("config %d dups %v seed %d", ci, dups, cfg.Seed)
			n := 3000
			if cfg.Dimensions == 1 && cfg.NumberOfTrees == 0 {
				n = 1500
			}
			data := equivalenceData(&r, n, cfg.Dimensions, dups)
			old, err := reference.NewForest(refConfig(cfg))
			if err != nil {
				t.Fatal(err)
			}
			f := mustForest(t, cfg)
			scores := make([]float64, 0, len(data))
			attrs := make([]Attribution, len(data))
			for i := 0; i < len(data); {
				// Batches of one, a few, and hundreds of records, with and
				// without explanation.
				size := 1 + int(r.next()%uint64([]int{1, 8, 600}[r.next()%3]))
				size = min(size, len(data)-i)
				explain := r.next()%2 == 0
				out := make([]float64, size)
				var as []Attribution
				if explain {
					as = attrs[i : i+size]
				}
				if size == 1 && r.next()%2 == 0 {
					var a *Attribution
					if explain {
						a = &as[0]
					}
					out[0] = mustProcess(t, f, data[i], a)
				} else if err := f.ProcessBatch(data[i:i+size], out, as); err != nil {
					t.Fatal(err)
				}
				for k := range out {
					var ra reference.Attribution
					want, err := old.Process(data[i+k], &ra)
					if err != nil {
						t.Fatal(err)
					}
					if out[k] != want {
						t.Fatalf("%s record %d: score %v, reference %v", name, i+k, out[k], want)
					}
					if !explain {
						continue
					}
					for j := range ra.High {
						if as[k].High[j] != ra.High[j] || as[k].Low[j] != ra.Low[j] {
							t.Fatalf("%s record %d: attribution %v/%v, reference %v/%v", name, i+k, as[k].High, as[k].Low, ra.High, ra.Low)
						}
					}
				}
				scores = append(scores, out...)
				i += size
			}
			if err := f.checkForest(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// The snapshot is canonical: the same whatever the batching.
			one := mustForest(t, cfg)
			for _, rec := range data {
				mustProcess(t, one, rec, nil)
			}
			a, _ := f.MarshalBinary()
			b, _ := one.MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: snapshot after batches differs from one after single records", name)
			}
		}
	}
}

// withBoxCacheAbove runs fn with trees created under box cache threshold c.
func withBoxCacheAbove(t *testing.T, c int32, fn func()) {
	t.Helper()
	prev := boxCacheOverride
	boxCacheOverride = c
	defer func() { boxCacheOverride = prev }()
	fn()
}

// Which boxes are cached changes nothing: at every threshold (all boxes
// cached, only the root's region, none but the largest) the forest scores
// and explains as the reference does, bit for bit, its invariants hold
// (counts, exactly the right boxes cached, each the union of its
// children's), its snapshot is the same, and a forest restored from it
// continues identically.
func TestBoxCacheThresholdsMatchReference(t *testing.T) {
	seed := testseed.Seed(t)
	r := splitMix64{state: seed}
	cfgs := []ForestConfig{
		{Dimensions: 3, NumberOfTrees: 12, SampleSize: 32, TimeDecay: 100},
		{Dimensions: 2, NumberOfTrees: 8, SampleSize: 64, TimeDecay: 1000, ShingleSize: 2},
	}
	for ci, cfg := range cfgs {
		for _, dups := range []bool{false, true} {
			cfg.Seed = r.next()
			data := equivalenceData(&r, 1500, cfg.Dimensions, dups)
			var snaps [][]byte
			for _, c := range []int32{1, 2, 4, 9, 1000} {
				name := fmt.Sprintf("config %d dups %v seed %d cacheAbove %d", ci, dups, cfg.Seed, c)
				withBoxCacheAbove(t, c, func() {
					old, err := reference.NewForest(refConfig(cfg))
					if err != nil {
						t.Fatal(err)
					}
					f := mustForest(t, cfg)
					var a Attribution
					var ra reference.Attribution
					half := len(data) / 2
					for i, rec := range data {
						if i == half {
							// Continue on a restored copy.
							snap, err := f.MarshalBinary()
							if err != nil {
								t.Fatal(err)
							}
							f = &Forest{}
							if err := f.UnmarshalBinary(snap); err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							if err := f.checkForest(); err != nil {
								t.Fatalf("%s: restored: %v", name, err)
							}
						}
						got := mustProcess(t, f, rec, &a)
						want, err := old.Process(rec, &ra)
						if err != nil {
							t.Fatal(err)
						}
						if got != want {
							t.Fatalf("%s record %d: score %v, reference %v", name, i, got, want)
						}
						for j := range ra.High {
							if a.High[j] != ra.High[j] || a.Low[j] != ra.Low[j] {
								t.Fatalf("%s record %d: attribution %v/%v, reference %v/%v", name, i, a.High, a.Low, ra.High, ra.Low)
							}
						}
						if i%100 == 0 {
							if err := f.checkForest(); err != nil {
								t.Fatalf("%s record %d: %v", name, i, err)
							}
						}
					}
					snap, err := f.MarshalBinary()
					if err != nil {
						t.Fatal(err)
					}
					snaps = append(snaps, snap)
				})
			}
			for i := range snaps {
				if !bytes.Equal(snaps[i], snaps[0]) {
					t.Fatalf("config %d dups %v: snapshot %d differs from the first", ci, dups, i)
				}
			}
		}
	}
}
