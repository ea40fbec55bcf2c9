package kinesis

import (
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// TestConformance runs the suite every source runs, through the SDK and
// the wire server, over a stream with a resharding history (a split, a
// merge and a scaling, so that parents must be read before children):
// failures at random points, a resume at another parallelism, a bounded
// read to its end, every record committed exactly once.
func TestConformance(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "s", 4)
	prod := newProducer(e.log, "s", 40, 1)
	reshardWithLineage(t, e.log, prod, 300)
	conformance.RunSource(t, conformance.Source[Record]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[Record] {
			src, err := NewSource(e.client, SourceOptions{Stream: "s", Bounded: true})
			if err != nil {
				t.Fatal(err)
			}
			return engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]())
		},
		Key:  func(r Record) string { return string(r.Data) },
		Want: prod.want(),
	})
}
