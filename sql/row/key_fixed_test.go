package row

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/sql/types"
)

// TestFixedKeyIsTheStringKey checks, over random rows with NULLs, that a
// FixedKey encodes to exactly the bytes of the string key of the same
// row (so window state and key groups are the same either way), that the
// bytes decode back to the FixedKey, that SetFixed writes the key fields,
// and which encoders are Fixed.
func TestFixedKeyIsTheStringKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 7))
	ts := []types.Type{types.BigIntType(), types.IntType(), types.BooleanType(), types.DecimalType(10, 2),
		types.TimestampType(3), types.TimestampLTZType(3), types.DateType(), types.TinyIntType(),
		types.StringType(), types.DoubleType(), types.TimestampType(6)}
	l := NewLayout(ts, nil)
	for _, tc := range []struct {
		fields []int
		fixed  bool
	}{
		{[]int{0}, true}, {[]int{1, 0}, true}, {[]int{2}, true}, {[]int{3, 4}, true}, {[]int{5, 6, 7, 2}, true},
		{[]int{0, 1, 2, 3, 4}, false}, {[]int{8}, false}, {[]int{0, 9}, false}, {[]int{10}, false}, {nil, false},
	} {
		enc := NewKeyEncoder(l, tc.fields)
		if enc.Fixed() != tc.fixed {
			t.Fatalf("fields %v: Fixed() = %v, want %v", tc.fields, enc.Fixed(), tc.fixed)
		}
		if !tc.fixed {
			continue
		}
		kl, _ := l.Project(tc.fields)
		for range 300 {
			vs := make([]any, len(ts))
			for j, ft := range ts {
				vs[j] = fixedRand(rng, ft)
			}
			r, err := l.Of(Insert, vs...)
			if err != nil {
				t.Fatal(err)
			}
			want := enc.Append(nil, r)
			k := enc.FixedKey(r)
			got := enc.AppendFixed(nil, k)
			if !bytes.Equal(got, want) {
				t.Fatalf("fields %v, row %v: fixed key bytes %x, string key %x", tc.fields, r, got, want)
			}
			back, err := enc.DecodeFixed(want)
			if err != nil || back != k {
				t.Fatalf("fields %v: DecodeFixed(%x) = %+v, %v; want %+v", tc.fields, want, back, err, k)
			}
			kr := kl.New()
			enc.SetFixed(k, kr)
			for j, f := range tc.fields {
				if fmt.Sprint(kr.Get(j)) != fmt.Sprint(r.Get(f)) {
					t.Fatalf("fields %v: SetFixed field %d = %v, want %v", tc.fields, j, kr.Get(j), r.Get(f))
				}
			}
			if _, err := enc.DecodeFixed(append(want, 0)); err == nil {
				t.Fatalf("fields %v: DecodeFixed accepted a trailing byte", tc.fields)
			}
			if _, err := enc.DecodeFixed(want[:len(want)-1]); err == nil {
				t.Fatalf("fields %v: DecodeFixed accepted a truncated key", tc.fields)
			}
		}
	}
}

// fixedRand is randValue with the kinds it lacks: TINYINT and DATE (an
// int64), TIMESTAMP_LTZ (a Timestamp).
func fixedRand(rng *rand.Rand, t types.Type) any {
	switch t.Kind {
	case types.TinyInt, types.Date:
		if rng.IntN(6) == 0 {
			return nil
		}
		return int64(rng.IntN(256) - 128)
	case types.TimestampLTZ:
		return randValue(rng, types.TimestampType(t.Precision))
	}
	return randValue(rng, t)
}

func TestFixedKeyDoesNotAllocate(t *testing.T) {
	l := NewLayout([]types.Type{types.BigIntType(), types.TimestampType(3)}, nil)
	r, err := l.Of(Insert, int64(7), nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := NewKeyEncoder(l, []int{0, 1})
	var buf []byte
	if n := testing.AllocsPerRun(100, func() { buf = enc.AppendFixed(buf[:0], enc.FixedKey(r)) }); n != 0 {
		t.Fatalf("FixedKey and AppendFixed: %v allocations", n)
	}
}
