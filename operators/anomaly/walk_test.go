package anomaly

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testseed"
)

// walkCase is a forest grown on random data and queries to walk it with:
// fresh points, sampled points and values on the boxes' edges.
func walkCase(t testing.TB, r *splitMix64, dims int, dups bool) (*Forest, [][]float64) {
	f := mustForest(t, ForestConfig{Dimensions: dims, NumberOfTrees: 10, TimeDecay: 1000, Seed: r.next()})
	data := equivalenceData(r, 1500, dims, dups)
	for _, rec := range data {
		if _, err := f.Process(rec, nil); err != nil {
			t.Fatal(err)
		}
	}
	queries := mixture(300, dims, r.next())
	queries = append(queries, data[len(data)-300:]...)
	for i := range 100 {
		q := append([]float64(nil), data[len(data)-1-i]...)
		q[int(r.next()%uint64(dims))] = math.Round(q[0]) // on or near cut values
		queries = append(queries, q)
	}
	return f, queries
}

// cachedAncestor is n or its lowest ancestor whose box is cached, where the
// walks over cached boxes start (noParent if there is none).
func cachedAncestor(tr *tree, n int32) int32 {
	for n != noParent && !tr.cached(n) {
		n = tr.parent(n)
	}
	return n
}

// The walk in use (assembly on amd64) gives bit for bit the probabilities
// of separationsGo, the portable one, from every leaf's lowest cached
// ancestor of random trees; with -tags purego, or on other GOARCHes, they are the same code.
func TestSeparationsMatchGo(t *testing.T) {
	seed := testseed.Seed(t)
	r := splitMix64{state: seed}
	for _, dims := range []int{1, 2, 3, 4, 7, 10, 16} {
		for _, dups := range []bool{false, true} {
			f, queries := walkCase(t, &r, dims, dups)
			want := make([]float64, f.cfg.SampleSize+1)
			got := make([]float64, f.cfg.SampleSize+1)
			for ti, tr := range f.trees {
				for qi, q := range queries {
					leaf, depth := tr.findLeaf(q)
					n := cachedAncestor(tr, tr.parent(leaf))
					kw := separationsGo(tr, q, n, want[:depth+1])
					kg := tr.separations(q, n, got[:depth+1])
					if kw != kg {
						t.Fatalf("seed %d dims %d dups %v tree %d query %d: %d levels, want %d", seed, dims, dups, ti, qi, kg, kw)
					}
					for k := range kw {
						if math.Float64bits(got[k]) != math.Float64bits(want[k]) {
							t.Fatalf("seed %d dims %d dups %v tree %d query %d level %d: %v, want %v", seed, dims, dups, ti, qi, k, got[k], want[k])
						}
					}
				}
			}
		}
	}
}

// BenchmarkSeparations compares the walk in use with separationsGo,
// interleaved in rounds of one pass over every (tree, query) pair so that a
// busy machine slows both alike; it reports ns per walk for each and their
// ratio.
func BenchmarkSeparations(b *testing.B) {
	for _, dims := range []int{1, 4, 10} {
		b.Run(fmt.Sprintf("dims=%02d", dims), func(b *testing.B) {
			r := splitMix64{state: 1}
			f, queries := walkCase(b, &r, dims, false)
			type walk struct {
				tr    *tree
				q     []float64
				n     int32
				depth int
			}
			var walks []walk
			for _, tr := range f.trees {
				for _, q := range queries {
					leaf, depth := tr.findLeaf(q)
					walks = append(walks, walk{tr, q, cachedAncestor(tr, tr.parent(leaf)), depth})
				}
			}
			out := make([]float64, f.cfg.SampleSize+1)
			var dGo, dImpl time.Duration
			sink := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				for _, w := range walks {
					sink += separationsGo(w.tr, w.q, w.n, out[:w.depth+1])
				}
				t1 := time.Now()
				for _, w := range walks {
					sink += w.tr.separations(w.q, w.n, out[:w.depth+1])
				}
				dImpl += time.Since(t1)
				dGo += t1.Sub(t0)
			}
			if sink < 0 {
				b.Fatal(sink)
			}
			nw := float64(b.N * len(walks))
			b.ReportMetric(float64(dGo.Nanoseconds())/nw, "ns/walk-go")
			b.ReportMetric(float64(dImpl.Nanoseconds())/nw, "ns/walk-impl")
			b.ReportMetric(float64(dGo)/float64(dImpl), "go/impl")
		})
	}
}
