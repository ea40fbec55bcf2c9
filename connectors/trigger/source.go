package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/clock"
)

// Source is the stream a trigger reads: the embedded log (the default,
// from Options.Log) or any Kinesis endpoint (KinesisSource).
type Source interface {
	// Shards lists the stream's shards with their parents, and the
	// stream's creation time (a stream created again under the same name
	// starts its positions afresh).
	Shards(ctx context.Context) (created time.Time, shards []SourceShard, err error)
	// Open starts reading a shard at start.
	Open(ctx context.Context, shardID string, start shardlog.StartPosition) (ShardSource, error)
	// Now is the source's time (what AT_TIMESTAMP is compared with).
	Now() time.Time
}

// SourceShard is one shard of a Source.
type SourceShard struct {
	ID      string
	Parents []string
	Closed  bool
}

// ShardSource reads one shard in order.
type ShardSource interface {
	// Read blocks until records arrive, the shard ends, or ctx ends; it
	// returns at most max records, copied (they stay valid).
	Read(ctx context.Context, max int) (recs []Record, ended bool, err error)
	// Position is where a restart resumes: AFTER_SEQUENCE_NUMBER of the
	// last record read, or, before any, of the shard's start ("" when the
	// source cannot name it; the position then keeps the start itself).
	Position() string
}

// logSource is the embedded log.
type logSource struct {
	l   *shardlog.Log
	ref shardlog.StreamRef
}

func (s *logSource) Shards(context.Context) (time.Time, []SourceShard, error) {
	lin, err := s.l.Lineage(s.ref)
	if err != nil {
		return time.Time{}, nil, err
	}
	out := make([]SourceShard, len(lin.Shards))
	for i, sh := range lin.Shards {
		out[i] = SourceShard{ID: sh.ID, Closed: sh.Closed}
		for _, p := range sh.Parents {
			out[i].Parents = append(out[i].Parents, shardlog.ShardID(p))
		}
	}
	return lin.StreamCreated, out, nil
}

func (s *logSource) Open(_ context.Context, shardID string, start shardlog.StartPosition) (ShardSource, error) {
	r, err := s.l.NewShardReader(s.ref, shardID, start)
	if err != nil {
		return nil, err
	}
	return &logShard{r: r}, nil
}

func (s *logSource) Now() time.Time { return s.l.Now() }

type logShard struct{ r *shardlog.ShardReader }

func (s *logShard) Position() string { return s.r.Position().String() }

func (s *logShard) Read(ctx context.Context, max int) ([]Record, bool, error) {
	res, err := s.r.Read(ctx, max, 0, true)
	if err != nil {
		return nil, false, err
	}
	out := make([]Record, len(res.Records))
	for i := range res.Records {
		in := &res.Records[i]
		buf := make([]byte, len(in.PartitionKey)+len(in.Data))
		copy(buf, in.PartitionKey)
		copy(buf[len(in.PartitionKey):], in.Data)
		out[i] = Record{
			SequenceNumber: in.SequenceNumber.String(),
			PartitionKey:   buf[:len(in.PartitionKey):len(in.PartitionKey)],
			Data:           buf[len(in.PartitionKey):],
			ArrivalTime:    in.ArrivalTime,
		}
	}
	return out, res.ShardEnded, nil
}

// KinesisPollInterval is how long a Kinesis shard that returned nothing
// waits before the next GetRecords, as Lambda polls an idle shard once a
// second.
const KinesisPollInterval = time.Second

// KinesisSource reads a stream of any Kinesis endpoint (the AWS service,
// `sluice log serve`) through the AWS SDK: ListShards for the shards and
// their parents, GetRecords polling per shard (once a second when idle,
// backing off when throttled, a new iterator when one expires).
type KinesisSource struct {
	Client *kinesis.Client
	Stream string
	// Clock times the polls; nil: the real clock.
	Clock clock.Clock
}

// Shards implements Source.
func (s *KinesisSource) Shards(ctx context.Context) (time.Time, []SourceShard, error) {
	sum, err := s.Client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.Stream)})
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("kinesis DescribeStreamSummary %s: %w", s.Stream, err)
	}
	var created time.Time
	if t := sum.StreamDescriptionSummary.StreamCreationTimestamp; t != nil {
		created = *t
	}
	var out []SourceShard
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.Stream)}
	for {
		page, err := s.Client.ListShards(ctx, in)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("kinesis ListShards %s: %w", s.Stream, err)
		}
		for _, sh := range page.Shards {
			v := SourceShard{ID: aws.ToString(sh.ShardId)}
			if sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil {
				v.Closed = true
			}
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if p != nil && *p != "" {
					v.Parents = append(v.Parents, *p)
				}
			}
			out = append(out, v)
		}
		if page.NextToken == nil {
			return created, out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

// Open implements Source.
func (s *KinesisSource) Open(ctx context.Context, shardID string, start shardlog.StartPosition) (ShardSource, error) {
	ks := &kinesisShard{s: s, shard: shardID, start: start, clock: clock.Or(s.Clock)}
	if start.Type == shardlog.AfterSequenceNumber {
		ks.last = start.SequenceNumber
	}
	if err := ks.newIterator(ctx); err != nil {
		return nil, err
	}
	return ks, nil
}

// Now implements Source.
func (s *KinesisSource) Now() time.Time { return clock.Or(s.Clock).Now() }

type kinesisShard struct {
	s     *KinesisSource
	shard string
	start shardlog.StartPosition
	clock clock.Clock
	iter  *string
	last  string // the last sequence number read
	polls int
}

func (k *kinesisShard) Position() string { return k.last }

// newIterator gets an iterator after the last record read, or at the
// start before any.
func (k *kinesisShard) newIterator(ctx context.Context) error {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(k.s.Stream), ShardId: aws.String(k.shard)}
	switch {
	case k.last != "":
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(k.last)
	default:
		in.ShardIteratorType = types.ShardIteratorType(k.start.Type)
		if k.start.Type == shardlog.AtTimestamp {
			in.Timestamp = aws.Time(k.start.Timestamp)
		}
	}
	out, err := k.s.Client.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("kinesis GetShardIterator %s/%s: %w", k.s.Stream, k.shard, err)
	}
	k.iter = out.ShardIterator
	return nil
}

// Read implements ShardSource.
func (k *kinesisShard) Read(ctx context.Context, max int) ([]Record, bool, error) {
	for {
		if k.iter == nil {
			return nil, true, nil
		}
		out, err := k.s.Client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: k.iter, Limit: aws.Int32(int32(max))})
		var expired *types.ExpiredIteratorException
		var throttled *types.ProvisionedThroughputExceededException
		switch {
		case ctx.Err() != nil:
			return nil, false, ctx.Err()
		case errors.As(err, &expired):
			if err := k.newIterator(ctx); err != nil {
				return nil, false, err
			}
			continue
		case errors.As(err, &throttled):
			k.polls++
			if err := clock.Sleep(ctx, k.clock, DefaultRetry.Wait(min(k.polls, 30))); err != nil {
				return nil, false, err
			}
			continue
		case err != nil:
			return nil, false, fmt.Errorf("kinesis GetRecords %s/%s: %w", k.s.Stream, k.shard, err)
		}
		k.polls = 0
		k.iter = out.NextShardIterator
		recs := make([]Record, len(out.Records))
		for i, r := range out.Records {
			recs[i] = Record{SequenceNumber: aws.ToString(r.SequenceNumber), PartitionKey: []byte(aws.ToString(r.PartitionKey)), Data: r.Data}
			if r.ApproximateArrivalTimestamp != nil {
				recs[i].ArrivalTime = *r.ApproximateArrivalTimestamp
			}
		}
		if n := len(recs); n > 0 {
			k.last = recs[n-1].SequenceNumber
		}
		ended := k.iter == nil
		if len(recs) > 0 || ended {
			return recs, ended, nil
		}
		if aws.ToInt64(out.MillisBehindLatest) > 0 {
			continue
		}
		if err := clock.Sleep(ctx, k.clock, KinesisPollInterval); err != nil {
			return nil, false, err
		}
	}
}

// KinesisDestination puts each on-failure record (its JSON as the data, the
// source shard as the partition key) into a stream of a Kinesis endpoint.
type KinesisDestination struct {
	Client *kinesis.Client
	Stream string
}

// Send implements Destination.
func (d *KinesisDestination) Send(ctx context.Context, rec *FailureRecord, _ []Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("on-failure record: %w", err)
	}
	_, err = d.Client.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(d.Stream), PartitionKey: aws.String(rec.KinesisBatchInfo.ShardID), Data: data})
	if err != nil {
		return fmt.Errorf("on-failure destination stream %s: %w", d.Stream, err)
	}
	return nil
}
