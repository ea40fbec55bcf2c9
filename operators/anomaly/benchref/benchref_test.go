package benchref_test

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/operators/anomaly"
	"github.com/sluicehq/sluice/operators/anomaly/benchref"
)

// The bench compares like with like: the previous layout gives the scores
// of the current one for the same parameters and seed.
func TestSameScoresAsAnomaly(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	old, err := benchref.NewForest(4, 20, 64, 1000, 7)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := anomaly.NewForest(anomaly.ForestConfig{Dimensions: 4, NumberOfTrees: 20, SampleSize: 64, TimeDecay: 1000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var attr anomaly.Attribution
	for i := range 2000 {
		rec := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), 4 * r.NormFloat64()}
		a, err := old.Process(rec, i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cur.Process(rec, &attr)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("record %d: reference scores %v, anomaly %v", i, a, b)
		}
	}
	if old.HeapBytes() <= 0 || cur.HeapBytes() <= 0 {
		t.Fatalf("heap bytes %d, %d", old.HeapBytes(), cur.HeapBytes())
	}
}
