package kpl

import (
	"fmt"
	"sort"

	"github.com/sluicehq/sluice/internal/hashkey"
)

// HashKey is an unsigned 128-bit hash key, as Kinesis maps records to
// shards.
type HashKey = hashkey.Key

// PartitionHash is the MD5 of a partition key read as a big-endian
// unsigned 128-bit integer.
func PartitionHash(key string) HashKey { return hashkey.OfString(key) }

// ParseHashKey parses a decimal hash key in [0, 2^128-1].
func ParseHashKey(s string) (HashKey, error) {
	h, ok := hashkey.Parse(s)
	if !ok {
		return HashKey{}, fmt.Errorf("kpl: hash key %q is not a decimal in [0, 2^128-1]", s)
	}
	return h, nil
}

// EffectiveHashKey is the hash key that places a record: its explicit hash
// key when it has one, else the MD5 of its partition key.
func EffectiveHashKey(partitionKey, explicitHashKey string) (HashKey, error) {
	if explicitHashKey != "" {
		return ParseHashKey(explicitHashKey)
	}
	return PartitionHash(partitionKey), nil
}

// ShardRange is an open shard's inclusive hash key range, as ListShards
// gives it.
type ShardRange struct {
	ShardID    string
	Start, End HashKey
}

// ShardMap finds the shard of a hash key among open shards whose ranges
// do not overlap (the stream's open shards).
type ShardMap struct {
	ranges []ShardRange // sorted by Start
}

// NewShardMap returns the map of ranges. Overlapping or reversed ranges
// are an error: they cannot be one moment's open shards.
func NewShardMap(ranges []ShardRange) (*ShardMap, error) {
	rs := append([]ShardRange(nil), ranges...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start.Cmp(rs[j].Start) < 0 })
	for i, r := range rs {
		if r.End.Cmp(r.Start) < 0 {
			return nil, fmt.Errorf("kpl: shard %s: hash key range ends (%s) before it starts (%s)", r.ShardID, r.End, r.Start)
		}
		if i > 0 && rs[i-1].End.Cmp(r.Start) >= 0 {
			return nil, fmt.Errorf("kpl: shards %s and %s have overlapping hash key ranges", rs[i-1].ShardID, r.ShardID)
		}
	}
	return &ShardMap{ranges: rs}, nil
}

// Shard returns the index (in the map's order) and id of the shard whose
// range holds h; ok is false when no range does.
func (m *ShardMap) Shard(h HashKey) (int, string, bool) {
	if m == nil {
		return 0, "", false
	}
	i := sort.Search(len(m.ranges), func(i int) bool { return m.ranges[i].End.Cmp(h) >= 0 })
	if i == len(m.ranges) || m.ranges[i].Start.Cmp(h) > 0 {
		return 0, "", false
	}
	return i, m.ranges[i].ShardID, true
}

// Len returns the number of shards in the map.
func (m *ShardMap) Len() int {
	if m == nil {
		return 0
	}
	return len(m.ranges)
}
