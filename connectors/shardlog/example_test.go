package shardlog_test

import (
	"context"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Example shows the embedded API a job's source and sink use: create a
// stream, put a batch with per-record results, list shards with their
// lineage, and read a shard in batches from a checkpointed position.
func Example() {
	dir, _ := os.MkdirTemp("", "shardlog-example-")
	defer os.RemoveAll(dir)
	l, err := shardlog.Open(shardlog.Options{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()
	stream := shardlog.StreamRef{Name: "clicks"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "clicks", ShardCount: 2}); err != nil {
		fmt.Println(err)
		return
	}
	res, err := l.PutRecords(ctx, stream, []shardlog.PutEntry{
		{PartitionKey: "alice", Data: []byte("click 1")},
		{PartitionKey: "alice", Data: []byte("click 2")},
		{PartitionKey: "bob", Data: []byte("click 3")},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res {
		fmt.Println(r.ShardID, r.ErrorCode == "")
	}
	shards, _ := l.ListShards(stream, "", shardlog.ShardFilter{})
	for _, sh := range shards {
		r, _ := l.NewShardReader(stream, sh.ShardID, shardlog.StartPosition{Type: shardlog.TrimHorizon})
		batch, _ := r.Read(ctx, 100, 0, false)
		for _, rec := range batch.Records {
			fmt.Printf("%s %s %s\n", sh.ShardID, rec.PartitionKey, rec.Data)
		}
		// A checkpoint stores r.Position(); resuming uses
		// AFTER_SEQUENCE_NUMBER with it.
		_ = shardlog.StartPosition{Type: shardlog.AfterSequenceNumber, SequenceNumber: r.Position().String()}
	}
	// Output:
	// shardId-000000000000 true
	// shardId-000000000000 true
	// shardId-000000000001 true
	// shardId-000000000000 alice click 1
	// shardId-000000000000 alice click 2
	// shardId-000000000001 bob click 3
}
