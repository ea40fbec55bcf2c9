package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// checkpointer is a shard's Checkpointer: it writes the lease's checkpoint
// through the worker's lease, conditional on the worker still holding it.
type checkpointer struct {
	c *Consumer
	h *heldLease

	mu         sync.Mutex
	checkpoint ExtendedSequenceNumber // last written
	last       ExtendedSequenceNumber // last record delivered
	ended      bool                   // in ShardEnded: Checkpoint writes SHARD_END
}

func (p *checkpointer) delivered(e ExtendedSequenceNumber) {
	p.mu.Lock()
	p.last = e
	p.mu.Unlock()
}

func (p *checkpointer) shardEnded() {
	p.mu.Lock()
	p.ended = true
	p.mu.Unlock()
}

func (p *checkpointer) endCheckpointed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.checkpoint.SequenceNumber == ShardEnd
}

// after is the position records must follow to be delivered: the last
// delivered, else the checkpoint.
func (p *checkpointer) after() ExtendedSequenceNumber {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last.SequenceNumber != "" {
		return p.last
	}
	return p.checkpoint
}

// Checkpoint implements Checkpointer.
func (p *checkpointer) Checkpoint(ctx context.Context) error {
	p.mu.Lock()
	pos := p.last
	if p.ended {
		pos = ExtendedSequenceNumber{SequenceNumber: ShardEnd}
	}
	p.mu.Unlock()
	if pos.SequenceNumber == "" {
		return nil // nothing delivered yet: the checkpoint stands
	}
	return p.write(ctx, pos)
}

// CheckpointAt implements Checkpointer.
func (p *checkpointer) CheckpointAt(ctx context.Context, pos ExtendedSequenceNumber) error {
	if !validSeq(pos.SequenceNumber) || pos.SubSequenceNumber < 0 {
		return fmt.Errorf("consumer: shard %s: cannot checkpoint at %q: not a sequence number", p.h.shard, pos.String())
	}
	p.mu.Lock()
	cur, last := p.checkpoint, p.last
	p.mu.Unlock()
	if last.SequenceNumber == "" || pos.Compare(last) > 0 || (!cur.IsSentinel() && pos.Compare(cur) < 0) {
		return fmt.Errorf("consumer: shard %s: could not checkpoint at extended sequence number %s as it did not fall into acceptable range between the last checkpoint %s and the greatest extended sequence number passed to this record processor %s",
			p.h.shard, pos, cur, last)
	}
	return p.write(ctx, pos)
}

func (p *checkpointer) write(ctx context.Context, pos ExtendedSequenceNumber) error {
	h, c := p.h, p.c
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost {
		return leaseLost(h.shard, errors.New("the lease was lost before the checkpoint"))
	}
	_, err := c.writeLocked(ctx, h, func(l *Lease) {
		l.Checkpoint = pos
		l.OwnerSwitchesSinceCheckpoint = 0
	})
	if err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return err
		}
		return fmt.Errorf("consumer: shard %s: checkpoint at %s: %w", h.shard, pos, err)
	}
	p.mu.Lock()
	p.checkpoint = pos
	p.mu.Unlock()
	return nil
}
