package firehose

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestTransformMetadataOfUserRecords: a user record of a KPL aggregate
// reaches the transform with shardId and subsequenceNumber in its
// kinesisRecordMetadata, as Firehose sends them; a plain record has no
// subsequenceNumber.
func TestTransformMetadataOfUserRecords(t *testing.T) {
	ctx := context.Background()
	var seen []string
	fn := func(ctx context.Context, ev *TransformEvent) (*TransformResponse, error) {
		out := &TransformResponse{}
		for _, r := range ev.Records {
			b, err := json.Marshal(r.KinesisRecordMetadata)
			if err != nil {
				return nil, err
			}
			seen = append(seen, string(b))
			out.Records = append(out.Records, TransformResult{RecordID: r.RecordID, Result: ResultOk, Data: r.Data})
		}
		return out, nil
	}
	s, _, _ := newTestStream(t, transformConfig(), Deps{Transform: fn})
	at := time.UnixMilli(1700000000000)
	if err := s.Put(ctx,
		Record{Data: []byte("u"), ArrivalTime: at, PartitionKey: "k", SequenceNumber: "42", ShardID: "shardId-000000000001", SubSequenceNumber: 3, Aggregated: true},
		Record{Data: []byte("p"), ArrivalTime: at, PartitionKey: "k", SequenceNumber: "43", ShardID: "shardId-000000000001"},
	); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"shardId":"shardId-000000000001","partitionKey":"k","sequenceNumber":"42","approximateArrivalTimestamp":1700000000000,"subsequenceNumber":3}`,
		`{"shardId":"shardId-000000000001","partitionKey":"k","sequenceNumber":"43","approximateArrivalTimestamp":1700000000000}`,
	}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("metadata %q, want %q", seen, want)
	}
}
