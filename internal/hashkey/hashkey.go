// Package hashkey holds Kinesis' 128-bit hash keys: the MD5 of a partition
// key read as an unsigned integer, which places a record in the shard whose
// inclusive range holds it. The log (connectors/shardlog) and the KPL's
// aggregator (connectors/kpl), which may not import each other, share it.
package hashkey

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"math/bits"
	"strconv"
)

// Key is an unsigned 128-bit hash key.
type Key struct{ Hi, Lo uint64 }

// Max is 2^128-1, the end of the hash key space.
var Max = Key{^uint64(0), ^uint64(0)}

// Of is the MD5 of a partition key read as a big-endian unsigned 128-bit
// integer.
func Of(partitionKey []byte) Key {
	sum := md5.Sum(partitionKey)
	return Key{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// OfString is Of for a string key, without a copy.
func OfString(partitionKey string) Key {
	sum := md5.Sum([]byte(partitionKey))
	return Key{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// Cmp compares k and o.
func (k Key) Cmp(o Key) int {
	switch {
	case k.Hi < o.Hi:
		return -1
	case k.Hi > o.Hi:
		return 1
	case k.Lo < o.Lo:
		return -1
	case k.Lo > o.Lo:
		return 1
	}
	return 0
}

// Add returns k+n (wrapping).
func (k Key) Add(n uint64) Key {
	lo, c := bits.Add64(k.Lo, n, 0)
	return Key{k.Hi + c, lo}
}

// Sub returns k-n (wrapping).
func (k Key) Sub(n uint64) Key {
	lo, b := bits.Sub64(k.Lo, n, 0)
	return Key{k.Hi - b, lo}
}

// Big returns k as a big.Int.
func (k Key) Big() *big.Int {
	b := new(big.Int).SetUint64(k.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(k.Lo))
}

// String returns k in decimal, as Kinesis writes hash keys.
func (k Key) String() string {
	if k.Hi == 0 {
		return strconv.FormatUint(k.Lo, 10)
	}
	return k.Big().String()
}

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

// Parse parses a decimal hash key (leading zeros allowed, at most 40
// digits). ok is false when s is not a decimal integer in [0, 2^128-1].
func Parse(s string) (k Key, ok bool) {
	if s == "" || len(s) > 40 {
		return Key{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Key{}, false
		}
	}
	if len(s) <= 19 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Key{}, false
		}
		return Key{0, v}, true
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.Cmp(two128) >= 0 {
		return Key{}, false
	}
	return FromBig(b), true
}

// FromBig returns the low 128 bits of b as a Key.
func FromBig(b *big.Int) Key {
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	return Key{new(big.Int).Rsh(b, 64).Uint64(), lo}
}

// Range is an inclusive range of hash keys.
type Range struct{ Start, End Key }

// Contains reports whether k is in r.
func (r Range) Contains(k Key) bool { return r.Start.Cmp(k) <= 0 && k.Cmp(r.End) <= 0 }

// Overlaps reports whether r and o share a key.
func (r Range) Overlaps(o Range) bool {
	return r.Start.Cmp(o.End) <= 0 && o.Start.Cmp(r.End) <= 0
}

// Midpoint is the key that splits r in two halves (of equal width, or the
// upper one key wider): the NewStartingHashKey of an even split.
func (r Range) Midpoint() Key {
	s := r.Start.Big()
	s.Add(s, r.End.Big())
	s.Add(s, big.NewInt(1))
	s.Rsh(s, 1)
	return FromBig(s)
}

// Uniform splits the hash key space into n ranges exactly as Kinesis does
// for a new stream: each floor(2^128/n) wide, the last one ending at
// 2^128-1.
func Uniform(n int) []Range {
	width := new(big.Int).Div(two128, big.NewInt(int64(n)))
	out := make([]Range, n)
	start := new(big.Int)
	for i := range n {
		end := new(big.Int).Add(start, width)
		end.Sub(end, big.NewInt(1))
		if i == n-1 {
			end.Sub(two128, big.NewInt(1))
		}
		out[i] = Range{FromBig(start), FromBig(end)}
		start = end.Add(end, big.NewInt(1))
	}
	return out
}
