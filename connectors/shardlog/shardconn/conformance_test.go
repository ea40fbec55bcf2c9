package shardconn

import (
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// TestConformance runs the suite every source runs over a stream with a
// resharding history (a split, a merge and a scaling, so that parents must
// be read before their children): failures at random points, a resume at
// another parallelism, and a bounded read to its end, every record
// committed exactly once.
func TestConformance(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 4}); err != nil {
		t.Fatal(err)
	}
	prod := newProducer(l, "s", 40, 1)
	reshardWithLineage(t, l, prod, 600)
	want := map[string]int{}
	for k, n := range prod.counts() {
		for seq := 0; seq < n; seq++ { // the producer numbers from 0
			want[k+"/"+strconv.Itoa(seq)]++
		}
	}
	conformance.RunSource(t, conformance.Source[SourceRecord]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[SourceRecord] {
			src, err := NewSource(l, SourceOptions{Stream: shardlog.StreamRef{Name: "s"}, Bounded: true})
			if err != nil {
				t.Fatal(err)
			}
			return engine.SourceOf(j, "log", src, engine.NoWatermarks[SourceRecord]())
		},
		Key:  func(r SourceRecord) string { return string(r.Data) },
		Want: want,
	})
}
