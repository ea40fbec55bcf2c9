package shardconn

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/clock"
)

// TestSinkAggregates writes a bounded stream with Aggregate into four
// shards: the log holds far fewer records than were written, each
// aggregate within the size limit and in the shard all its user records
// map to; de-aggregated, every record is there once, each key's in order.
func TestSinkAggregates(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "out"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 4}); err != nil {
		t.Fatal(err)
	}
	vs, want := makeKeySeqs(23, 6000)
	sink, err := NewSink(l, SinkOptions{Stream: ref, Aggregate: true, Aggregation: kpl.AggregatorOptions{MaxSize: 4096}}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("put", engine.Config{Parallelism: 1, BatchSize: 100})
	engine.SinkTo(engine.FromSlice(j, "values", vs, engine.NoWatermarks[keySeq]()), "log", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	shards, err := l.ListShards(ref, "", shardlog.ShardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, sh := range shards {
		r, err := l.NewShardReader(ref, sh.ShardID, shardlog.StartPosition{Type: shardlog.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := r.Read(context.Background(), 0, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range res.Records {
				stored++
				if len(rec.Data) > 4096 {
					t.Fatalf("aggregate of %d bytes", len(rec.Data))
				}
				us, err := kpl.Deaggregate(string(rec.PartitionKey), "", rec.Data)
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range us {
					h := shardlog.PartitionHash([]byte(u.PartitionKey))
					if !sh.HashKeyRange.Contains(h) {
						t.Fatalf("user record %s stored in %s, outside its range", u.PartitionKey, sh.ShardID)
					}
				}
			}
			if len(res.Records) == 0 || res.ShardEnded {
				break
			}
		}
	}
	if stored == 0 || stored > 6000/10 {
		t.Fatalf("%d log records for 6000 user records: not aggregated", stored)
	}
	src, err := NewSource(l, SourceOptions{Stream: ref, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	var ks []keySeq
	for _, r := range readSource(t, src) {
		k, err := parseKeySeq(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	checkOnceInOrder(t, perKey(ks), want)
}

// TestSinkAggregateLinger: a lone record waits in its aggregate until
// AggregationMaxBufferedTime passes on the job's clock, then is sent
// without a checkpoint.
func TestSinkAggregateLinger(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "out"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(l, SinkOptions{Stream: ref, Aggregate: true, AggregationMaxBufferedTime: time.Second}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Unix(1e9, 0))
	w, err := sink.Open(context.Background(), engine.SinkInfo{Name: "log", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write([]engine.Record[keySeq]{{Value: keySeq{"a", 0}}, {Value: keySeq{"a", 1}}}); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.Calls != 0 {
		t.Fatalf("sent before the linger time: %+v", st)
	}
	clk.Advance(time.Second)
	for sink.Stats().Records != 1 {
		clk.Advance(time.Second) // the linger goroutine may have missed the first tick
		waitSome()
	}
	got := readStream2(t, l, "out")
	if len(got) != 2 || got[0] != "a/0" || got[1] != "a/1" {
		t.Fatalf("stored %v", got)
	}
}

// readStream2 returns the de-aggregated data of shard 0.
func readStream2(t *testing.T, l *shardlog.Log, stream string) []string {
	t.Helper()
	src, err := NewSource(l, SourceOptions{Stream: shardlog.StreamRef{Name: stream}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range readSource(t, src) {
		out = append(out, string(r.Data))
	}
	return out
}

func waitSome() { runtime.Gosched() }
