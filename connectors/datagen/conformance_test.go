package datagen_test

import (
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// TestConformance runs the suite every source runs: failures at random
// points, a resume at another parallelism, and a bounded run to its end,
// each record committed exactly once.
func TestConformance(t *testing.T) {
	const n = 3000
	want := make(map[string]int, n)
	for i := range int64(n) {
		want[strconv.FormatInt(i, 10)]++
	}
	conformance.RunSource(t, conformance.Source[int64]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[int64] {
			return engine.SourceOf(j, "gen", datagen.Source(datagen.Options{Count: n}, func(i int64) int64 { return i }), engine.NoWatermarks[int64]())
		},
		Key:  func(i int64) string { return strconv.FormatInt(i, 10) },
		Want: want,
	})
}
