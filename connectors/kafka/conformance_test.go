package kafka

import (
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// TestSourceConformance runs the suite every source runs against a kfake
// cluster: two topics of 3 and 2 partitions read through a pattern,
// failures at random points, a resume at another parallelism, a bounded
// read to its end, every record committed exactly once.
func TestSourceConformance(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "conf-a", 3)
	e.createTopic(t, "conf-b", 2)
	e.createTopic(t, "other", 1)
	want := e.produce(t, "conf-a", 3, 150, 1000)
	for k, v := range e.produce(t, "conf-b", 2, 100, 1000) {
		want[k] += v
	}
	e.produce(t, "other", 1, 10, 1000)
	conformance.RunSource(t, conformance.Source[Record]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[Record] {
			src, err := NewSource(SourceOptions{Client: e.client(), TopicPattern: "conf-.*", Bounded: true})
			if err != nil {
				t.Fatal(err)
			}
			return engine.SourceOf(j, "kafka", src, engine.NoWatermarks[Record]())
		},
		Key:  func(r Record) string { return string(r.Value) },
		Want: want,
	})
}
