package kinesisapi

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// BenchmarkSDKPutRecords is PutRecords of 500 x 100 B through the AWS SDK
// for Go over loopback, durable (fsync), from parallel clients.
func BenchmarkSDKPutRecords(b *testing.B) {
	e := start(b, false, nil, nil)
	if _, err := e.client.CreateStream(e.ctx, &kinesis.CreateStreamInput{StreamName: aws.String("b"), ShardCount: aws.Int32(4)}); err != nil {
		b.Fatal(err)
	}
	recs := make([]types.PutRecordsRequestEntry, 500)
	for i := range recs {
		recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("key-", i)), Data: make([]byte, 100)}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := e.client.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("b"), Records: recs})
			if err != nil {
				b.Errorf("PutRecords: %v", err)
				return
			}
			if n := *out.FailedRecordCount; n != 0 {
				for _, r := range out.Records {
					if r.ErrorCode != nil {
						b.Errorf("%d records failed, first: %s %s", n, *r.ErrorCode, *r.ErrorMessage)
						break
					}
				}
				return
			}
		}
	})
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*500)/sec, "records/s")
	b.ReportMetric(float64(b.N*500*100)/sec, "bytes/s")
}

// BenchmarkSDKGetRecords reads 10,000-record pages through the SDK.
func BenchmarkSDKGetRecords(b *testing.B) {
	e := start(b, false, nil, nil)
	c := e.client
	c.CreateStream(e.ctx, &kinesis.CreateStreamInput{StreamName: aws.String("b"), ShardCount: aws.Int32(1)})
	recs := make([]types.PutRecordsRequestEntry, 500)
	for i := range recs {
		recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("key-", i)), Data: make([]byte, 100)}
	}
	for i := 0; i < 20; i++ {
		c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("b"), Records: recs})
	}
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		it, err := c.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("b"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			b.Fatal(err)
		}
		out, err := c.GetRecords(e.ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			b.Fatal(err)
		}
		n += len(out.Records)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "records/s")
	b.ReportMetric(float64(n*100)/sec, "bytes/s")
}
