package consumer

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithy "github.com/aws/smithy-go"
)

// batch is one read of a shard.
type batch struct {
	records            []Record
	millisBehindLatest int64
	// end: the shard is closed and every record of it was read.
	end bool
}

// fetcher reads one shard from a position on: polling or fan-out.
type fetcher interface {
	next(ctx context.Context) (batch, error)
	close()
}

// runShard processes h's shard until it ends or is told to stop, then
// reports to Run.
func (c *Consumer) runShard(h *heldLease) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.outcome = c.processShard(ctx, h)
	close(h.done)
	select {
	case c.ended <- h:
	case <-c.stopped:
	}
}

func (c *Consumer) processShard(ctx context.Context, h *heldLease) shardOutcome {
	h.mu.Lock()
	start := h.lease.Checkpoint
	h.mu.Unlock()
	proc := c.cfg.Processor(h.shard)
	cp := &checkpointer{c: c, h: h, checkpoint: start}
	fail := func(err error) shardOutcome {
		err = fmt.Errorf("consumer: shard %s: %w", h.shard, err)
		c.cfg.Logger.Error("consumer: shard processing failed", "worker", c.cfg.WorkerID, "shard", h.shard, "err", err)
		if c.cfg.OnError != nil {
			c.cfg.OnError(h.shard, err)
		}
		return outcomeFailed
	}
	if err := proc.Initialize(InitializationInput{ShardID: h.shard, ExtendedSequenceNumber: start}); err != nil {
		return fail(fmt.Errorf("Initialize: %w", err))
	}
	// stopped calls the processor's last method for a stop request.
	stopped := func(r stopReason) shardOutcome {
		if r == stopLost {
			if err := proc.LeaseLost(LeaseLostInput{ShardID: h.shard}); err != nil {
				return fail(fmt.Errorf("LeaseLost: %w", err))
			}
			return outcomeLost
		}
		if err := proc.ShutdownRequested(ShutdownRequestedInput{Context: ctx, ShardID: h.shard, Checkpointer: cp}); err != nil {
			return fail(fmt.Errorf("ShutdownRequested: %w", err))
		}
		if h.isLost() {
			return outcomeLost
		}
		return outcomeStopped
	}
	if start.SequenceNumber == ShardEnd {
		return outcomeEnded
	}
	var f fetcher
	if c.cfg.Retrieval == FanOut {
		f = &fanOutFetcher{ctx: ctx, c: c, shard: h.shard, pos: start}
	} else {
		f = &pollingFetcher{c: c, shard: h.shard, pos: start}
	}
	defer f.close()
	type result struct {
		b   batch
		err error
	}
	for {
		// Read in the background so that a stop request (lost lease)
		// is heard during a long read.
		readCtx, cancelRead := context.WithCancel(ctx)
		got := make(chan result, 1)
		go func() {
			b, err := f.next(readCtx)
			got <- result{b, err}
		}()
		var res result
		select {
		case r := <-h.stop:
			cancelRead()
			<-got
			return stopped(r)
		case res = <-got:
			cancelRead()
		}
		if res.err != nil {
			return fail(res.err)
		}
		recs, err := c.prepare(res.b.records, cp.after())
		if err != nil {
			return fail(err)
		}
		select {
		case r := <-h.stop:
			return stopped(r)
		default:
		}
		if now := c.clk.Now(); !h.valid(now) {
			h.mu.Lock()
			c.loseLocked(h)
			h.mu.Unlock()
			<-h.stop
			return stopped(stopLost)
		} else if c.hooks.deliver != nil && len(recs) > 0 {
			c.hooks.deliver(h.shard, now)
		}
		if len(recs) > 0 || c.cfg.CallProcessRecordsEvenForEmptyRecordList {
			if len(recs) > 0 {
				cp.delivered(recs[len(recs)-1].ExtendedSequenceNumber())
			}
			if err := proc.ProcessRecords(ProcessRecordsInput{Context: ctx, ShardID: h.shard, Records: recs, MillisBehindLatest: res.b.millisBehindLatest, Checkpointer: cp}); err != nil {
				return fail(fmt.Errorf("ProcessRecords: %w", err))
			}
		}
		if res.b.end {
			cp.shardEnded()
			if err := proc.ShardEnded(ShardEndedInput{Context: ctx, ShardID: h.shard, Checkpointer: cp}); err != nil {
				return fail(fmt.Errorf("ShardEnded: %w", err))
			}
			if h.isLost() {
				return outcomeLost
			}
			if !cp.endCheckpointed() {
				return fail(errors.New("ShardEnded returned without checkpointing the end of the shard (Checkpointer.Checkpoint)"))
			}
			return outcomeEnded
		}
	}
}

func (h *heldLease) isLost() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// prepare applies the Transform and drops records at or before after
// (read again after a restart or an expired iterator).
func (c *Consumer) prepare(in []Record, after ExtendedSequenceNumber) ([]Record, error) {
	recs := in
	if c.cfg.Transform == nil && !c.cfg.KeepAggregates && anyAggregated(in) {
		recs = make([]Record, 0, len(in))
		for _, r := range in {
			recs = appendUserRecords(recs, r, c.cfg.Logger)
		}
	} else if c.cfg.Transform != nil {
		recs = make([]Record, 0, len(in))
		for _, r := range in {
			out, err := c.cfg.Transform(r)
			if err != nil {
				return nil, fmt.Errorf("transform of record %s: %w", r.SequenceNumber, err)
			}
			recs = append(recs, out...)
		}
	}
	if after.IsSentinel() {
		return recs, nil
	}
	i := 0
	for i < len(recs) && recs[i].ExtendedSequenceNumber().Compare(after) <= 0 {
		i++
	}
	return recs[i:], nil
}

// transient reports errors after which a call is tried again later:
// throttling, and failures on the service's side.
func transient(err error) bool {
	var pt *types.ProvisionedThroughputExceededException
	var le *types.LimitExceededException
	var kt *types.KMSThrottlingException
	var ri *types.ResourceInUseException
	if errors.As(err, &pt) || errors.As(err, &le) || errors.As(err, &kt) || errors.As(err, &ri) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultServer {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}

func convert(rs []types.Record) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		out[i] = Record{SequenceNumber: aws.ToString(r.SequenceNumber), PartitionKey: aws.ToString(r.PartitionKey), Data: r.Data, ApproximateArrivalTimestamp: aws.ToTime(r.ApproximateArrivalTimestamp)}
	}
	return out
}
