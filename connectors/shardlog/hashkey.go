package shardlog

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"math/bits"
	"strconv"
)

// HashKey is an unsigned 128-bit hash key.
type HashKey struct{ Hi, Lo uint64 }

// MaxHashKey is 2^128-1, the end of the hash key space.
var MaxHashKey = HashKey{^uint64(0), ^uint64(0)}

// PartitionHash is the MD5 of the partition key read as a big-endian
// unsigned 128-bit integer: the hash key that picks the shard.
func PartitionHash(key []byte) HashKey {
	sum := md5.Sum(key)
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

// Add returns h+n (wrapping).
func (h HashKey) Add(n uint64) HashKey {
	lo, c := bits.Add64(h.Lo, n, 0)
	return HashKey{h.Hi + c, lo}
}

// Sub returns h-n (wrapping).
func (h HashKey) Sub(n uint64) HashKey {
	lo, b := bits.Sub64(h.Lo, n, 0)
	return HashKey{h.Hi - b, lo}
}

// Big returns h as a big.Int.
func (h HashKey) Big() *big.Int {
	b := new(big.Int).SetUint64(h.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(h.Lo))
}

// String returns h in decimal, as Kinesis writes hash keys.
func (h HashKey) String() string {
	if h.Hi == 0 {
		return strconv.FormatUint(h.Lo, 10)
	}
	return h.Big().String()
}

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

// ParseHashKey parses a decimal hash key. ok is false when s is not a
// decimal integer in [0, 2^128-1].
func ParseHashKey(s string) (HashKey, bool) {
	if s == "" || len(s) > 40 {
		return HashKey{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return HashKey{}, false
		}
	}
	if len(s) <= 19 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return HashKey{}, false
		}
		return HashKey{0, v}, true
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.Cmp(two128) >= 0 {
		return HashKey{}, false
	}
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	return HashKey{new(big.Int).Rsh(b, 64).Uint64(), lo}, true
}

// HashKeyRange is an inclusive range of hash keys.
type HashKeyRange struct{ Start, End HashKey }

// Contains reports whether k is in r.
func (r HashKeyRange) Contains(k HashKey) bool { return r.Start.Cmp(k) <= 0 && k.Cmp(r.End) <= 0 }

// Overlaps reports whether r and o share a key.
func (r HashKeyRange) Overlaps(o HashKeyRange) bool {
	return r.Start.Cmp(o.End) <= 0 && o.Start.Cmp(r.End) <= 0
}

// UniformRanges splits the hash key space into n ranges exactly as Kinesis
// does for a new stream: each floor(2^128/n) wide, the last one ending at
// 2^128-1.
func UniformRanges(n int) []HashKeyRange {
	width := new(big.Int).Div(two128, big.NewInt(int64(n)))
	out := make([]HashKeyRange, n)
	start := new(big.Int)
	for i := range n {
		end := new(big.Int).Add(start, width)
		end.Sub(end, big.NewInt(1))
		if i == n-1 {
			end.Sub(two128, big.NewInt(1))
		}
		out[i] = HashKeyRange{fromBig(start), fromBig(end)}
		start = end.Add(end, big.NewInt(1))
	}
	return out
}

func fromBig(b *big.Int) HashKey {
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	return HashKey{new(big.Int).Rsh(b, 64).Uint64(), lo}
}
