package kinesis

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// TestSinkAggregates writes with Aggregate through the wire server into
// three shards, then splits a shard and writes more with a second job
// (whose writers list the new shards): the stream holds far fewer records
// than were written, and read back (de-aggregated, parents before
// children) every record is there once, each key's in order.
func TestSinkAggregates(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "out", 3)
	in := keySeqs(20, 4000)
	sink, err := NewSink(e.client, SinkOptions{Stream: "out", Aggregate: true}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("write", engine.Config{Parallelism: 1, BatchSize: 64})
	engine.SinkTo(engine.FromSlice(j, "in", in[:2000], engine.NoWatermarks[keySeq]()), "kinesis", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	ref := shardlog.StreamRef{Name: "out"}
	shards, _ := e.log.ListShards(ref, "", shardlog.ShardFilter{})
	r := shards[0].HashKeyRange
	mid := r.Start.Big()
	mid.Add(mid, r.End.Big())
	mid.Rsh(mid, 1)
	if err := e.log.SplitShard(ref, shards[0].ShardID, mid.String()); err != nil {
		t.Fatal(err)
	}
	j2 := engine.NewJob("write", engine.Config{Parallelism: 1, BatchSize: 64})
	engine.SinkTo(engine.FromSlice(j2, "in", in[2000:], engine.NoWatermarks[keySeq]()), "kinesis", sink)
	if err := j2.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.Records == 0 || st.Records > 4000/20 {
		t.Fatalf("stats %+v: not aggregated", st)
	}
	got := readBack(t, e, "out")
	want := map[string]int{}
	for _, v := range in {
		want[v.Key]++
	}
	checkOnceInOrder(t, got, want)
}
