package shardlog

import (
	"math/big"
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
	l := st.l
	open := int(l.openShards.Load())
	if open+extra > l.opts.ShardLimit {
		return errorf(CodeLimitExceeded, "This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.", l.opts.AccountID, l.opts.Region, open, l.opts.ShardLimit, extra)
	}
	return nil
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
		return errorf(CodeResourceInUse, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", sh.id, st.name, l.opts.AccountID)
	}
	k, ok := ParseHashKey(newStartingHashKey)
	if !ok || k.Cmp(sh.rng.Start.Add(1)) <= 0 || k.Cmp(sh.rng.End) >= 0 {
		return errorf(CodeInvalidArgument, "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.", newStartingHashKey, sh.id, st.name, l.opts.AccountID, sh.rng.Start, sh.rng.End)
	}
	if err := st.checkShardQuotaLocked(1); err != nil {
		return err
	}
	return st.splitLocked(sh, k, now)
}

func (st *stream) splitLocked(sh *shard, k HashKey, now time.Time) error {
	st.closeShardLocked(sh, now)
	if _, err := st.addShardLocked(HashKeyRange{sh.rng.Start, k.Sub(1)}, now, []*shard{sh}); err != nil {
		return err
	}
	if _, err := st.addShardLocked(HashKeyRange{k, sh.rng.End}, now, []*shard{sh}); err != nil {
		return err
	}
	st.rebuildOpenLocked()
	st.beginUpdateLocked(now)
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
			return errorf(CodeResourceInUse, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", s.id, st.name, l.opts.AccountID)
		}
	}
	lo, hi := a, b
	if b.rng.Start.Cmp(a.rng.Start) < 0 {
		lo, hi = b, a
	}
	if a == b || lo.rng.End.Add(1) != hi.rng.Start {
		return errorf(CodeInvalidArgument, "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging", a.id, b.id, st.name, l.opts.AccountID)
	}
	st.closeShardLocked(a, now)
	st.closeShardLocked(b, now)
	if _, err := st.addShardLocked(HashKeyRange{lo.rng.Start, hi.rng.End}, now, []*shard{a, b}); err != nil {
		return err
	}
	st.rebuildOpenLocked()
	st.beginUpdateLocked(now)
	return st.saveLocked()
}

// ScalingType is UpdateShardCount's only scaling type.
const UniformScaling = "UNIFORM_SCALING"

// UpdateShardCount reshapes the stream into target shards of uniform width.
// Every open shard is closed; each new shard lists as parents the old shards
// its range overlaps (ParentShardId and AdjacentParentShardId show the
// first two; ShardInfo.Parents has them all). As in Kinesis the target must
// be between half and double the open shard count. It returns the shard
// count before the change.
func (l *Log) UpdateShardCount(ref StreamRef, target int, scalingType string) (int, error) {
	st, err := l.streamRef(ref)
	if err != nil {
		return 0, err
	}
	if scalingType != UniformScaling {
		return 0, errorf(CodeValidation, "1 validation error detected: Value '%s' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]", scalingType)
	}
	if target < 1 || target > maxShardsPerProvided {
		return 0, errorf(CodeValidation, "1 validation error detected: Value '%d' at 'targetShardCount' failed to satisfy constraint: Member must have value between 1 and %d", target, maxShardsPerProvided)
	}
	now := l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.activeLocked(now); err != nil {
		return 0, err
	}
	if st.mode == ModeOnDemand {
		return 0, errorf(CodeValidation, "UpdateShardCount is not supported for stream %s under account %s in ON_DEMAND mode.", st.name, l.opts.AccountID)
	}
	cur := len(st.open)
	if target > 2*cur {
		return 0, errorf(CodeLimitExceeded, "UpdateShardCount failed for stream %s under account %s. Target shard count (%d) cannot exceed twice the current open shard count (%d).", st.name, l.opts.AccountID, target, cur)
	}
	if 2*target < cur {
		return 0, errorf(CodeLimitExceeded, "UpdateShardCount failed for stream %s under account %s. Target shard count (%d) cannot be less than half the current open shard count (%d).", st.name, l.opts.AccountID, target, cur)
	}
	if target == cur {
		return cur, errorf(CodeInvalidArgument, "Stream %s under account %s already has %d open shards.", st.name, l.opts.AccountID, cur)
	}
	if err := st.checkShardQuotaLocked(target - cur); err != nil {
		return 0, err
	}
	old := append([]*shard(nil), st.open...)
	for _, sh := range old {
		st.closeShardLocked(sh, now)
	}
	for _, r := range UniformRanges(target) {
		var parents []*shard
		for _, sh := range old {
			if sh.rng.Overlaps(r) {
				parents = append(parents, sh)
			}
		}
		if _, err := st.addShardLocked(r, now, parents); err != nil {
			return 0, err
		}
	}
	st.rebuildOpenLocked()
	st.beginUpdateLocked(now)
	return cur, st.saveLocked()
}

// maybeScale splits shards of an ON_DEMAND stream that went over the split
// threshold in their last full second.
func (st *stream) maybeScale(hot []*shard) {
	now := st.l.clock.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mode != ModeOnDemand || st.deleted {
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
		st.closeShardLocked(sh, now)
		if _, err := st.addShardLocked(HashKeyRange{sh.rng.Start, mid.Sub(1)}, now, []*shard{sh}); err != nil {
			return
		}
		if _, err := st.addShardLocked(HashKeyRange{mid, sh.rng.End}, now, []*shard{sh}); err != nil {
			return
		}
		st.rebuildOpenLocked()
		changed = true
	}
	if changed {
		// A failure to save is retried by the next change; the shards
		// exist in memory and on disk either way.
		_ = st.saveLocked()
	}
}

// Midpoint is the key that splits r in two halves (of equal width, or the
// upper one key wider): the NewStartingHashKey of an even split.
func (r HashKeyRange) Midpoint() HashKey {
	s := r.Start.Big()
	s.Add(s, r.End.Big())
	s.Add(s, big.NewInt(1))
	s.Rsh(s, 1)
	return fromBig(s)
}

// ShardFilterType selects shards in ListShards.
type ShardFilterType string

// Shard filters.
const (
	FilterAfterShardID     ShardFilterType = "AFTER_SHARD_ID"
	FilterAtTrimHorizon    ShardFilterType = "AT_TRIM_HORIZON"
	FilterFromTrimHorizon  ShardFilterType = "FROM_TRIM_HORIZON"
	FilterAtLatest         ShardFilterType = "AT_LATEST"
	FilterAtTimestamp      ShardFilterType = "AT_TIMESTAMP"
	FilterFromTimestamp    ShardFilterType = "FROM_TIMESTAMP"
	filterNone             ShardFilterType = ""
	shardFilterEnumMessage                 = "[AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]"
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
			return nil, errorf(CodeInvalidArgument, "ShardId must be specified when the ShardFilter type is AFTER_SHARD_ID.")
		}
		if idx, ok := ParseShardID(f.ShardID); ok && int64(idx) > after {
			after = int64(idx)
		}
	case FilterAtTimestamp, FilterFromTimestamp:
		if f.Timestamp.IsZero() {
			return nil, errorf(CodeInvalidArgument, "Timestamp must be specified when the ShardFilter type is %s.", f.Type)
		}
	default:
		return nil, errorf(CodeValidation, "1 validation error detected: Value '%s' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: %s", f.Type, shardFilterEnumMessage)
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
