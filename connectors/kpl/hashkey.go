package kpl

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/big"
	"sort"
	"strconv"
)

// HashKey is an unsigned 128-bit hash key, as Kinesis maps records to
// shards.
type HashKey struct{ Hi, Lo uint64 }

// PartitionHash is the MD5 of a partition key read as a big-endian
// unsigned 128-bit integer.
func PartitionHash(key string) HashKey {
	sum := md5.Sum([]byte(key))
	return HashKey{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// Cmp compares h and o.
func (h HashKey) Cmp(o HashKey) int {
	switch {
	case h.Hi < o.Hi:
		return -1
	case h.Hi > o.Hi:
		return 1
	case h.Lo < o.Lo:
		return -1
	case h.Lo > o.Lo:
		return 1
	}
	return 0
}

// String returns h in decimal, as Kinesis writes hash keys.
func (h HashKey) String() string {
	if h.Hi == 0 {
		return strconv.FormatUint(h.Lo, 10)
	}
	b := new(big.Int).SetUint64(h.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(h.Lo)).String()
}

// ParseHashKey parses a decimal hash key in [0, 2^128-1].
func ParseHashKey(s string) (HashKey, error) {
	if s == "" || len(s) > 39 {
		return HashKey{}, fmt.Errorf("kpl: hash key %q is not a decimal in [0, 2^128-1]", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return HashKey{}, fmt.Errorf("kpl: hash key %q is not a decimal in [0, 2^128-1]", s)
		}
	}
	if len(s) <= 19 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return HashKey{}, fmt.Errorf("kpl: hash key %q: %w", s, err)
		}
		return HashKey{Lo: v}, nil
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.BitLen() > 128 {
		return HashKey{}, fmt.Errorf("kpl: hash key %q is not a decimal in [0, 2^128-1]", s)
	}
	lo := new(big.Int).And(v, new(big.Int).SetUint64(^uint64(0))).Uint64()
	return HashKey{Hi: new(big.Int).Rsh(v, 64).Uint64(), Lo: lo}, nil
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
