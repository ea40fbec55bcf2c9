package shardlog

import (
	"fmt"
	"sort"
	"time"
)

// closeShardLocked closes sh at its current end. The stream's mu is held
// for writing, so no append is in flight.
func (st *stream) closeShardLocked(sh *shard, now time.Time) {
	st.l.openShards.Add(-1)
	sh.closed = true
	sh.closedAt = now
	sh.end = sh.log.Next()
	close(sh.closedCh)
}

// checkShardQuotaLocked refuses a change that would take the account's
// open shards over Options.ShardLimit. It reads the log-wide atomic count,
// not the other streams: taking the log's lock while holding a stream's
// would invert the lock order CreateStream uses (log, then stream).
func (st *stream) checkShardQuotaLocked(extra int) error {
	return st.l.checkShardQuota(int(st.l.openShards.Load()), extra)
}

// checkShardQuota refuses extra shards beyond the open ones if that takes
// the account over Options.ShardLimit.
func (l *Log) checkShardQuota(open, extra int) error {
	if open+extra <= l.opts.ShardLimit {
		return nil
	}
	e := refuse(CodeLimitExceeded, ReasonShardLimit)
	e.Current, e.Limit, e.Requested = int64(open), int64(l.opts.ShardLimit), int64(extra)
	return e
}

// notOpen refuses a reshard of a shard already closed.
func (st *stream) notOpen(sh *shard) error {
	e := refuse(CodeResourceInUse, ReasonShardNotOpen)
	e.Stream, e.Shard = st.name, sh.id
	return e
}

// SplitShard closes a shard and opens two children: one over
// [StartingHashKey, newStartingHashKey-1], one over [newStartingHashKey,
// EndingHashKey].
func (l *Log) SplitShard(ref StreamRef, shardID, newStartingHashKey string) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return err
	}
	sh, err := st.shardLocked(shardID)
	if err != nil {
		return err
	}
	if sh.closed {
		return st.notOpen(sh)
	}
	k, ok := ParseHashKey(newStartingHashKey)
	if !ok || k.Cmp(sh.rng.Start.Add(1)) <= 0 || k.Cmp(sh.rng.End) >= 0 {
		e := refuse(CodeInvalidArgument, ReasonSplitKeyOutOfRange)
		e.Stream, e.Shard, e.Value, e.Range = st.name, sh.id, newStartingHashKey, sh.rng
		return e
	}
	if err := st.checkShardQuotaLocked(1); err != nil {
		return err
	}
	if st.l.opts.StatusDelay > 0 {
		return st.deferLocked(&pendingReshard{Shard: sh.idx, SplitKey: k.String()}, now)
	}
	return st.splitLocked(sh, k, now)
}

// pendingReshard is a split or merge accepted while the stream turned
// UPDATING. Kinesis keeps the old shard map (the parents open, records
// routed to them, no children listed) until the stream is ACTIVE again,
// and the children appear and the parents close at that moment; the log
// does the same, applying it then (applyPendingLocked). It is kept in the
// stream's metadata, so a restart while UPDATING still applies it.
type pendingReshard struct {
	Shard    uint32 `json:"shard"`              // the shard to split, or ShardToMerge
	Adjacent uint32 `json:"adjacent,omitempty"` // AdjacentShardToMerge, for a merge
	Merge    bool   `json:"merge,omitempty"`
	SplitKey string `json:"split_key,omitempty"` // NewStartingHashKey, for a split
}

// deferLocked records p to be applied when the stream is ACTIVE again.
func (st *stream) deferLocked(p *pendingReshard, now time.Time) error {
	st.pending = p
	// Wake the waiters on the stream's shards, so that they arm a timer
	// for the moment the reshard is applied.
	close(st.pendingCh)
	st.pendingCh = make(chan struct{})
	st.beginUpdateLocked(now)
	return st.saveLocked()
}

// pendingDueLocked reports whether a pending reshard's time has come.
func (st *stream) pendingDueLocked(now time.Time) bool {
	return st.pending != nil && !now.Before(st.statusUntil)
}

// settle applies a pending reshard whose time has come. It returns the
// time a reshard still pending is due (zero if none is), for waiters that
// must see it happen: a subscription, a long-polling reader. It takes the
// stream's mu, which the caller must not hold.
func (st *stream) settle(now time.Time) (time.Time, error) {
	st.mu.RLock()
	pending, due := st.pending != nil, st.pendingDueLocked(now)
	at := st.statusUntil
	st.mu.RUnlock()
	if !pending {
		return time.Time{}, nil
	}
	if !due {
		return at, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return time.Time{}, st.applyPendingLocked(now)
}

// applyPendingLocked applies a pending reshard whose time has come, as of
// the moment the stream became ACTIVE again. The stream's mu is held for
// writing.
func (st *stream) applyPendingLocked(now time.Time) error {
	if !st.pendingDueLocked(now) {
		return nil
	}
	p, at := st.pending, st.statusUntil
	st.pending = nil
	st.status = StatusActive
	a, err := st.shardLocked(ShardID(p.Shard))
	if err != nil {
		return fmt.Errorf("shardlog: stream %q: pending reshard: %w", st.name, err)
	}
	if !p.Merge {
		k, ok := ParseHashKey(p.SplitKey)
		if !ok {
			return fmt.Errorf("shardlog: stream %q: pending split of %s at %q: not a hash key", st.name, a.id, p.SplitKey)
		}
		return st.splitLocked(a, k, at)
	}
	b, err := st.shardLocked(ShardID(p.Adjacent))
	if err != nil {
		return fmt.Errorf("shardlog: stream %q: pending reshard: %w", st.name, err)
	}
	return st.mergeLocked(a, b, at)
}

func (st *stream) splitLocked(sh *shard, k HashKey, now time.Time) error {
	if err := st.addChildrenLocked([]HashKeyRange{{Start: sh.rng.Start, End: k.Sub(1)}, {Start: k, End: sh.rng.End}}, now, []*shard{sh}); err != nil {
		return err
	}
	st.closeShardLocked(sh, now)
	// The stream is ACTIVE: the split is applied either at once (no
	// StatusDelay) or as the stream turns ACTIVE again.
	st.rebuildOpenLocked()
	return st.saveLocked()
}

// MergeShards closes two adjacent shards and opens one child over both
// ranges. shardToMerge becomes the child's ParentShardId, adjacentShard its
// AdjacentParentShardId.
func (l *Log) MergeShards(ref StreamRef, shardToMerge, adjacentShard string) error {
	st, err := l.streamRef(ref)
	if err != nil {
		return err
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return err
	}
	a, err := st.shardLocked(shardToMerge)
	if err != nil {
		return err
	}
	b, err := st.shardLocked(adjacentShard)
	if err != nil {
		return err
	}
	for _, s := range []*shard{a, b} {
		if s.closed {
			return st.notOpen(s)
		}
	}
	// Kinesis merges only the pair in order: ShardToMerge the lower range,
	// AdjacentShardToMerge the one right above it. The reversed pair is
	// refused as not adjacent.
	// (End+1 wraps to 0 for the top shard: hence the comparison first.)
	if a == b || a.rng.End.Cmp(b.rng.Start) >= 0 || a.rng.End.Add(1) != b.rng.Start {
		e := refuse(CodeInvalidArgument, ReasonShardsNotAdjacent)
		e.Stream, e.Shard, e.OtherShard = st.name, a.id, b.id
		return e
	}
	if st.l.opts.StatusDelay > 0 {
		return st.deferLocked(&pendingReshard{Shard: a.idx, Adjacent: b.idx, Merge: true}, now)
	}
	return st.mergeLocked(a, b, now)
}

// mergeLocked closes a and b (a the lower range, b right above it) and
// opens their child.
func (st *stream) mergeLocked(a, b *shard, now time.Time) error {
	if err := st.addChildrenLocked([]HashKeyRange{{Start: a.rng.Start, End: b.rng.End}}, now, []*shard{a, b}); err != nil {
		return err
	}
	st.closeShardLocked(a, now)
	st.closeShardLocked(b, now)
	st.rebuildOpenLocked()
	return st.saveLocked()
}

// ScalingType is UpdateShardCount's only scaling type.
const UniformScaling = "UNIFORM_SCALING"

// UpdateShardCount reshapes the stream into target shards of uniform width.
// As Kinesis does, it performs splits and merges (reshapeLocked), so every
// new shard has at most two parents and shards made on the way are closed
// at once. As in Kinesis the target must
// be between half and double the open shard count. It returns the shard
// count before the change.
func (l *Log) UpdateShardCount(ref StreamRef, target int, scalingType string) (int, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return 0, err
	}
	if scalingType != UniformScaling {
		e := refuse(CodeValidation, ReasonScalingTypeInvalid)
		e.Value = scalingType
		return 0, e
	}
	if target < 1 || target > MaxTargetShardCount {
		e := refuse(CodeValidation, ReasonTargetShardCountInvalid)
		e.Requested, e.Limit = int64(target), MaxTargetShardCount
		return 0, e
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return 0, err
	}
	if st.mode == ModeOnDemand {
		e := refuse(CodeValidation, ReasonShardCountOfOnDemand)
		e.Stream = st.name
		return 0, e
	}
	cur := len(st.open)
	var e *Error
	switch {
	case target > 2*cur:
		e = refuse(CodeLimitExceeded, ReasonTargetOverDouble)
	case 2*target < cur:
		e = refuse(CodeLimitExceeded, ReasonTargetUnderHalf)
	case target == cur:
		e = refuse(CodeInvalidArgument, ReasonTargetIsCurrent)
	}
	if e != nil {
		e.Stream, e.Requested, e.Current = st.name, int64(target), int64(cur)
		if e.Reason == ReasonTargetIsCurrent {
			return cur, e
		}
		return 0, e
	}
	if err := st.checkShardQuotaLocked(target - cur); err != nil {
		return 0, err
	}
	if err := st.reshapeLocked(UniformRanges(target), now); err != nil {
		return 0, err
	}
	st.beginUpdateLocked(now)
	return cur, st.saveLocked()
}

// reshapeLocked turns the open shards into shards over final (a partition
// of the hash key space, in key order) as Kinesis does it: a series of
// SplitShard and MergeShards. Each open shard is split at every final
// boundary inside it, one split at a time (the upper child split again);
// then the pieces of each final range are merged from the lowest up. So
// every new shard has one parent containing its range (a split) or two
// adjacent ones covering it exactly (a merge); the shards made on the way
// are closed at once, with no records. An open shard whose range is a final
// one stays open. All or nothing: the shards are made first, and if one
// cannot be, those made are dropped and the stream is as it was.
func (st *stream) reshapeLocked(final []HashKeyRange, now time.Time) error {
	old := append([]*shard(nil), st.open...)
	var made [][]*shard // the parents of each shard made, in order
	var toClose []*shard
	undo := func() {
		for i := len(made) - 1; i >= 0; i-- {
			st.dropNewShardLocked(made[i])
		}
	}
	add := func(r HashKeyRange, parents ...*shard) (*shard, error) {
		sh, err := st.addShardLocked(r, now, parents)
		if err != nil {
			undo()
			return nil, err
		}
		made = append(made, parents)
		return sh, nil
	}
	// Splits: pieces are the open shards cut at every final boundary.
	var pieces []*shard
	for _, sh := range old {
		cur := sh
		for _, f := range final {
			k := f.Start
			if k.Cmp(cur.rng.Start) <= 0 || k.Cmp(cur.rng.End) > 0 {
				continue
			}
			lo, err := add(HashKeyRange{Start: cur.rng.Start, End: k.Sub(1)}, cur)
			if err != nil {
				return err
			}
			hi, err := add(HashKeyRange{Start: k, End: cur.rng.End}, cur)
			if err != nil {
				return err
			}
			toClose = append(toClose, cur)
			pieces = append(pieces, lo)
			cur = hi
		}
		pieces = append(pieces, cur)
	}
	// Merges: the pieces of each final range, from the lowest up.
	i := 0
	for _, f := range final {
		acc := pieces[i]
		i++
		for i < len(pieces) && pieces[i].rng.End.Cmp(f.End) <= 0 {
			m, err := add(HashKeyRange{Start: acc.rng.Start, End: pieces[i].rng.End}, acc, pieces[i])
			if err != nil {
				return err
			}
			toClose = append(toClose, acc, pieces[i])
			acc = m
			i++
		}
		if acc.rng != f {
			undo()
			return fmt.Errorf("shardlog: stream %q: reshape: made %v for the range %v", st.name, acc.rng, f)
		}
	}
	for _, sh := range toClose {
		st.closeShardLocked(sh, now)
	}
	st.rebuildOpenLocked()
	return nil
}

// maybeScale splits shards of an ON_DEMAND stream that went over the split
// threshold in their last full second.
func (st *stream) maybeScale(hot []*shard) {
	now := st.l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mode != ModeOnDemand || st.deleted || st.pending != nil {
		return
	}
	changed := false
	for _, sh := range hot {
		if sh.closed || len(st.open) >= st.l.opts.OnDemand.MaxShards {
			continue
		}
		if st.checkShardQuotaLocked(1) != nil {
			return
		}
		mid := sh.rng.Midpoint()
		if mid.Cmp(sh.rng.Start.Add(1)) <= 0 || mid.Cmp(sh.rng.End) >= 0 {
			continue
		}
		// The children first: if one cannot be made, the parent stays
		// open over its range and the split is not done.
		if err := st.addChildrenLocked([]HashKeyRange{{Start: sh.rng.Start, End: mid.Sub(1)}, {Start: mid, End: sh.rng.End}}, now, []*shard{sh}); err != nil {
			st.l.opts.ErrorLog("shardlog: stream %q: on-demand split of %s: %v", st.name, sh.id, err)
			break
		}
		st.closeShardLocked(sh, now)
		st.rebuildOpenLocked()
		changed = true
	}
	if changed {
		// A failure to save is retried by the next change; the shards
		// exist in memory and on disk either way.
		if err := st.saveLocked(); err != nil {
			st.l.opts.ErrorLog("shardlog: stream %q: on-demand split: %v", st.name, err)
		}
	}
}

// addChildrenLocked makes the shards over ranges, children of parents:
// all of them or none, so that a failure (of a child's storage) leaves the
// parents as they were, open over their ranges. The parents are closed by
// the caller once this succeeds.
func (st *stream) addChildrenLocked(ranges []HashKeyRange, now time.Time, parents []*shard) error {
	made := 0
	for _, r := range ranges {
		if _, err := st.addShardLocked(r, now, parents); err != nil {
			for ; made > 0; made-- {
				st.dropNewShardLocked(parents)
			}
			return err
		}
		made++
	}
	return nil
}

// dropNewShardLocked undoes the last addShardLocked (of a child of
// parents) of a reshard that cannot be completed.
func (st *stream) dropNewShardLocked(parents []*shard) {
	sh := st.shards[len(st.shards)-1]
	st.shards = st.shards[:len(st.shards)-1]
	st.nextIndex--
	st.l.openShards.Add(-1)
	for _, p := range parents {
		p.children = p.children[:len(p.children)-1]
	}
	if err := sh.log.Remove(); err != nil {
		st.l.opts.ErrorLog("shardlog: stream %q: removing %s of an undone reshard: %v", st.name, sh.id, err)
	}
}

// ShardFilterType selects shards in ListShards.
type ShardFilterType string

// Shard filters.
const (
	FilterAfterShardID    ShardFilterType = "AFTER_SHARD_ID"
	FilterAtTrimHorizon   ShardFilterType = "AT_TRIM_HORIZON"
	FilterFromTrimHorizon ShardFilterType = "FROM_TRIM_HORIZON"
	FilterAtLatest        ShardFilterType = "AT_LATEST"
	FilterAtTimestamp     ShardFilterType = "AT_TIMESTAMP"
	FilterFromTimestamp   ShardFilterType = "FROM_TIMESTAMP"
	filterNone            ShardFilterType = ""
)

// ShardFilter is ListShards' filter.
type ShardFilter struct {
	Type      ShardFilterType
	ShardID   string    // AFTER_SHARD_ID
	Timestamp time.Time // AT_TIMESTAMP, FROM_TIMESTAMP
}

// ListShards returns the stream's shards in id order that pass the filter
// and come after exclusiveStartShardID (if set).
func (l *Log) ListShards(ref StreamRef, exclusiveStartShardID string, f ShardFilter) ([]ShardInfo, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return nil, err
	}
	now := l.clock.Now()
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.readableLocked(now); err != nil {
		return nil, err
	}
	after := int64(-1)
	if exclusiveStartShardID != "" {
		if idx, ok := ParseShardID(exclusiveStartShardID); ok {
			after = int64(idx)
		}
	}
	horizon := now.Add(-time.Duration(st.retention) * time.Hour)
	openAt := func(sh *shard, t time.Time) bool {
		return !sh.created.After(t) && (!sh.closed || sh.closedAt.After(t))
	}
	switch f.Type {
	case filterNone, FilterFromTrimHorizon, FilterAtLatest, FilterAtTrimHorizon:
	case FilterAfterShardID:
		if f.ShardID == "" {
			return nil, refuse(CodeInvalidArgument, ReasonShardFilterNoShardID)
		}
		if idx, ok := ParseShardID(f.ShardID); ok && int64(idx) > after {
			after = int64(idx)
		}
	case FilterAtTimestamp, FilterFromTimestamp:
		if f.Timestamp.IsZero() {
			e := refuse(CodeInvalidArgument, ReasonShardFilterNoTimestamp)
			e.Value = string(f.Type)
			return nil, e
		}
	default:
		e := refuse(CodeValidation, ReasonShardFilterTypeInvalid)
		e.Value = string(f.Type)
		return nil, e
	}
	var out []ShardInfo
	for _, sh := range st.shards {
		if int64(sh.idx) <= after {
			continue
		}
		keep := true
		switch f.Type {
		case FilterAtLatest:
			keep = !sh.closed
		case FilterAtTrimHorizon:
			// The shards open at the trim horizon; if the stream is younger
			// than its retention, the shards it began with.
			t := horizon
			if t.Before(st.created) {
				t = st.created
			}
			keep = openAt(sh, t)
		case FilterAtTimestamp:
			t := f.Timestamp
			if t.Before(st.created) {
				t = st.created
			}
			keep = openAt(sh, t)
		case FilterFromTimestamp:
			keep = !sh.closed || sh.closedAt.After(f.Timestamp)
		}
		if keep {
			out = append(out, sh.infoLocked())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShardID < out[j].ShardID })
	return out, nil
}
