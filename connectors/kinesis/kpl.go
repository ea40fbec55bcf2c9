package kinesis

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connectors/kpl"
)

// KPLPutRecords is a kpl.PutRecordsFunc over c's PutRecords into stream
// (a name, or an ARN when it starts with "arn:"), for a kpl.Producer.
func KPLPutRecords(c API, stream string) kpl.PutRecordsFunc {
	return func(ctx context.Context, es []kpl.Entry) ([]kpl.PutResult, error) {
		in := &kinesis.PutRecordsInput{Records: make([]types.PutRecordsRequestEntry, len(es))}
		setStream(&in.StreamName, &in.StreamARN, stream)
		for i, e := range es {
			r := types.PutRecordsRequestEntry{PartitionKey: aws.String(e.PartitionKey), Data: e.Data}
			if e.ExplicitHashKey != "" {
				r.ExplicitHashKey = aws.String(e.ExplicitHashKey)
			}
			in.Records[i] = r
		}
		out, err := c.PutRecords(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("kinesis: PutRecords: %w", err)
		}
		res := make([]kpl.PutResult, len(out.Records))
		for i, r := range out.Records {
			res[i] = kpl.PutResult{ShardID: aws.ToString(r.ShardId), SequenceNumber: aws.ToString(r.SequenceNumber),
				ErrorCode: aws.ToString(r.ErrorCode), ErrorMessage: aws.ToString(r.ErrorMessage)}
		}
		return res, nil
	}
}

// KPLListShards is a kpl.ListShardsFunc over c's ListShards: the open
// shards of stream (those without an ending sequence number) and their
// hash key ranges.
func KPLListShards(c API, stream string) kpl.ListShardsFunc {
	return func(ctx context.Context) ([]kpl.ShardRange, error) {
		in := &kinesis.ListShardsInput{}
		setStream(&in.StreamName, &in.StreamARN, stream)
		var out []kpl.ShardRange
		for {
			page, err := c.ListShards(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("kinesis: ListShards: %w", err)
			}
			for _, sh := range page.Shards {
				if sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil {
					continue // closed
				}
				if sh.HashKeyRange == nil {
					return nil, fmt.Errorf("kinesis: ListShards: shard %s has no hash key range", aws.ToString(sh.ShardId))
				}
				a, err := kpl.ParseHashKey(aws.ToString(sh.HashKeyRange.StartingHashKey))
				if err != nil {
					return nil, fmt.Errorf("kinesis: ListShards: shard %s: %w", aws.ToString(sh.ShardId), err)
				}
				b, err := kpl.ParseHashKey(aws.ToString(sh.HashKeyRange.EndingHashKey))
				if err != nil {
					return nil, fmt.Errorf("kinesis: ListShards: shard %s: %w", aws.ToString(sh.ShardId), err)
				}
				out = append(out, kpl.ShardRange{ShardID: aws.ToString(sh.ShardId), Start: a, End: b})
			}
			if page.NextToken == nil {
				return out, nil
			}
			in = &kinesis.ListShardsInput{NextToken: page.NextToken}
		}
	}
}

func setStream(name, arn **string, stream string) {
	if len(stream) > 4 && stream[:4] == "arn:" {
		*arn = aws.String(stream)
	} else {
		*name = aws.String(stream)
	}
}
