package functions

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/sql/types"
)

// typedAdd feeds vs to acc through TypedAdder as the planner does.
func typedAdd(t *testing.T, a *Aggregate, acc Accumulator, vs []Value) {
	t.Helper()
	ta, ok := acc.(TypedAdder)
	if !ok {
		t.Fatalf("%s: accumulator %T is not a TypedAdder", a.Name, acc)
	}
	for _, v := range vs {
		switch {
		case len(a.Params) == 0:
			ta.AddInt(0, false)
		case a.Params[0].IsApproximate():
			ta.AddFloat(v.F, v.Null)
		default:
			ta.AddInt(v.I, v.Null)
		}
	}
}

// TestTypedAddersMatchAdd checks, on random inputs with NULLs, extremes
// and NaN, that the typed path gives the result and the state bytes the
// Value path gives, for each typed aggregate and argument type.
func TestTypedAddersMatchAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	argTypes := []types.Type{types.TinyIntType(), types.SmallIntType(), types.IntType(), types.BigIntType(), types.FloatType(), types.DoubleType()}
	ints := []int64{math.MinInt64, math.MaxInt64, math.MaxInt32, math.MinInt32, 127, -128, 0, -1, 1}
	floats := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, 1.5, -2.25}
	for _, fn := range []string{"COUNT", "SUM", "AVG", "MIN", "MAX"} {
		for _, at := range append(argTypes, types.Type{}) {
			var params []types.Type
			if at.Kind != 0 {
				params = []types.Type{at}
			} else if fn != "COUNT" {
				continue
			}
			a, err := Builtins().Aggregate(fn, params, false)
			if err != nil {
				t.Fatalf("%s(%v): %v", fn, at, err)
			}
			if !a.Typed() {
				t.Fatalf("%s(%v) is not Typed", fn, at)
			}
			for round := range 40 {
				vs := make([]Value, rng.IntN(6)) // includes empty groups
				for i := range vs {
					switch {
					case rng.IntN(4) == 0:
						vs[i] = Null()
					case at.IsApproximate():
						vs[i] = Float(floats[rng.IntN(len(floats))])
					default:
						x := ints[rng.IntN(len(ints))]
						if rng.IntN(2) == 0 {
							x = rng.Int64()
						}
						vs[i] = Int(wrap(x, intBits(at.Kind))) // a value of the column's type
					}
				}
				want, got := a.New(), a.New()
				for _, v := range vs {
					want.Add([]Value{v})
				}
				typedAdd(t, a, got, vs)
				w, g := want.Result(), got.Result()
				nan := math.IsNaN(w.F) && math.IsNaN(g.F) // NaN payloads may differ
				if w.Null != g.Null || w.I != g.I || (!nan && math.Float64bits(w.F) != math.Float64bits(g.F)) {
					t.Fatalf("%s(%v) round %d over %v: typed %+v, Add %+v", fn, at, round, vs, g, w)
				}
				if ws, gs := want.AppendState(nil), got.AppendState(nil); !nan && !bytes.Equal(ws, gs) {
					t.Fatalf("%s(%v) over %v: typed state %x, Add state %x", fn, at, vs, gs, ws)
				}
			}
		}
	}
}

// TestTypedAdders checks Flink's results on the typed path directly: SUM
// over only NULLs and MIN of an empty group are NULL, COUNT(x) skips
// NULLs, BIGINT and INT sums wrap as Java's long and int do, NaN is the
// largest DOUBLE.
func TestTypedAdders(t *testing.T) {
	bigT, intT, dblT := types.BigIntType(), types.IntType(), types.DoubleType()
	n := Null()
	for _, tc := range []struct {
		fn   string
		arg  []types.Type
		in   []Value
		want string
	}{
		{"SUM", []types.Type{bigT}, []Value{n, n}, "null : BIGINT"},
		{"SUM", []types.Type{bigT}, []Value{Int(math.MaxInt64), Int(1)}, "-9223372036854775808 : BIGINT"},
		{"SUM", []types.Type{intT}, []Value{Int(math.MaxInt32), Int(1)}, "-2147483648 : INT"},
		{"SUM", []types.Type{dblT}, []Value{Float(0.5), n, Float(0.25)}, "0.75 : DOUBLE"},
		{"AVG", []types.Type{bigT}, []Value{Int(1), Int(2), n}, "1 : BIGINT"},
		{"AVG", []types.Type{bigT}, []Value{n}, "null : BIGINT"},
		{"MIN", []types.Type{bigT}, nil, "null : BIGINT"},
		{"MIN", []types.Type{bigT}, []Value{n, Int(3), Int(-7), n}, "-7 : BIGINT"},
		{"MAX", []types.Type{bigT}, []Value{Int(math.MinInt64), n}, "-9223372036854775808 : BIGINT"},
		{"MAX", []types.Type{dblT}, []Value{Float(1), Float(math.NaN()), Float(2)}, "NaN : DOUBLE"},
		{"MIN", []types.Type{dblT}, []Value{Float(math.NaN()), Float(2)}, "2.0 : DOUBLE"},
		{"COUNT", []types.Type{bigT}, []Value{n, Int(1), n}, "1 : BIGINT NOT NULL"},
		{"COUNT", nil, []Value{n, Int(1), n}, "3 : BIGINT NOT NULL"},
		{"COUNT", nil, nil, "0 : BIGINT NOT NULL"},
	} {
		a, err := Builtins().Aggregate(tc.fn, tc.arg, false)
		if err != nil {
			t.Fatal(err)
		}
		acc := a.New()
		typedAdd(t, a, acc, tc.in)
		if got := showAgg(a, acc.Result()); got != tc.want {
			t.Errorf("%s(%v) over %v = %s, want %s", tc.fn, tc.arg, tc.in, got, tc.want)
		}
	}
}

func TestTypedOnlyWhereSupported(t *testing.T) {
	for _, tc := range []struct {
		fn       string
		arg      []types.Type
		distinct bool
	}{
		{"SUM", []types.Type{types.DecimalType(10, 2)}, false},
		{"MIN", []types.Type{types.StringType()}, false},
		{"COUNT", []types.Type{types.BigIntType()}, true},
		{"FIRST_VALUE", []types.Type{types.BigIntType()}, false},
	} {
		a, err := Builtins().Aggregate(tc.fn, tc.arg, tc.distinct)
		if err != nil {
			t.Fatal(err)
		}
		if a.Typed() {
			t.Errorf("%s(%v, distinct=%v) claims a typed path", tc.fn, tc.arg, tc.distinct)
		}
	}
}
