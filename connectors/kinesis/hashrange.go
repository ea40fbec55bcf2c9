package kinesis

import (
	"math/big"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// u128 is a 128-bit hash key.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// parseU128 parses a decimal in [0, 2^128-1].
func parseU128(s string) (u128, bool) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.BitLen() > 128 {
		return u128{}, false
	}
	lo := new(big.Int).And(v, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(v, 64).Uint64()
	return u128{hi: hi, lo: lo}, true
}

// hashRange is a shard's inclusive hash key range.
type hashRange struct {
	start, end u128
	ok         bool
}

func parseRange(r *types.HashKeyRange) hashRange {
	if r == nil {
		return hashRange{}
	}
	a, ok1 := parseU128(aws.ToString(r.StartingHashKey))
	b, ok2 := parseU128(aws.ToString(r.EndingHashKey))
	if !ok1 || !ok2 || b.less(a) {
		return hashRange{}
	}
	return hashRange{start: a, end: b, ok: true}
}

func (r hashRange) overlaps(o hashRange) bool { return !r.end.less(o.start) && !o.end.less(r.start) }
