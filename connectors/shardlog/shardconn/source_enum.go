package shardconn

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/clock"
)

// shardNode is what the readers of one attempt know about a shard.
type shardNode struct {
	idx     uint32
	id      string
	parents []uint32 // every parent still in the log
	owner   int      // the subtask that reads it: idx mod parallelism
	pos     uint64   // where reading starts (an offset), until the owner starts it
	bound   uint64   // Bounded: the offset where reading stops; else noBound
	// finished: read to its end (or bound) by its owner. committed: that
	// fact is part of a completed checkpoint (or of the one restored from).
	finished  bool
	committed bool
}

// enumerator is the state the readers of one attempt of a job share: every
// shard of the stream the source reads, its owner, and which have ended. It
// is built from the stream and the restored positions when the first reader
// of an attempt opens. It never blocks on I/O other than the log's own
// in-memory listing.
type enumerator struct {
	// checkpointed: the job takes periodic checkpoints (SourceOptions.
	// Checkpointed, or the engine says so).
	checkpointed bool
	l            *shardlog.Log
	opts         *SourceOptions
	par          int
	created      int64 // the stream's creation time (ms), to refuse a re-created stream

	// opened and live are guarded by the Source's mu.
	opened []bool
	live   int

	version       atomic.Uint64 // bumped on every change readers act on
	nextDiscovery atomic.Int64  // unix ns

	mu          sync.Mutex
	shards      map[uint32]*shardNode
	snapshotted bool          // a reader has snapshotted in this attempt
	changed     chan struct{} // closed (and replaced) on every change
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

func newEnumerator(l *shardlog.Log, opts *SourceOptions, info engine.SourceInfo) (*enumerator, error) {
	created, view, err := sourceView(l, opts.Stream)
	if err != nil {
		return nil, fmt.Errorf("shardconn: source: %w", err)
	}
	e := &enumerator{
		l: l, opts: opts, par: info.Parallelism, created: created,
		checkpointed: opts.Checkpointed || info.Checkpointing,
		opened:       make([]bool, info.Parallelism), shards: map[uint32]*shardNode{}, changed: make(chan struct{}),
	}
	now := clock.Or(info.Clock).Now()
	e.nextDiscovery.Store(now.Add(opts.DiscoveryInterval).UnixNano())
	restored := false
	for _, p := range info.Restored {
		if len(p.Data) > 0 {
			restored = true
		}
	}
	if restored {
		err = e.restore(view, info.Restored)
	} else {
		err = e.fresh(view)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (e *enumerator) node(v viewShard) *shardNode {
	return &shardNode{idx: v.idx, id: v.id, parents: v.parents, owner: int(v.idx % uint32(e.par)), bound: noBound}
}

// restore rebuilds the shards from every old subtask's positions: at any
// parallelism, the union of them is the whole source's position.
func (e *enumerator) restore(view []viewShard, restored []engine.SourcePosition) error {
	states := map[uint32]posEntry{}
	for _, p := range restored {
		if len(p.Data) == 0 {
			continue
		}
		created, _, ents, err := decodePositions(p.Data)
		if err != nil {
			return fmt.Errorf("shardconn: source: restored position of subtask %d: %w", p.Subtask, err)
		}
		if created != e.created {
			return fmt.Errorf("shardconn: source: stream %s was re-created (at %s) since the checkpoint, which holds positions in the stream created at %s",
				e.opts.Stream.Name+e.opts.Stream.ARN, time.UnixMilli(e.created).UTC().Format(time.RFC3339), time.UnixMilli(created).UTC().Format(time.RFC3339))
		}
		for _, ent := range ents {
			if old, ok := states[ent.idx]; ok && (old.finished || !ent.finished && old.pos >= ent.pos) {
				continue
			}
			states[ent.idx] = ent
		}
	}
	for _, v := range view {
		st, ok := states[v.idx]
		if !ok && e.opts.Bounded {
			continue // not part of the bounded set: created after the first start
		}
		n := e.node(v)
		if ok {
			// A shard that had ended in the checkpoint restored from: that
			// end is committed.
			n.pos, n.finished, n.committed = st.pos, st.finished, st.finished
			if e.opts.Bounded {
				n.bound = st.bound
				if n.bound == noBound {
					n.bound = v.tip // positions of an unbounded run: end at the data present now
				}
			}
		}
		// A shard the checkpoint does not know was created after it: it is
		// read from its first record once its parents have ended.
		e.shards[v.idx] = n
	}
	return nil
}

// fresh resolves the start position of every shard of the stream.
func (e *enumerator) fresh(view []viewShard) error {
	o := e.opts
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
		n := e.node(v)
		if o.Bounded {
			n.bound = v.tip
		}
		if skip[v.idx] {
			if _, own := starts[v.id]; !own {
				n.finished, n.committed = true, true
				e.shards[v.idx] = n
				continue
			}
		}
		p, ok := starts[v.id]
		if !ok {
			p = def
		}
		rd, err := e.l.NewShardReader(o.Stream, v.id, p)
		if err != nil {
			return fmt.Errorf("shardconn: source: start %s at %s: %w", v.id, p.Type, err)
		}
		n.pos = rd.Position().Pos
		e.shards[v.idx] = n
	}
	return nil
}

func (e *enumerator) discoveryDue(now time.Time) bool {
	return now.UnixNano() >= e.nextDiscovery.Load()
}

// discover adds the shards created since the last look and forgets those
// that left the log.
func (e *enumerator) discover(now time.Time) error {
	next := e.nextDiscovery.Load()
	if !e.nextDiscovery.CompareAndSwap(next, now.Add(e.opts.DiscoveryInterval).UnixNano()) {
		return nil // another reader is at it
	}
	created, view, err := sourceView(e.l, e.opts.Stream)
	if err != nil {
		return fmt.Errorf("shardconn: source: list shards: %w", err)
	}
	if created != e.created {
		return fmt.Errorf("shardconn: source: stream %s was deleted and re-created while the job read it", e.opts.Stream.Name+e.opts.Stream.ARN)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	changed := false
	in := make(map[uint32]bool, len(view))
	for _, v := range view {
		in[v.idx] = true
		if e.shards[v.idx] == nil {
			e.shards[v.idx] = e.node(v)
			changed = true
		}
	}
	for idx := range e.shards {
		if !in[idx] {
			delete(e.shards, idx)
			changed = true
		}
	}
	if changed {
		e.bumpLocked()
	}
	return nil
}

func (e *enumerator) bumpLocked() {
	e.version.Add(1)
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *enumerator) changedChan() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

func (e *enumerator) knows(idx uint32) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.shards[idx] != nil
}

// finish records that the owner has read these shards to their end and
// passed their records downstream.
func (e *enumerator) finish(idxs []uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, idx := range idxs {
		if n := e.shards[idx]; n != nil {
			n.finished = true
		}
	}
	e.bumpLocked()
}

// commit records that a completed checkpoint holds these shards' ends.
func (e *enumerator) commit(idxs []uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, idx := range idxs {
		if n := e.shards[idx]; n != nil {
			n.finished, n.committed = true, true
		}
	}
	e.bumpLocked()
}

// canStartLocked reports whether subtask me may start reading n: every
// parent still in the log has ended, and each end is either recorded in
// the same subtask's snapshots as n's progress (the same owner), or part of
// a completed checkpoint, or (without Checkpointed) no snapshot has been
// taken in this attempt yet. The last case is safe for restores: every
// snapshot of the parent's owner is then taken after the parent ended.
func (e *enumerator) canStartLocked(n *shardNode, me int) bool {
	if n == nil || n.finished {
		return false
	}
	for _, p := range n.parents {
		pn := e.shards[p]
		if pn == nil {
			continue // expired, or outside a bounded source's set
		}
		if !pn.finished {
			return false
		}
		if pn.committed || pn.owner == me || !e.snapshotted && !e.checkpointed {
			continue
		}
		return false
	}
	return true
}
