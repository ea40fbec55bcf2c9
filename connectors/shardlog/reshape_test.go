package shardlog

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
)

// TestUpdateShardCountLineage rescales streams between random shard counts
// (after a random split, so the open shards need not be uniform) and checks
// the lineage is one Kinesis can express: every shard has at most two
// parents; one parent's range contains its child's (a split), two adjacent
// parents' ranges cover it exactly (a merge); shards made on the way are
// closed; and the open shards are the uniform ranges of the target.
func TestUpdateShardCountLineage(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	l, _ := openTest(t, func(o *Options) { o.ShardLimit = 10000 })
	for i := range 40 {
		name := fmt.Sprintf("s%d", i)
		from := 1 + rng.Intn(12)
		if err := l.CreateStream(CreateStreamInput{Name: name, ShardCount: from}); err != nil {
			t.Fatal(err)
		}
		if rng.Intn(2) == 0 {
			sh, _ := l.ListShards(ref(name), "", ShardFilter{Type: FilterAtLatest})
			s := sh[rng.Intn(len(sh))]
			if err := l.SplitShard(ref(name), s.ShardID, s.HashKeyRange.Midpoint().String()); err != nil {
				t.Fatal(err)
			}
			from++
		}
		lo, hi := (from+1)/2, 2*from
		to := lo + rng.Intn(hi-lo+1)
		if to == from {
			continue
		}
		if _, err := l.UpdateShardCount(ref(name), to, UniformScaling); err != nil {
			t.Fatalf("%s %d -> %d: %v", name, from, to, err)
		}
		all, err := l.ListShards(ref(name), "", ShardFilter{})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]ShardInfo{}
		for _, s := range all {
			byID[s.ShardID] = s
		}
		var open []HashKeyRange
		for _, s := range all {
			if !s.Closed {
				open = append(open, s.HashKeyRange)
			}
			ps := s.Parents
			if len(ps) > 2 || (len(ps) > 0 && ps[0] != s.ParentShardID) || (len(ps) == 2 && ps[1] != s.AdjacentParentShardID) {
				t.Fatalf("%s %d -> %d: %s parents %v (%q, %q)", name, from, to, s.ShardID, ps, s.ParentShardID, s.AdjacentParentShardID)
			}
			switch len(ps) {
			case 1:
				p := byID[ps[0]].HashKeyRange
				if p.Start.Cmp(s.HashKeyRange.Start) > 0 || p.End.Cmp(s.HashKeyRange.End) < 0 {
					t.Fatalf("%s %d -> %d: split child %s %v outside its parent %v", name, from, to, s.ShardID, s.HashKeyRange, p)
				}
			case 2:
				a, b := byID[ps[0]].HashKeyRange, byID[ps[1]].HashKeyRange
				if a.Start != s.HashKeyRange.Start || b.End != s.HashKeyRange.End || a.End.Add(1) != b.Start {
					t.Fatalf("%s %d -> %d: merge child %s %v of %v and %v", name, from, to, s.ShardID, s.HashKeyRange, a, b)
				}
			}
			if s.Closed && len(s.Children) == 0 {
				t.Fatalf("%s %d -> %d: %s closed without children", name, from, to, s.ShardID)
			}
		}
		sort.Slice(open, func(i, j int) bool { return open[i].Start.Cmp(open[j].Start) < 0 })
		want := UniformRanges(to)
		if fmt.Sprint(open) != fmt.Sprint(want) {
			t.Fatalf("%s %d -> %d: open %v, want %v", name, from, to, open, want)
		}
	}
}
