package shardlog

import "github.com/sluicehq/sluice/internal/hashkey"

// HashKey is an unsigned 128-bit hash key.
type HashKey = hashkey.Key

// MaxHashKey is 2^128-1, the end of the hash key space.
var MaxHashKey = hashkey.Max

// PartitionHash is the MD5 of the partition key read as a big-endian
// unsigned 128-bit integer: the hash key that picks the shard.
func PartitionHash(key []byte) HashKey { return hashkey.Of(key) }

// ParseHashKey parses a decimal hash key. ok is false when s is not a
// decimal integer in [0, 2^128-1].
func ParseHashKey(s string) (HashKey, bool) { return hashkey.Parse(s) }

// HashKeyRange is an inclusive range of hash keys.
type HashKeyRange = hashkey.Range

// UniformRanges splits the hash key space into n ranges exactly as Kinesis
// does for a new stream: each floor(2^128/n) wide, the last one ending at
// 2^128-1.
func UniformRanges(n int) []HashKeyRange { return hashkey.Uniform(n) }
