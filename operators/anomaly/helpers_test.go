package anomaly

import (
	"math"
	"testing"
)

// mixture is the workload of AWS's RandomCutForestBenchmark
// (NormalMixtureTestData): mostly N(0,1) per dimension, with runs from
// N(4,2) entered with probability 0.01 and left with probability 0.3.
func mixture(n, dims int, seed uint64) [][]float64 {
	r := splitMix64{state: seed}
	out := make([][]float64, n)
	anom := false
	for i := range out {
		out[i] = make([]float64, dims)
		mu, sd := 0.0, 1.0
		if anom {
			mu, sd = 4, 2
		}
		for j := range out[i] {
			u, v := r.openFloat64(), r.float64()
			out[i][j] = mu + sd*math.Sqrt(-2*math.Log(u))*math.Cos(2*math.Pi*v)
		}
		if !anom && r.float64() < 0.01 {
			anom = true
		} else if anom && r.float64() < 0.3 {
			anom = false
		}
	}
	return out
}

// gaussian returns n points of N(0,1) per dimension.
func gaussian(n, dims int, seed uint64) [][]float64 {
	r := splitMix64{state: seed}
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, dims)
		for j := range out[i] {
			u, v := r.openFloat64(), r.float64()
			out[i][j] = math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
		}
	}
	return out
}

func mustForest(t testing.TB, cfg ForestConfig) *Forest {
	t.Helper()
	f, err := NewForest(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustProcess(t testing.TB, f *Forest, rec []float64, attr *Attribution) float64 {
	t.Helper()
	s, err := f.Process(rec, attr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
