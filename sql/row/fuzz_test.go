package row

import (
	"testing"

	"github.com/sluicehq/sluice/sql/types"
)

// fuzzLayout has a field of every class, nested ones included.
var fuzzLayout = NewLayout([]types.Type{
	types.IntType(), types.StringType(), types.TimestampType(6), types.DecimalType(30, 2), types.DoubleType(),
	types.ArrayType(types.StringType()), types.MapType(types.IntType(), types.BooleanType()),
	types.RowType(types.NewField("a", types.BigIntType())), types.DecimalType(5, 1),
}, nil)

func fuzzSeed(f *testing.F) *Row {
	inner, _ := NewRowLayout(types.RowType(types.NewField("a", types.BigIntType()))).Of(Insert, int64(7))
	r, err := fuzzLayout.Of(UpdateAfter, int64(1), "a\x00b", Timestamp{Millis: 5, Nanos: 9}, MustDecimal("-123456789012345678901.25"),
		-0.5, []any{"x", nil}, &MapValue{Keys: []any{int64(1)}, Values: []any{true}}, inner, MustDecimal("12.5"))
	if err != nil {
		f.Fatal(err)
	}
	return r
}

// FuzzCodecDecode: decoding arbitrary bytes returns an error or a row
// that re-encodes to the same bytes; it never panics.
func FuzzCodecDecode(f *testing.F) {
	c := NewCodec(fuzzLayout)
	f.Add(c.Append(nil, fuzzSeed(f)))
	f.Add(c.Append(nil, fuzzLayout.New()))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := c.Decode(b)
		if err != nil {
			return
		}
		_ = r.String()
		if again, err := c.Decode(c.Append(nil, r)); err != nil || again.String() != r.String() {
			t.Fatalf("re-decode: %v %v vs %v", err, again, r)
		}
	})
}

// FuzzKeyDecode: decoding arbitrary bytes as a key returns an error or
// fields that re-encode to the same key prefix; it never panics.
func FuzzKeyDecode(f *testing.F) {
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	enc := NewKeyEncoder(fuzzLayout, all)
	f.Add(enc.Append(nil, fuzzSeed(f)))
	f.Add(enc.Append(nil, fuzzLayout.New()))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := fuzzLayout.New()
		rest, err := enc.Decode(b, r)
		if err != nil {
			return
		}
		_ = r.String()
		_ = rest
	})
}
