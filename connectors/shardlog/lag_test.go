package shardlog

import (
	"context"
	"testing"
	"time"
)

// Lag reports what the last GetRecords answer on each shard and the last
// SubscribeToShard event to each consumer said of MillisBehindLatest.
func TestLag(t *testing.T) {
	l, clk := openTest(t, nil)
	ctx := context.Background()
	if err := l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	lag, err := l.Lag(ref("s"))
	if err != nil || len(lag.Shards) != 0 || len(lag.Consumers) != 0 {
		t.Fatalf("before any read: %+v %v", lag, err)
	}
	var shard string
	for _, d := range []string{"x", "y", "z"} {
		r, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: []byte(d)}, "")
		if err != nil {
			t.Fatal(err)
		}
		shard = r.ShardID
	}
	clk.Advance(5 * time.Second)
	var buf RecordBuffer
	it, err := l.GetShardIterator(ref("s"), shard, StartPosition{Type: TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.GetRecords(ctx, it, 1, &buf)
	if err != nil || out.MillisBehindLatest != 5000 {
		t.Fatalf("GetRecords: %+v %v", out, err)
	}
	lag, err = l.Lag(ref("s"))
	if err != nil || len(lag.Shards) != 1 || lag.Shards[shard] != 5000 {
		t.Fatalf("after reading 1 of 3 records 5 s later: %+v %v", lag, err)
	}
	// A consumer's first event says where it stands.
	d, _ := l.DescribeStream(ref("s"))
	c, err := l.RegisterStreamConsumer(d.ARN, "app")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second) // ACTIVE
	sub, err := l.SubscribeToShard(c.ARN, shard, StartPosition{Type: TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lag, err = l.Lag(ref("s"))
	if err != nil || lag.Consumers["app"] != ev.MillisBehindLatest || len(lag.Consumers) != 1 {
		t.Fatalf("after the first event (%d ms behind): %+v %v", ev.MillisBehindLatest, lag, err)
	}
}
