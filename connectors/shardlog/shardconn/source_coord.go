package shardconn

import (
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// shardSplit is the split the coordinator assigns: one shard, where its
// owner starts reading it and where it stops. A finished split is a shard
// already read to its end: its owner only records that in its positions, so
// that the fact survives the next restore at any parallelism.
type shardSplit struct {
	idx      uint32
	id       string
	pos      uint64 // offset where reading starts
	sub      uint64 // user records of the record after pos already emitted
	bound    uint64 // Bounded: offset where reading stops; else noBound
	finished bool
	// pending: the shard's parents have not all ended yet. The reader
	// holds it (its watermark too, so that records of a key that moves to
	// it are not late) but does not read it until the same shard is
	// assigned again without pending.
	pending bool
}

// shardEnded is a reader's event: it has read shard idx to its end (or
// bound, or lost it to retention) and passed its records downstream, and
// its positions say so from now on. children are the child shards the log
// named at the end.
type shardEnded struct {
	idx      uint32
	children []uint32
}

// shardNode is what the coordinator knows about a shard.
type shardNode struct {
	idx     uint32
	id      string
	parents []uint32 // every parent still in the log
	owner   int      // the subtask that reads it: idx mod parallelism
	pos     uint64   // where reading starts (an offset)
	sub     uint64   // and how many user records of the next record were emitted
	bound   uint64   // Bounded: the offset where reading stops; else noBound
	// announced: given to its owner as pending. assigned: given to its
	// owner to read (or as finished). finished: its owner reported its end,
	// after its snapshot finSnap. committed: that end is part of a
	// completed checkpoint (or of the one restored from).
	announced bool
	assigned  bool
	finished  bool
	finSnap   int64
	committed bool
}

// coordinator discovers the shards of the stream, assigns each to its
// owner once every parent has been read to its end, and hears back which
// have ended. In a job it runs on the engine's split-coordinator goroutine
// (jobCoordinator); a reader opened outside a job runs its own on its own
// goroutine. It is not safe for concurrent use.
type coordinator struct {
	l       *shardlog.Log
	opts    *SourceOptions
	par     int
	created int64 // the stream's creation time (ms), to refuse a re-created stream
	// checkpointed: the job takes periodic checkpoints (SourceOptions.
	// Checkpointed, or the engine says so). snapshotted: a checkpoint has
	// been taken in this attempt.
	checkpointed bool
	snapshotted  bool
	shards       map[uint32]*shardNode
	noMoreSent   bool

	assign func(subtask int, sp shardSplit) error
	noMore func(subtask int) error
}

func newCoordinator(l *shardlog.Log, opts *SourceOptions, par int, checkpointed bool, restoredPos []engine.SourcePosition,
	assign func(int, shardSplit) error, noMore func(int) error) (*coordinator, error) {
	created, view, err := sourceView(l, opts.Stream)
	if err != nil {
		return nil, fmt.Errorf("shardconn: source: %w", err)
	}
	c := &coordinator{l: l, opts: opts, par: par, created: created, checkpointed: checkpointed,
		shards: map[uint32]*shardNode{}, assign: assign, noMore: noMore}
	restored := false
	for _, p := range restoredPos {
		if len(p.Data) > 0 {
			restored = true
		}
	}
	if restored {
		err = c.restore(view, restoredPos)
	} else {
		err = c.fresh(view)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// viewShard is one shard as the log has it now.
type viewShard struct {
	idx     uint32
	id      string
	parents []uint32
	closed  bool
	tip     uint64 // the end of a closed shard; the committed end of an open one
}

// sourceView lists every retained shard of a stream with its lineage and
// current end, as one consistent view (shardlog.Log.Lineage).
func sourceView(l *shardlog.Log, ref shardlog.StreamRef) (int64, []viewShard, error) {
	lin, err := l.Lineage(ref)
	if err != nil {
		return 0, nil, err
	}
	out := make([]viewShard, 0, len(lin.Shards))
	for _, sh := range lin.Shards {
		out = append(out, viewShard{idx: sh.Index, id: sh.ID, parents: sh.Parents, closed: sh.Closed, tip: sh.End})
	}
	return lin.StreamCreated.UnixMilli(), out, nil
}

func (c *coordinator) node(v viewShard) *shardNode {
	return &shardNode{idx: v.idx, id: v.id, parents: v.parents, owner: int(v.idx % uint32(c.par)), bound: noBound}
}

// restore rebuilds the shards from every old subtask's positions: at any
// parallelism, the union of them is the whole source's position. The
// positions are those the readers of the old source (before the split
// coordinator) wrote too: their format is unchanged.
func (c *coordinator) restore(view []viewShard, restored []engine.SourcePosition) error {
	states := map[uint32]posEntry{}
	for _, p := range restored {
		if len(p.Data) == 0 {
			continue
		}
		created, _, ents, err := decodePositions(p.Data)
		if err != nil {
			return fmt.Errorf("shardconn: source: restored position of subtask %d: %w", p.Subtask, err)
		}
		if created != c.created {
			return fmt.Errorf("shardconn: source: stream %s was re-created (at %s) since the checkpoint, which holds positions in the stream created at %s",
				c.opts.Stream.Name+c.opts.Stream.ARN, time.UnixMilli(c.created).UTC().Format(time.RFC3339), time.UnixMilli(created).UTC().Format(time.RFC3339))
		}
		for _, ent := range ents {
			if old, ok := states[ent.idx]; ok && (old.finished || !ent.finished && (old.pos > ent.pos || old.pos == ent.pos && old.sub >= ent.sub)) {
				continue
			}
			states[ent.idx] = ent
		}
	}
	for _, v := range view {
		st, ok := states[v.idx]
		if !ok && c.opts.Bounded {
			continue // not part of the bounded set: created after the first start
		}
		n := c.node(v)
		if ok {
			// A shard that had ended in the checkpoint restored from: that
			// end is committed.
			n.pos, n.sub, n.finished, n.committed = st.pos, st.sub, st.finished, st.finished
			if c.opts.Bounded {
				n.bound = st.bound
				if n.bound == noBound {
					n.bound = v.tip // positions of an unbounded run: end at the data present now
				}
			}
		}
		// A shard the checkpoint does not know was created after it: it is
		// read from its first record once its parents have ended.
		c.shards[v.idx] = n
	}
	return nil
}

// fresh resolves the start position of every shard of the stream.
func (c *coordinator) fresh(view []viewShard) error {
	o := c.opts
	starts := map[string]shardlog.StartPosition{}
	for id, p := range o.ShardStarts {
		starts[id] = p
	}
	def := o.Start
	if def.Type == shardlog.AtSequenceNumber || def.Type == shardlog.AfterSequenceNumber {
		seq, _ := shardlog.ParseSequenceNumber(def.SequenceNumber)
		if _, ok := starts[shardlog.ShardID(seq.Shard)]; !ok {
			starts[shardlog.ShardID(seq.Shard)] = def
		}
		def = shardlog.StartPosition{Type: shardlog.TrimHorizon}
	}
	byID := map[string]viewShard{}
	byIdx := map[uint32]viewShard{}
	for _, v := range view {
		byID[v.id], byIdx[v.idx] = v, v
	}
	// The ancestors of a shard with its own start are skipped.
	skip := map[uint32]bool{}
	var mark func(idx uint32)
	mark = func(idx uint32) {
		for _, p := range byIdx[idx].parents {
			if !skip[p] {
				skip[p] = true
				mark(p)
			}
		}
	}
	for id := range starts {
		v, ok := byID[id]
		if !ok {
			return fmt.Errorf("shardconn: source: ShardStarts names %s, which stream %s does not have", id, o.Stream.Name+o.Stream.ARN)
		}
		mark(v.idx)
	}
	for _, v := range view {
		n := c.node(v)
		if o.Bounded {
			n.bound = v.tip
		}
		if skip[v.idx] {
			if _, own := starts[v.id]; !own {
				n.finished, n.committed = true, true
				c.shards[v.idx] = n
				continue
			}
		}
		p, ok := starts[v.id]
		if !ok {
			p = def
		}
		rd, err := c.l.NewShardReader(o.Stream, v.id, p)
		if err != nil {
			return fmt.Errorf("shardconn: source: start %s at %s: %w", v.id, p.Type, err)
		}
		n.pos = rd.Position().Pos
		c.shards[v.idx] = n
	}
	return nil
}

// discover adds the shards created since the last look and forgets those
// that left the log.
func (c *coordinator) discover() error {
	if c.opts.Bounded {
		return nil // the set is fixed at the first start
	}
	created, view, err := sourceView(c.l, c.opts.Stream)
	if err != nil {
		return fmt.Errorf("shardconn: source: list shards: %w", err)
	}
	if created != c.created {
		return fmt.Errorf("shardconn: source: stream %s was deleted and re-created while the job read it", c.opts.Stream.Name+c.opts.Stream.ARN)
	}
	in := make(map[uint32]bool, len(view))
	for _, v := range view {
		in[v.idx] = true
		if c.shards[v.idx] == nil {
			c.shards[v.idx] = c.node(v)
		}
	}
	for idx := range c.shards {
		if !in[idx] {
			delete(c.shards, idx)
		}
	}
	return c.assignReady()
}

// ended handles a reader's shardEnded event, sent after the reader's
// snapshot snap. An event about a shard the coordinator does not know (it
// left the log) or did not assign to that subtask is stale and ignored.
func (c *coordinator) ended(subtask int, snap int64, ev shardEnded) error {
	n := c.shards[ev.idx]
	if n == nil || n.owner != subtask || !n.assigned || n.finished {
		return nil
	}
	n.finished, n.finSnap = true, snap
	for _, ch := range ev.children {
		if c.shards[ch] == nil {
			return c.discover()
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

// canStart reports whether n may be read: every parent still in the log
// has ended, and each end is either recorded in the same subtask's
// snapshots as n's progress (the same owner), or part of a completed
// checkpoint, or (without Checkpointed) no snapshot has been taken in this
// attempt yet. The last case is safe for restores: every snapshot of the
// parent's owner is then taken after the parent ended.
func (c *coordinator) canStart(n *shardNode) bool {
	for _, p := range n.parents {
		pn := c.shards[p]
		if pn == nil {
			continue // expired, or outside a bounded source's set
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
// pending; a bounded source then tells
// the readers that nothing more comes once every shard is assigned.
func (c *coordinator) assignReady() error {
	idxs := make([]uint32, 0, len(c.shards))
	for idx, n := range c.shards {
		if !n.assigned {
			idxs = append(idxs, idx)
		}
	}
	slices.Sort(idxs)
	for _, idx := range idxs {
		n := c.shards[idx]
		if !n.finished && !c.canStart(n) {
			if !n.announced {
				n.announced = true
				if err := c.assign(n.owner, shardSplit{idx: n.idx, id: n.id, pos: n.pos, sub: n.sub, bound: n.bound, pending: true}); err != nil {
					return err
				}
			}
			continue
		}
		n.assigned = true
		if err := c.assign(n.owner, shardSplit{idx: n.idx, id: n.id, pos: n.pos, sub: n.sub, bound: n.bound, finished: n.finished}); err != nil {
			return err
		}
	}
	if c.opts.Bounded && !c.noMoreSent {
		for _, n := range c.shards {
			if !n.assigned {
				return nil
			}
		}
		c.noMoreSent = true
		for s := 0; s < c.par; s++ {
			if err := c.noMore(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// jobCoordinator is the coordinator as the engine runs it.
type jobCoordinator struct{ c *coordinator }

func newJobCoordinator(l *shardlog.Log, opts *SourceOptions, ctx *engine.SplitContext[shardSplit]) (engine.SplitCoordinator, error) {
	c, err := newCoordinator(l, opts, ctx.Parallelism, opts.Checkpointed || ctx.Checkpointing, ctx.RestoredPositions,
		func(s int, sp shardSplit) error { return ctx.Assign(s, sp) }, ctx.NoMoreSplits)
	if err != nil {
		return nil, err
	}
	if err := c.assignReady(); err != nil {
		return nil, err
	}
	if !opts.Bounded {
		ctx.Every(opts.DiscoveryInterval, c.discover)
	}
	return &jobCoordinator{c: c}, nil
}

func (j *jobCoordinator) HandleReaderEvent(ev engine.ReaderEvent) error {
	e, ok := ev.Event.(shardEnded)
	if !ok {
		return fmt.Errorf("shardconn: source: unexpected reader event %T", ev.Event)
	}
	return j.c.ended(ev.Subtask, ev.Snapshot, e)
}

// SnapshotState returns no state of its own: the readers' positions hold
// every shard's progress and end (the ends a reader reported before a
// checkpoint's trigger are in its snapshot of that checkpoint), and the
// coordinator rebuilds itself from them, at any parallelism.
func (j *jobCoordinator) SnapshotState(int64) ([]byte, error) {
	j.c.snapshotted = true
	return nil, nil
}

func (j *jobCoordinator) NotifyCheckpointComplete(id int64) error { return j.c.complete(id) }

func (j *jobCoordinator) Close() error { return nil }
