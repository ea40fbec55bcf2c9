package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithy "github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/internal/clock"
)

// pollingFetcher reads a shard with GetShardIterator and GetRecords,
// IdleTimeBetweenReads apart.
type pollingFetcher struct {
	c     *Consumer
	shard string
	pos   ExtendedSequenceNumber // where a new iterator starts
	iter  string
	// lastCall is when the last GetRecords started.
	lastCall time.Time
}

func (f *pollingFetcher) close() {}

func (f *pollingFetcher) iterator(ctx context.Context) error {
	c := f.c
	in := &kinesis.GetShardIteratorInput{ShardId: aws.String(f.shard)}
	c.streamInput(&in.StreamName, &in.StreamARN)
	switch f.pos.SequenceNumber {
	case TrimHorizon:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case Latest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case AtTimestamp:
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(c.cfg.InitialPositionInStream.Timestamp)
	default:
		// AT, not AFTER: a KPL aggregate may be partly processed; the
		// records at or before the position are dropped after reading.
		in.ShardIteratorType = types.ShardIteratorTypeAtSequenceNumber
		in.StartingSequenceNumber = aws.String(f.pos.SequenceNumber)
	}
	var res *kinesis.GetShardIteratorOutput
	err := c.retry(ctx, func() error {
		var err error
		res, err = c.api.GetShardIterator(ctx, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("GetShardIterator %s at %s: %w", f.shard, f.pos, err)
	}
	f.iter = aws.ToString(res.ShardIterator)
	if f.iter == "" {
		return fmt.Errorf("GetShardIterator %s returned no iterator", f.shard)
	}
	return nil
}

func (f *pollingFetcher) next(ctx context.Context) (batch, error) {
	c := f.c
	for {
		if f.iter == "" {
			if err := f.iterator(ctx); err != nil {
				return batch{}, err
			}
		}
		if !f.lastCall.IsZero() {
			if wait := c.cfg.IdleTimeBetweenReads - c.clk.Now().Sub(f.lastCall); wait > 0 {
				if err := clock.Sleep(ctx, c.clk, wait); err != nil {
					return batch{}, err
				}
			}
		}
		var res *kinesis.GetRecordsOutput
		var expired bool
		err := c.retry(ctx, func() error {
			f.lastCall = c.clk.Now()
			var err error
			res, err = c.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(f.iter), Limit: aws.Int32(c.cfg.MaxRecords)})
			var ei *types.ExpiredIteratorException
			if errors.As(err, &ei) {
				expired = true
				return nil
			}
			return err
		})
		if err != nil {
			return batch{}, fmt.Errorf("GetRecords %s: %w", f.shard, err)
		}
		if expired {
			f.iter = "" // a new one from the last record read
			continue
		}
		b := batch{records: convert(res.Records), millisBehindLatest: aws.ToInt64(res.MillisBehindLatest)}
		if n := len(res.Records); n > 0 {
			f.pos = ExtendedSequenceNumber{SequenceNumber: aws.ToString(res.Records[n-1].SequenceNumber)}
		}
		if res.NextShardIterator == nil {
			b.end = true
		} else {
			f.iter = aws.ToString(res.NextShardIterator)
		}
		return b, nil
	}
}

// fanOutFetcher reads a shard with SubscribeToShard under the
// application's registered stream consumer, subscribing again when a
// subscription ends (every 5 minutes) from the last continuation sequence
// number.
type fanOutFetcher struct {
	// ctx is the subscriptions' (an event stream lives as long as the
	// context of the call that opened it): the shard's processing.
	ctx   context.Context
	c     *Consumer
	shard string
	pos   ExtendedSequenceNumber
	// cont is the last ContinuationSequenceNumber: the next subscription
	// starts after it.
	cont   string
	stream *kinesis.SubscribeToShardEventStream
	// retries counts failed subscriptions in a row.
	retries int
}

func (f *fanOutFetcher) close() {
	if f.stream != nil {
		f.stream.Close()
		f.stream = nil
	}
}

func (f *fanOutFetcher) subscribe(wait context.Context) error {
	c, ctx := f.c, f.ctx
	sp := &types.StartingPosition{}
	switch {
	case f.cont != "":
		sp.Type, sp.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(f.cont)
	case f.pos.SequenceNumber == TrimHorizon:
		sp.Type = types.ShardIteratorTypeTrimHorizon
	case f.pos.SequenceNumber == Latest:
		sp.Type = types.ShardIteratorTypeLatest
	case f.pos.SequenceNumber == AtTimestamp:
		sp.Type, sp.Timestamp = types.ShardIteratorTypeAtTimestamp, aws.Time(c.cfg.InitialPositionInStream.Timestamp)
	default:
		sp.Type, sp.SequenceNumber = types.ShardIteratorTypeAtSequenceNumber, aws.String(f.pos.SequenceNumber)
	}
	var res *kinesis.SubscribeToShardOutput
	err := c.retry(wait, func() error {
		var err error
		res, err = c.api.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(c.consumerARN), ShardId: aws.String(f.shard), StartingPosition: sp})
		return err
	})
	if err != nil {
		return fmt.Errorf("SubscribeToShard %s: %w", f.shard, err)
	}
	f.stream = res.GetStream()
	return nil
}

func (f *fanOutFetcher) next(ctx context.Context) (batch, error) {
	for {
		if f.stream == nil {
			if err := f.subscribe(ctx); err != nil {
				return batch{}, err
			}
		}
		select {
		case <-ctx.Done():
			return batch{}, ctx.Err()
		case ev, ok := <-f.stream.Events():
			if !ok {
				err := f.stream.Err()
				f.close()
				if err != nil {
					if ctx.Err() != nil {
						return batch{}, ctx.Err()
					}
					// A refusal by the service ends the shard's processing
					// unless it is throttling; a broken connection is
					// subscribed again from the last continuation.
					var ae smithy.APIError
					if errors.As(err, &ae) && !transient(err) {
						return batch{}, fmt.Errorf("SubscribeToShard %s: %w", f.shard, err)
					}
					f.c.cfg.Logger.Info("consumer: subscription broke; subscribing again", "worker", f.c.cfg.WorkerID, "shard", f.shard, "err", err)
					f.retries++
					if err := clock.Sleep(ctx, f.c.clk, f.c.cfg.Retry.Wait(f.retries)); err != nil {
						return batch{}, err
					}
				}
				continue // the subscription ended: subscribe again
			}
			e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !isEvent {
				continue
			}
			f.retries = 0
			v := e.Value
			b := batch{records: convert(v.Records), millisBehindLatest: aws.ToInt64(v.MillisBehindLatest)}
			if v.ContinuationSequenceNumber == nil || len(v.ChildShards) > 0 {
				b.end = true
			} else {
				f.cont = aws.ToString(v.ContinuationSequenceNumber)
			}
			return b, nil
		}
	}
}

// registerConsumer registers the application's enhanced fan-out consumer
// (or finds it registered by another worker) and waits until it is
// ACTIVE.
func (c *Consumer) registerConsumer(ctx context.Context) error {
	arn := c.cfg.StreamARN
	if arn == "" {
		var res *kinesis.DescribeStreamSummaryOutput
		err := c.retry(ctx, func() error {
			var err error
			res, err = c.api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(c.cfg.StreamName)})
			return err
		})
		if err != nil {
			return fmt.Errorf("consumer: DescribeStreamSummary %s: %w", c.cfg.StreamName, err)
		}
		arn = aws.ToString(res.StreamDescriptionSummary.StreamARN)
	}
	reg, err := c.api.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(arn), ConsumerName: aws.String(c.cfg.ConsumerName)})
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		c.consumerARN = aws.ToString(reg.Consumer.ConsumerARN)
		if reg.Consumer.ConsumerStatus == types.ConsumerStatusActive {
			return nil
		}
	case errors.As(err, &inUse):
	default:
		return fmt.Errorf("consumer: RegisterStreamConsumer %s on %s: %w", c.cfg.ConsumerName, arn, err)
	}
	for n := 1; ; n++ {
		var res *kinesis.DescribeStreamConsumerOutput
		err := c.retry(ctx, func() error {
			var err error
			res, err = c.api.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(arn), ConsumerName: aws.String(c.cfg.ConsumerName)})
			return err
		})
		if err != nil {
			return fmt.Errorf("consumer: DescribeStreamConsumer %s on %s: %w", c.cfg.ConsumerName, arn, err)
		}
		d := res.ConsumerDescription
		c.consumerARN = aws.ToString(d.ConsumerARN)
		switch d.ConsumerStatus {
		case types.ConsumerStatusActive:
			return nil
		case types.ConsumerStatusDeleting:
			return fmt.Errorf("consumer: stream consumer %s is being deleted", c.cfg.ConsumerName)
		}
		if err := clock.Sleep(ctx, c.clk, c.cfg.Retry.Wait(n)); err != nil {
			return err
		}
	}
}
