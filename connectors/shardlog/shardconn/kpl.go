package shardconn

import (
	"fmt"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
)

// ShardMap returns the hash key ranges of the open shards of a stream, for
// aggregating user records per shard (kpl.Aggregator, kpl.Producer).
func ShardMap(l *shardlog.Log, ref shardlog.StreamRef) (*kpl.ShardMap, error) {
	shards, err := l.ListShards(ref, "", shardlog.ShardFilter{})
	if err != nil {
		return nil, fmt.Errorf("shardconn: list shards: %w", err)
	}
	var rs []kpl.ShardRange
	for _, s := range shards {
		if s.Closed {
			continue
		}
		r := s.HashKeyRange
		rs = append(rs, kpl.ShardRange{ShardID: s.ShardID, Start: kpl.HashKey{Hi: r.Start.Hi, Lo: r.Start.Lo}, End: kpl.HashKey{Hi: r.End.Hi, Lo: r.End.Lo}})
	}
	m, err := kpl.NewShardMap(rs)
	if err != nil {
		return nil, fmt.Errorf("shardconn: %w", err)
	}
	return m, nil
}
