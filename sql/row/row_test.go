package row

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/sql/types"
	"github.com/sluicehq/sluice/state"
)

var keyTypes = []types.Type{
	types.BigIntType(),
	types.IntType(),
	types.DoubleType(),
	types.DecimalType(10, 2),
	types.DecimalType(30, 4),
	types.StringType(),
	types.TimestampType(3),
	types.TimestampType(6),
	types.BooleanType(),
	types.ArrayType(types.IntType()),
}

func randValue(rng *rand.Rand, t types.Type) any {
	if rng.IntN(6) == 0 {
		return nil
	}
	switch t.Kind {
	case types.Boolean:
		return rng.IntN(2) == 1
	case types.BigInt:
		return []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, rng.Int64() - rng.Int64()}[rng.IntN(6)]
	case types.Int:
		return int64(rng.Int32N(20) - 10)
	case types.Double:
		return []float64{math.Inf(-1), -1.5, math.Copysign(0, -1), 0, 2.25, math.Inf(1), math.NaN(), rng.NormFloat64() * 1e6}[rng.IntN(8)]
	case types.Decimal:
		if t.Precision > 18 {
			u, _ := ParseDecimal(strings.Repeat("9", 1+rng.IntN(26)))
			if rng.IntN(2) == 0 {
				u = u.Neg()
			}
			return DecimalFromBig(u.Unscaled(), t.Scale)
		}
		return NewDecimal(rng.Int64N(2e9)-1e9, t.Scale)
	case types.VarChar:
		alpha := []string{"", "a", "b", "\x00", "\xff", "ab"}
		var b strings.Builder
		for n := rng.IntN(4); n > 0; n-- {
			b.WriteString(alpha[rng.IntN(len(alpha))])
		}
		return b.String()
	case types.Timestamp:
		ts := Timestamp{Millis: rng.Int64N(1e13) - 5e12}
		if t.Precision > 3 {
			ts.Nanos = int32(rng.IntN(1e6))
		}
		return ts
	case types.Array:
		a := make([]any, rng.IntN(3))
		for i := range a {
			a[i] = randValue(rng, *t.Elem)
		}
		return a
	}
	panic(t.String())
}

// cmpValue is SQL ascending order with NULLs first and NaN last.
func cmpValue(t types.Type, a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch t.Kind {
	case types.Boolean:
		x, y := a.(bool), b.(bool)
		if x == y {
			return 0
		} else if !x {
			return -1
		}
		return 1
	case types.BigInt, types.Int:
		return cmpInt(a.(int64), b.(int64))
	case types.Double:
		x, y := a.(float64), b.(float64)
		switch {
		case math.IsNaN(x) && math.IsNaN(y):
			return 0
		case math.IsNaN(x):
			return 1
		case math.IsNaN(y):
			return -1
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case types.Decimal:
		return a.(Decimal).Cmp(b.(Decimal))
	case types.VarChar:
		return strings.Compare(a.(string), b.(string))
	case types.Timestamp:
		return a.(Timestamp).Compare(b.(Timestamp))
	case types.Array:
		x, y := a.([]any), b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := cmpValue(*t.Elem, x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmpInt(int64(len(x)), int64(len(y)))
	}
	panic(t.String())
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestKeyOrder checks, over random rows, that the byte order of keys is the
// SQL order of the field tuples, that equal tuples give equal keys, and
// that keys decode back to the fields.
func TestKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	l := NewLayout(keyTypes, nil)
	for _, fields := range [][]int{{0}, {1, 5}, {2}, {3}, {4}, {5, 1}, {6, 7}, {8, 9}, {9, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		enc := NewKeyEncoder(l, fields)
		kl, _ := l.Project(fields)
		rows := make([]*Row, 200)
		keys := make([][]byte, len(rows))
		for i := range rows {
			vs := make([]any, len(keyTypes))
			for j, kt := range keyTypes {
				vs[j] = randValue(rng, kt)
			}
			r, err := l.Of(Insert, vs...)
			if err != nil {
				t.Fatal(err)
			}
			rows[i], keys[i] = r, enc.Append(nil, r)
			back := kl.New()
			rest, err := enc.Decode(keys[i], back)
			if err != nil || len(rest) != 0 {
				t.Fatalf("fields %v: decode %x: %v (%d left)", fields, keys[i], err, len(rest))
			}
			for j, f := range fields {
				if cmpValue(keyTypes[f], back.Get(j), r.Get(f)) != 0 {
					t.Fatalf("fields %v: field %d decoded %v, want %v", fields, f, back.Get(j), r.Get(f))
				}
			}
		}
		for i := range rows {
			for j := range rows {
				want := 0
				for _, f := range fields {
					if want = cmpValue(keyTypes[f], rows[i].Get(f), rows[j].Get(f)); want != 0 {
						break
					}
				}
				if got := bytes.Compare(keys[i], keys[j]); got != want {
					t.Fatalf("fields %v: key order %d, value order %d:\n%v\n%v", fields, got, want, rows[i], rows[j])
				}
			}
		}
	}
}

func TestKeyDeterministic(t *testing.T) {
	l := NewLayout([]types.Type{types.DecimalType(10, 2), types.DoubleType(), types.MapType(types.StringType(), types.IntType())}, nil)
	a, _ := l.Of(Insert, MustDecimal("1.1"), 0.0, &MapValue{Keys: []any{"a", "b"}, Values: []any{int64(1), int64(2)}})
	b, _ := l.Of(Insert, MustDecimal("1.100"), math.Copysign(0, -1), &MapValue{Keys: []any{"b", "a"}, Values: []any{int64(2), int64(1)}})
	enc := NewKeyEncoder(l, []int{0, 1, 2})
	if ka, kb := enc.Append(nil, a), enc.Append(nil, b); !bytes.Equal(ka, kb) {
		t.Fatalf("equal values, different keys:\n%x\n%x", ka, kb)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	inner := types.RowType(types.NewField("x", types.IntType()), types.NewField("s", types.StringType()))
	ts := append(slices.Clone(keyTypes), inner, types.MapType(types.StringType(), types.DoubleType()),
		types.TimestampLTZType(9), types.DateType())
	l := NewLayout(ts, nil)
	il := NewRowLayout(inner)
	c := NewCodec(l)
	for range 500 {
		vs := make([]any, len(ts))
		for j, kt := range keyTypes {
			vs[j] = randValue(rng, kt)
		}
		n := len(keyTypes)
		if rng.IntN(3) > 0 {
			vs[n], _ = il.Of(Insert, int64(rng.IntN(9)), "s")
		}
		if rng.IntN(3) > 0 {
			vs[n+1] = &MapValue{Keys: []any{"k"}, Values: []any{rng.Float64()}}
		}
		vs[n+2] = Timestamp{Millis: rng.Int64N(1e12), Nanos: int32(rng.IntN(1e6))}
		vs[n+3] = int64(rng.IntN(30000))
		r, err := l.Of(Kind(rng.IntN(4)), vs...)
		if err != nil {
			t.Fatal(err)
		}
		enc := c.Append(nil, r)
		back, err := c.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := back.String(), r.String(); got != want {
			t.Fatalf("round trip:\n got %s\nwant %s", got, want)
		}
		if _, err := c.Decode(enc[:len(enc)-1]); err == nil && len(enc) > 3 {
			// A truncated encoding may still decode only if the last
			// field was a fixed-length one cut to a shorter valid form,
			// which the format does not allow.
			t.Fatalf("truncated encoding decoded: %x", enc)
		}
	}
}

// TestPrint follows Flink's print connector (Row.toString of the external
// types), e.g. +I[1, 1.5, 2024-01-01T10:20:30.500, ...].
func TestPrint(t *testing.T) {
	ts := []types.Type{types.IntType(), types.DoubleType(), types.TimestampType(3), types.TimestampLTZType(3),
		types.DecimalType(10, 2), types.StringType(), types.DateType(), types.TimeType(0), types.BooleanType(),
		types.ArrayType(types.IntType()), types.MapType(types.StringType(), types.BigIntType()), types.BytesType(),
		types.DoubleType(), types.FloatType(), types.YearMonthInterval(types.ResYearToMonth, 2),
		types.DayTimeInterval(types.ResDayToSecond, 2, 3), types.DecimalType(10, 8)}
	l := NewLayout(ts, nil)
	r, err := l.Of(UpdateAfter, int64(1), 1.5, Timestamp{Millis: 1704104430500}, Timestamp{Millis: 1704104400000},
		MustDecimal("12.3"), "abc", DateFromCivil(2024, 1, 1), int64(12*3600+30*60)*1e9, true,
		[]any{int64(1), nil}, &MapValue{Keys: []any{"a"}, Values: []any{int64(7)}}, "\x01\xff",
		1e7, 0.1, int64(14), int64(3600_000*8+6*60_000+12_345), MustDecimal("0.00000001"))
	if err != nil {
		t.Fatal(err)
	}
	want := "+U[1, 1.5, 2024-01-01T10:20:30.500, 2024-01-01T10:20:00Z, 12.30, abc, 2024-01-01, 12:30, true, [1, null], {a=7}, [1, -1], 1.0E7, 0.1, P1Y2M, PT8H6M12.345S, 1E-8]"
	if got := r.String(); got != want {
		t.Errorf("print:\n got %s\nwant %s", got, want)
	}
	nulls := l.New()
	nulls.Kind = Delete
	if got := nulls.String(); !strings.HasPrefix(got, "-D[null, null,") {
		t.Errorf("print nulls: %s", got)
	}
}

func TestJSON(t *testing.T) {
	inner := types.RowType(types.NewField("city", types.StringType()), types.NewField("zip", types.IntType()))
	l := NewRowLayout(types.RowType(
		types.NewField("id", types.BigIntType()),
		types.NewField("price", types.DecimalType(10, 2)),
		types.NewField("ts", types.TimestampType(3)),
		types.NewField("ltz", types.TimestampLTZType(3)),
		types.NewField("tags", types.ArrayType(types.StringType())),
		types.NewField("addr", inner),
		types.NewField("raw", types.StringType()),
		types.NewField("ok", types.BooleanType()),
		types.NewField("d", types.DateType()),
		types.NewField("missing", types.IntType()),
	))
	r, err := l.FromJSON([]byte(`{"id": "42", "price": 12.345, "ts": "2024-01-02 03:04:05.6",
		"ltz": "2024-01-02T03:04:05Z", "tags": ["a", null], "addr": {"city": "Oslo", "zip": 150},
		"raw": {"x": [1]}, "ok": true, "d": "2024-02-29", "extra": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), "+I[42, 12.35, 2024-01-02T03:04:05.600, 2024-01-02T03:04:05Z, [a, null], +I[Oslo, 150], {\"x\":[1]}, true, 2024-02-29, null]"; got != want {
		t.Errorf("from JSON:\n got %s\nwant %s", got, want)
	}
	if got, want := string(r.AppendJSON(nil)), `{"id":42,"price":12.35,"ts":"2024-01-02 03:04:05.6","ltz":"2024-01-02 03:04:05Z","tags":["a",null],"addr":{"city":"Oslo","zip":150},"raw":"{\"x\":[1]}","ok":true,"d":"2024-02-29","missing":null}`; got != want {
		t.Errorf("to JSON:\n got %s\nwant %s", got, want)
	}
	for _, tc := range []struct{ in, path, msg string }{
		{`{"addr": {"zip": "x"}}`, "addr.zip", `cannot parse "x" as INT`},
		{`{"tags": [1, {"a": 1}]}`, "", ""}, // a STRING takes any JSON
		{`{"id": 1.5}`, "id", `cannot parse "1.5" as BIGINT`},
		{`{"price": 123456789.1}`, "price", "does not fit the precision"},
		{`{"d": "2023-02-29"}`, "d", `cannot parse "2023-02-29" as DATE`},
		{`{"addr": [1]}`, "addr", "expected an object, got an array"},
	} {
		_, err := l.FromJSON([]byte(tc.in))
		if tc.path == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%s: got %v, want field %s: %s", tc.in, err, tc.path, tc.msg)
		}
	}
}

func TestDecimal(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{MustDecimal("1.005").Rescale(2).String(), "1.01"},
		{MustDecimal("-1.005").Rescale(2).String(), "-1.01"},
		{MustDecimal("2.5").Rescale(0).String(), "3"},
		{MustDecimal("1.5e3").String(), "1500"},
		{MustDecimal("99999999999999999999.99").Add(MustDecimal("0.01")).String(), "100000000000000000000.00"},
		{MustDecimal("9223372036854775807").Add(MustDecimal("1")).String(), "9223372036854775808"},
		{MustDecimal("0.1").Mul(MustDecimal("0.2")).String(), "0.02"},
		{must(MustDecimal("1").Quo(MustDecimal("3"), 6)).String(), "0.333333"},
		{must(MustDecimal("-7").Rem(MustDecimal("2"))).String(), "-1"},
		{MustDecimal("1.50").Normalize().String(), "1.5"},
		{MustDecimal("0.0000001").JavaString(), "1E-7"},
		{MustDecimal("-1.25").Floor(1).String(), "-1.3"},
		{MustDecimal("1.21").Ceil(1).String(), "1.3"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	if _, ok := MustDecimal("123.4").ToPrecision(4, 2); ok {
		t.Error("123.40 fits DECIMAL(4, 2)")
	}
	if _, err := MustDecimal("1").Quo(Decimal{}, 2); !errors.Is(err, ErrDivideByZero) {
		t.Errorf("divide by zero: %v", err)
	}
}

func must(d Decimal, err error) Decimal {
	if err != nil {
		panic(err)
	}
	return d
}

func TestSetDecimalOverflowIsNull(t *testing.T) {
	l := NewLayout([]types.Type{types.DecimalType(3, 1), types.DecimalType(20, 0)}, nil)
	r := l.New()
	r.SetDecimal(0, MustDecimal("99.95")) // rounds to 100.0: 4 digits
	r.SetDecimal(1, MustDecimal("123456789012345678901"))
	if !r.IsNull(0) || !r.IsNull(1) {
		t.Fatalf("overflowing decimals not NULL: %v", r)
	}
	r.SetDecimal(0, MustDecimal("99.94"))
	if r.Decimal(0).String() != "99.9" {
		t.Fatalf("got %v", r.Decimal(0))
	}
}

func BenchmarkKeyEncode(b *testing.B) {
	l := NewLayout([]types.Type{types.BigIntType(), types.StringType(), types.TimestampType(3), types.DoubleType()}, nil)
	r, _ := l.Of(Insert, int64(12345), "user-42", Timestamp{Millis: 1704104430500}, 2.5)
	enc := NewKeyEncoder(l, []int{0, 1, 2, 3})
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Append(buf[:0], r)
	}
}

func TestKeyEncodeDoesNotAllocate(t *testing.T) {
	l := NewLayout([]types.Type{types.BigIntType(), types.StringType(), types.TimestampType(6), types.DecimalType(12, 2)}, nil)
	r, _ := l.Of(Insert, int64(12345), "user-42", Timestamp{Millis: 1704104430500, Nanos: 7}, MustDecimal("1.25"))
	enc := NewKeyEncoder(l, []int{0, 1, 2, 3})
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = enc.Append(buf[:0], r) }); n != 0 {
		t.Fatalf("%v allocations per key", n)
	}
}

// Codec is the state codec of rows.
var _ state.Codec[*Row] = Codec{}

func TestInstantOfDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	for _, tc := range []struct{ local, want string }{
		{"2024-03-10 01:30:00", "2024-03-10 06:30:00"}, // EST
		{"2024-03-10 02:30:00", "2024-03-10 07:30:00"}, // in the gap: 03:30 EDT
		{"2024-03-10 03:30:00", "2024-03-10 07:30:00"}, // EDT
		{"2024-11-03 01:30:00", "2024-11-03 05:30:00"}, // overlap: the earlier, EDT
		{"2024-11-03 02:30:00", "2024-11-03 07:30:00"}, // EST
		{"2024-07-01 12:00:00", "2024-07-01 16:00:00"},
	} {
		l, _ := ParseTimestamp(tc.local)
		w, _ := ParseTimestamp(tc.want)
		if got := InstantOf(l, ny); got != w {
			t.Errorf("InstantOf(%s) = %s, want %s", tc.local, AppendTimestampSQL(nil, got, 0), tc.want)
		}
		if got := LocalOf(InstantOf(l, ny), ny); tc.local != "2024-03-10 02:30:00" && got != l {
			t.Errorf("LocalOf(InstantOf(%s)) = %s", tc.local, AppendTimestampSQL(nil, got, 0))
		}
	}
}

// TestAllocatorRowsAreIndependent: rows from an Allocator start all-NULL,
// are distinct, and writing (or appending to) one never shows in another,
// within a batch and across batches.
func TestAllocatorRowsAreIndependent(t *testing.T) {
	l := NewLayout([]types.Type{types.BigIntType(), types.VarCharType(5), types.DoubleType()}, nil)
	a := l.NewAllocator(3)
	var rows []*Row
	for i := range 10 {
		r := a.New()
		for f := range 3 {
			if !r.IsNull(f) {
				t.Fatalf("row %d field %d not NULL when new", i, f)
			}
		}
		r.SetInt(0, int64(i))
		r.SetStr(1, fmt.Sprint(i))
		r.SetFloat(2, float64(i)/2)
		_ = append(r.W, 99) // must not write into the next row
		_ = append(r.S, "x")
		rows = append(rows, r)
	}
	for i, r := range rows {
		if r.Int(0) != int64(i) || r.Str(1) != fmt.Sprint(i) || r.Float(2) != float64(i)/2 {
			t.Fatalf("row %d overwritten: %s", i, r.AppendJava(nil))
		}
		for j := range i {
			if rows[j] == r {
				t.Fatalf("rows %d and %d are one row", j, i)
			}
		}
	}
}

// TestRecyclerCycle: released rows come back from a Cache reset (all
// NULL, kind Insert, the recycler's layout), rows from elsewhere are not
// taken, and a row is never handed out twice before it is released.
func TestRecyclerCycle(t *testing.T) {
	l := NewLayout([]types.Type{types.BigIntType(), types.VarCharType(5)}, nil)
	other := NewLayout([]types.Type{types.BigIntType(), types.VarCharType(5)}, []string{"a", "b"})
	rec := l.NewRecycler()
	cache := rec.NewCache()
	var z Releaser
	out := map[*Row]bool{}
	for round := range 5 {
		var got []*Row
		for i := range 600 {
			r := cache.Get()
			if out[r] {
				t.Fatalf("round %d: row handed out twice", round)
			}
			if r.L != l || r.Kind != Insert || !r.IsNull(0) || !r.IsNull(1) || r.Int(0) != 0 || r.Str(1) != "" {
				t.Fatalf("round %d: row not reset: %s kind %v", round, r.AppendJava(nil), r.Kind)
			}
			out[r] = true
			r.SetInt(0, int64(i))
			r.SetStr(1, "x")
			r.Kind, r.L = Delete, other
			got = append(got, r)
		}
		for _, r := range got {
			delete(out, r)
			z.Add(r)
		}
		z.Add(l.New()) // not from a recycler: ignored
		z.Flush()
	}
}
