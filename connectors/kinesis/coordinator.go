package kinesis

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/backoff"
)

// node is what the coordinator knows about a shard.
type node struct {
	id      string
	parents []string
	// rng is the shard's hash key range; ok says it is known.
	rng   hashRange
	owner int
	start position
	// announced: given to its owner as pending. assigned: given to its
	// owner to read (or as finished). finished: its owner reported its
	// end, after its snapshot finSnap. committed: that end is part of a
	// completed checkpoint (or of the one restored from).
	announced, assigned, finished, committed bool
	finSnap                                  int64
}

// coordinator is the source's split coordinator: it lists the shards,
// assigns each to its owner once every parent has ended, and hears back
// which have ended. It runs on the engine's coordinator goroutine.
type coordinator struct {
	api  API
	opts *SourceOptions
	ctx  *engine.SplitContext[shardSplit]
	// checkpointed: the job takes periodic checkpoints. snapshotted: a
	// checkpoint has been taken in this attempt.
	checkpointed, snapshotted bool
	shards                    map[string]*node
	noMoreSent                bool
}

func newCoordinator(api API, opts *SourceOptions, ctx *engine.SplitContext[shardSplit]) (*coordinator, error) {
	c := &coordinator{api: api, opts: opts, ctx: ctx, checkpointed: opts.Checkpointed || ctx.Checkpointing, shards: map[string]*node{}}
	listing, err := c.list()
	if err != nil {
		return nil, err
	}
	restored := false
	for _, p := range ctx.RestoredPositions {
		if len(p.Data) > 0 {
			restored = true
		}
	}
	if restored {
		err = c.restore(listing)
	} else {
		c.fresh(listing)
	}
	if err != nil {
		return nil, err
	}
	if err := c.assignReady(); err != nil {
		return nil, err
	}
	if !opts.Bounded {
		ctx.Every(opts.DiscoveryInterval, c.discover)
	}
	return c, nil
}

// list returns every shard of the stream (ListShards, all pages), retrying
// throttled calls.
func (c *coordinator) list() ([]types.Shard, error) {
	var out []types.Shard
	var token *string
	policy := backoff.Policy{Initial: c.opts.InitialBackoff, Multiplier: 2, Max: c.opts.MaxBackoff, Jitter: true, MaxAttempts: 10}
	for {
		in := &kinesis.ListShardsInput{NextToken: token}
		if token == nil {
			c.opts.streamInput(&in.StreamName, &in.StreamARN)
		}
		var res *kinesis.ListShardsOutput
		_, err := backoff.Retry(c.ctx.Context(), c.ctx.Clock, policy, func(int) error {
			var err error
			res, err = c.api.ListShards(c.ctx.Context(), in)
			if err != nil && !throttled(err) {
				return backoff.Permanent(err)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("kinesis: source: ListShards %s: %w", c.opts.streamName(), err)
		}
		out = append(out, res.Shards...)
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		token = res.NextToken
	}
}

// numbered reports whether a shard id has Kinesis's shape,
// shardId-<number>.
func numbered(id string) bool {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return false
	}
	_, err := strconv.ParseUint(id[i+1:], 10, 64)
	return err == nil
}

// shardNumber is the number in a shard id (shardId-000000000007: 7), or a
// hash of an id of another shape.
func shardNumber(id string) uint64 {
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		if n, err := strconv.ParseUint(id[i+1:], 10, 64); err == nil {
			return n
		}
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

func (c *coordinator) newNode(id string, parents []string, rng *types.HashKeyRange, start position) *node {
	return &node{id: id, parents: parents, rng: parseRange(rng), owner: int(shardNumber(id) % uint64(c.ctx.Parallelism)), start: start}
}

func parentsOf(s types.Shard) []string {
	var ps []string
	for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
		if p != nil && *p != "" {
			ps = append(ps, *p)
		}
	}
	return ps
}

func closed(s types.Shard) bool {
	return s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
}

// fresh sets every listed shard to the options' start.
func (c *coordinator) fresh(listing []types.Shard) {
	start := position{Type: TrimHorizon}
	switch c.opts.Start {
	case AtTimestamp:
		start = position{Type: AtTimestamp, Timestamp: c.opts.StartTimestamp.UnixMilli()}
	case Latest:
		start = position{Type: AtTimestamp, Timestamp: c.ctx.Clock.Now().UnixMilli(), Latest: true}
	}
	for _, s := range listing {
		n := c.newNode(aws.ToString(s.ShardId), parentsOf(s), s.HashKeyRange, start)
		if c.opts.Start == Latest && closed(s) {
			n.finished, n.committed = true, true // nothing arrives after now
		}
		c.shards[n.id] = n
	}
}

// restore rebuilds the shards from every old subtask's positions: at any
// parallelism, their union is the whole source's position. A listed shard
// the positions do not know was created after the checkpoint: it is read
// from its first record. A shard in the positions that is no longer listed
// has left the stream's retention.
func (c *coordinator) restore(listing []types.Shard) error {
	ents := map[string]posEntry{}
	for _, p := range c.ctx.RestoredPositions {
		if len(p.Data) == 0 {
			continue
		}
		stream, es, err := decodePositions(p.Data)
		if err != nil {
			return fmt.Errorf("kinesis: source: restored position of subtask %d: %w", p.Subtask, err)
		}
		if stream != c.opts.streamName() {
			return fmt.Errorf("kinesis: source: the checkpoint holds positions in stream %s, the source reads %s", stream, c.opts.streamName())
		}
		for _, e := range es {
			if old, ok := ents[e.ID]; ok && (old.Finished || !e.Finished && !ahead(*e.Pos, *old.Pos)) {
				continue
			}
			ents[e.ID] = e
		}
	}
	for _, s := range listing {
		id := aws.ToString(s.ShardId)
		n := c.newNode(id, parentsOf(s), s.HashKeyRange, position{Type: TrimHorizon})
		if e, ok := ents[id]; ok {
			if e.Finished {
				n.finished, n.committed = true, true
			} else {
				n.start = *e.Pos
			}
		}
		c.shards[id] = n
	}
	return nil
}

// discover adds the shards listed since the last look, and forgets the
// finished ones that left the stream's retention.
func (c *coordinator) discover() error {
	listing, err := c.list()
	if err != nil {
		return err
	}
	in := make(map[string]bool, len(listing))
	for _, s := range listing {
		id := aws.ToString(s.ShardId)
		in[id] = true
		if c.shards[id] == nil {
			c.shards[id] = c.newNode(id, parentsOf(s), s.HashKeyRange, position{Type: TrimHorizon})
		}
	}
	for id, n := range c.shards {
		if !in[id] && n.committed {
			delete(c.shards, id)
		}
	}
	return c.assignReady()
}

// ended handles a reader's report that a shard has ended. A report about
// a shard the coordinator did not assign to that subtask is stale.
func (c *coordinator) ended(subtask int, snap int64, ev shardEnded) error {
	n := c.shards[ev.ID]
	if n == nil || n.owner != subtask || !n.assigned || n.finished {
		return nil
	}
	n.finished, n.finSnap = true, snap
	for _, ch := range ev.Children {
		id := aws.ToString(ch.ShardId)
		if id == "" {
			continue
		}
		if c.shards[id] == nil {
			c.shards[id] = c.newNode(id, ch.ParentShards, ch.HashKeyRange, position{Type: TrimHorizon})
		}
	}
	return c.assignReady()
}

// complete commits the ends recorded in the readers' snapshots of
// checkpoint id: those reported after a snapshot older than id.
func (c *coordinator) complete(id int64) error {
	for _, n := range c.shards {
		if n.finished && !n.committed && n.finSnap < id {
			n.committed = true
		}
	}
	return c.assignReady()
}

// canStart reports whether n may be read: every ancestor the coordinator
// knows has ended, and each end is either in the same subtask's snapshots
// as n's progress (the same owner), or part of a completed checkpoint, or
// (in a job without checkpoints) no snapshot has been taken in this
// attempt. The ancestors are n's parents and every older shard whose hash
// range overlaps n's (shard ids count up as Kinesis creates shards, and
// shards whose ranges overlap never are open together): a listing names
// two parents at most, which is all the lineage a shard has in Kinesis
// (UpdateShardCount reshapes by splits and merges), but a log written by
// an older Sluice may have reshaped a stream in one step and given a
// shard more.
func (c *coordinator) canStart(n *node) bool {
	num := shardNumber(n.id)
	for _, pn := range c.shards {
		if pn == n {
			continue
		}
		ancestor := slices.Contains(n.parents, pn.id) ||
			n.rng.ok && pn.rng.ok && n.rng.overlaps(pn.rng) && shardNumber(pn.id) < num && numbered(n.id) && numbered(pn.id)
		if !ancestor {
			continue
		}
		if !pn.finished {
			return false
		}
		if pn.committed || pn.owner == n.owner || !c.snapshotted && !c.checkpointed {
			continue
		}
		return false
	}
	return true
}

// assignReady assigns every shard that may start (and every finished one,
// for its owner to record), in shard order, and announces the others as
// pending. A bounded source tells the readers that nothing more comes once
// every shard has ended.
func (c *coordinator) assignReady() error {
	ids := make([]string, 0, len(c.shards))
	for id, n := range c.shards {
		if !n.assigned {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareShardIDs)
	for _, id := range ids {
		n := c.shards[id]
		if !n.finished && !c.canStart(n) {
			if !n.announced {
				n.announced = true
				if err := c.ctx.Assign(n.owner, shardSplit{ID: n.id, Start: n.start, Pending: true}); err != nil {
					return err
				}
			}
			continue
		}
		n.assigned = true
		if err := c.ctx.Assign(n.owner, shardSplit{ID: n.id, Start: n.start, Finished: n.finished}); err != nil {
			return err
		}
	}
	if c.opts.Bounded && !c.noMoreSent {
		for _, n := range c.shards {
			if !n.finished {
				return nil
			}
		}
		c.noMoreSent = true
		for s := 0; s < c.ctx.Parallelism; s++ {
			if err := c.ctx.NoMoreSplits(s); err != nil {
				return err
			}
		}
	}
	return nil
}

func compareShardIDs(a, b string) int {
	na, nb := shardNumber(a), shardNumber(b)
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return strings.Compare(a, b)
}

func sortEntries(ents []posEntry) {
	slices.SortFunc(ents, func(a, b posEntry) int { return compareShardIDs(a.ID, b.ID) })
}

// HandleReaderEvent implements engine.SplitCoordinator.
func (c *coordinator) HandleReaderEvent(ev engine.ReaderEvent) error {
	e, ok := ev.Event.(shardEnded)
	if !ok {
		return fmt.Errorf("kinesis: source: unexpected reader event %T", ev.Event)
	}
	return c.ended(ev.Subtask, ev.Snapshot, e)
}

// SnapshotState implements engine.SplitCoordinator. The coordinator keeps
// no state of its own: the readers' positions hold every shard's progress
// and end, and it rebuilds itself from them at any parallelism.
func (c *coordinator) SnapshotState(int64) ([]byte, error) {
	c.snapshotted = true
	return nil, nil
}

// NotifyCheckpointComplete implements engine.SplitCoordinator.
func (c *coordinator) NotifyCheckpointComplete(id int64) error { return c.complete(id) }

// Close implements engine.SplitCoordinator.
func (c *coordinator) Close() error { return nil }

var _ engine.SplitCoordinator = (*coordinator)(nil)
