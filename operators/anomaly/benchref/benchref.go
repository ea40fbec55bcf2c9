// Package benchref lets `sluice bench rcf` run the previous random cut
// forest layout (package anomaly/internal/reference, the code of snapshot
// format 1) beside the current one, interleaved in one process, so that the
// old/new ratio it reports holds on a busy machine. It exists for that
// benchmark only: jobs use package anomaly.
package benchref

import "github.com/sluicehq/sluice/operators/anomaly/internal/reference"

// Forest is a forest of the previous layout. It is not safe for concurrent
// use.
type Forest struct {
	f    *reference.Forest
	attr reference.Attribution
}

// NewForest returns an empty forest with the given parameters (0 takes the
// default, as in anomaly.ForestConfig).
func NewForest(dims, trees, sampleSize int, timeDecay float64, seed uint64) (*Forest, error) {
	f, err := reference.NewForest(reference.ForestConfig{
		Dimensions: dims, NumberOfTrees: trees, SampleSize: sampleSize, TimeDecay: timeDecay, Seed: seed,
	})
	if err != nil {
		return nil, err
	}
	return &Forest{f: f}, nil
}

// Process scores rec, then takes it in, as anomaly.Forest.Process does;
// with explain it also computes the explanation (kept in the Forest and
// overwritten by the next call).
func (f *Forest) Process(rec []float64, explain bool) (float64, error) {
	var a *reference.Attribution
	if explain {
		a = &f.attr
	}
	return f.f.Process(rec, a)
}

// HeapBytes is the memory the forest's arrays hold.
func (f *Forest) HeapBytes() int { return f.f.HeapBytes() }
