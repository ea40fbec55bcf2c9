package anomaly

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/internal/bench"
)

// BenchmarkForest feeds a fresh forest at KDA's defaults (100 trees, 256
// samples, time decay 100000) 20,000 records of the normal mixture (AWS's
// RandomCutForestBenchmark workload), scoring then updating each, and
// reports µs per record. `sluice bench rcf` runs the same with the previous
// layout interleaved.
func BenchmarkForest(b *testing.B) {
	for _, dims := range []int{1, 4, 10} {
		data := mixture(20000, dims, 5)
		for _, explain := range []bool{false, true} {
			b.Run(fmt.Sprintf("dims=%02d/explain=%v", dims, explain), func(b *testing.B) {
				var attr *Attribution
				if explain {
					attr = &Attribution{}
				}
				for i := 0; i < b.N; i++ {
					f, err := NewForest(ForestConfig{Dimensions: dims, TimeDecay: 100000, Seed: uint64(i + 1)})
					if err != nil {
						b.Fatal(err)
					}
					for _, rec := range data {
						if _, err := f.Process(rec, attr); err != nil {
							b.Fatal(err)
						}
					}
				}
				recs := float64(b.N * len(data))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/recs/1000, "µs/record")
				b.ReportMetric(recs/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(recs*float64(dims*8)/b.Elapsed().Seconds(), "bytes/s")
			})
		}
	}
}

// BenchmarkHotspots adds 2-d points to a window of 1000 (radius 0.2, 17
// points) and renders HOTSPOTS_RESULT for each.
func BenchmarkHotspots(b *testing.B) {
	p := HotspotsParams{WindowSize: 1000, ScanRadius: 0.2, MinimumNumberOfPointsInAHotspot: 17}
	r := splitMix64{state: 1}
	pts := make([][]float64, 5000)
	for i := range pts {
		if i%10 < 2 {
			c := float64(2 + 5*(i%10))
			pts[i] = []float64{c + 0.3*r.float64(), c + 0.3*r.float64()}
		} else {
			pts[i] = []float64{10 * r.float64(), 10 * r.float64()}
		}
	}
	h, _ := NewHotspotDetector(2, p)
	for _, pt := range pts[:1000] {
		h.Add(pt)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hs, err := h.Add(pts[i%len(pts)])
		if err != nil {
			b.Fatal(err)
		}
		_ = HotspotsJSON(hs)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N*16)/b.Elapsed().Seconds(), "bytes/s")
}

// BenchmarkBoxCache chooses the box cache threshold: per round it feeds
// the same 20,000 records at KDA's defaults to forests caching boxes above
// 1 (every box), 2, 4 and 8 leaves, interleaved so that a busy machine
// slows all alike, and reports each one's process CPU µs per record
// (median over rounds; CPU rather than wall time, which a loaded machine
// inflates several times) and bytes per forest (HeapBytes).
func BenchmarkBoxCache(b *testing.B) {
	levels := []int32{1, 2, 4, 8}
	for _, dims := range []int{1, 4, 10} {
		data := mixture(20000, dims, 5)
		for _, explain := range []bool{false, true} {
			if explain && dims != 10 {
				continue
			}
			b.Run(fmt.Sprintf("dims=%02d/explain=%v", dims, explain), func(b *testing.B) {
				var attr *Attribution
				if explain {
					attr = &Attribution{}
				}
				us := make([][]float64, len(levels))
				bytes := make([]int, len(levels))
				for i := 0; i < b.N; i++ {
					for k := range levels {
						k = (k + i) % len(levels) // rotate who goes first
						prev := boxCacheOverride
						boxCacheOverride = levels[k]
						f, err := NewForest(ForestConfig{Dimensions: dims, TimeDecay: 100000, Seed: uint64(i + 1)})
						boxCacheOverride = prev
						if err != nil {
							b.Fatal(err)
						}
						t0 := bench.CPUTime()
						for _, rec := range data {
							if _, err := f.Process(rec, attr); err != nil {
								b.Fatal(err)
							}
						}
						us[k] = append(us[k], float64((bench.CPUTime()-t0).Nanoseconds())/float64(len(data))/1000)
						bytes[k] = f.HeapBytes()
					}
				}
				for k, c := range levels {
					slices.Sort(us[k])
					b.ReportMetric(us[k][len(us[k])/2], fmt.Sprintf("µs/record-above%d", c))
					b.ReportMetric(float64(bytes[k]), fmt.Sprintf("bytes-above%d", c))
				}
			})
		}
	}
}
