package functions

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

func showAgg(a *Aggregate, v Value) string {
	return string(row.AppendJava(nil, a.Result, ToAny(a.Result, v))) + " : " + a.Result.String()
}

func ints(vs ...any) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		if v == nil {
			out[i] = Null()
		} else {
			out[i] = Int(int64(v.(int)))
		}
	}
	return out
}

func decs(vs ...string) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		if v == "" {
			out[i] = Null()
		} else {
			out[i] = Dec(row.MustDecimal(v))
		}
	}
	return out
}

func strs(vs ...string) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		if v == "<null>" {
			out[i] = Null()
		} else {
			out[i] = Str(v)
		}
	}
	return out
}

// TestAggregates checks results and result types against Flink's
// documented behaviour: NULLs are ignored, an empty input gives NULL
// (COUNT gives 0), SUM and AVG of INT stay INT (AVG divides as integers),
// DECIMAL sums widen to precision 38.
func TestAggregates(t *testing.T) {
	intT, decT := types.IntType(), types.DecimalType(10, 2)
	for _, tc := range []struct {
		fn       string
		arg      []types.Type
		distinct bool
		in       []Value
		want     string
	}{
		{"COUNT", nil, false, ints(1, nil, 3), "3 : BIGINT NOT NULL"},
		{"COUNT", []types.Type{intT}, false, ints(1, nil, 3), "2 : BIGINT NOT NULL"},
		{"COUNT", []types.Type{intT}, false, nil, "0 : BIGINT NOT NULL"},
		{"COUNT", []types.Type{intT}, true, ints(1, 1, nil, 3, 3, 3), "2 : BIGINT NOT NULL"},
		{"SUM", []types.Type{intT}, false, ints(1, nil, 3), "4 : INT"},
		{"SUM", []types.Type{intT}, false, ints(nil, nil), "null : INT"},
		{"SUM", []types.Type{intT}, false, ints(2147483647, 1), "-2147483648 : INT"},
		{"SUM", []types.Type{intT}, true, ints(2, 2, 5), "7 : INT"},
		{"SUM", []types.Type{decT}, false, decs("1.10", "2.25", ""), "3.35 : DECIMAL(38, 2)"},
		{"SUM", []types.Type{types.DecimalType(38, 0)}, false, decs(strings.Repeat("9", 38), "1", "-5"), "null : DECIMAL(38, 0)"},
		{"SUM", []types.Type{types.DoubleType()}, false, []Value{Float(0.5), Float(0.25)}, "0.75 : DOUBLE"},
		{"AVG", []types.Type{intT}, false, ints(1, 2, 2, nil), "1 : INT"},
		{"AVG", []types.Type{intT}, false, ints(2147483647, 2147483647), "2147483647 : INT"},
		{"AVG", []types.Type{decT}, false, decs("1.00", "2.00", "2.00"), "1.666667 : DECIMAL(38, 6)"},
		{"AVG", []types.Type{types.DoubleType()}, false, []Value{Float(1), Float(2)}, "1.5 : DOUBLE"},
		{"AVG", []types.Type{intT}, false, nil, "null : INT"},
		{"MIN", []types.Type{intT}, false, ints(3, nil, -1, 2), "-1 : INT"},
		{"MAX", []types.Type{types.StringType()}, false, strs("b", "<null>", "c", "a"), "c : STRING"},
		{"MAX", []types.Type{intT}, false, ints(nil), "null : INT"},
		{"FIRST_VALUE", []types.Type{intT}, false, ints(nil, 4, 5), "4 : INT"},
		{"LAST_VALUE", []types.Type{intT}, false, ints(4, 5, nil), "5 : INT"},
		{"LISTAGG", []types.Type{types.StringType()}, false, strs("a", "<null>", "b"), "a,b : STRING"},
		{"LISTAGG", []types.Type{types.StringType()}, true, strs("a", "b", "a"), "a,b : STRING"},
		{"LISTAGG", []types.Type{types.StringType()}, false, nil, "null : STRING"},
	} {
		a, err := Builtins().Aggregate(tc.fn, tc.arg, tc.distinct)
		if err != nil {
			t.Fatalf("%s: %v", tc.fn, err)
		}
		acc := a.New()
		for _, v := range tc.in {
			acc.Add([]Value{v})
		}
		if got := showAgg(a, acc.Result()); got != tc.want {
			t.Errorf("%s(%v distinct=%v) over %v = %s, want %s", tc.fn, tc.arg, tc.distinct, tc.in, got, tc.want)
		}
	}
}

func TestListAggSeparator(t *testing.T) {
	a, err := Builtins().Aggregate("LISTAGG", []types.Type{types.StringType(), types.CharType(1)}, false)
	if err != nil {
		t.Fatal(err)
	}
	acc := a.New()
	for _, s := range []string{"x", "y", "z"} {
		acc.Add([]Value{Str(s), Str(";")})
	}
	if got := acc.Result().S; got != "x;y;z" {
		t.Fatalf("got %q", got)
	}
}

func TestAggregateErrors(t *testing.T) {
	for _, tc := range []struct {
		fn   string
		arg  []types.Type
		want string
	}{
		{"SUMM", []types.Type{types.IntType()}, "did you mean SUM?"},
		{"SUM", []types.Type{types.StringType()}, "Cannot apply 'SUM' to arguments of type 'SUM(<STRING>)'"},
		{"UPPER", []types.Type{types.StringType()}, "UPPER is not an aggregate function"},
		{"LISTAG", []types.Type{types.StringType()}, "did you mean LISTAGG?"},
	} {
		_, err := Builtins().Aggregate(tc.fn, tc.arg, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.fn, err, tc.want)
		}
	}
}

// TestAggregateMergeAndState checks, over random input, that
// accumulating slices separately, passing each through its serialised
// state, and merging them in order gives the result of accumulating the
// whole input at once (what HOP and CUMULATE windows rely on).
func TestAggregateMergeAndState(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	type gen func() Value
	null := func(g gen) gen {
		return func() Value {
			if rng.IntN(5) == 0 {
				return Null()
			}
			return g()
		}
	}
	intGen := null(func() Value { return Int(rng.Int64N(21) - 10) })
	decGen := null(func() Value { return Dec(row.NewDecimal(rng.Int64N(2_000_001)-1_000_000, 2)) })
	strGen := null(func() Value { return Str(string(rune('a' + rng.IntN(5)))) })
	dblGen := null(func() Value { return Float(float64(rng.IntN(100)) / 4) })
	cases := []struct {
		fn  string
		t   types.Type
		gen gen
	}{
		{"COUNT", types.IntType(), intGen}, {"SUM", types.IntType(), intGen}, {"SUM", types.DecimalType(10, 2), decGen},
		{"SUM", types.DoubleType(), dblGen}, {"AVG", types.IntType(), intGen}, {"AVG", types.DecimalType(10, 2), decGen},
		{"MIN", types.StringType(), strGen}, {"MAX", types.DecimalType(10, 2), decGen}, {"FIRST_VALUE", types.IntType(), intGen},
		{"LAST_VALUE", types.StringType(), strGen}, {"LISTAGG", types.StringType(), strGen},
	}
	for _, c := range cases {
		for _, distinct := range []bool{false, true} {
			if distinct && (c.fn == "FIRST_VALUE" || c.fn == "LAST_VALUE") {
				continue
			}
			a, err := Builtins().Aggregate(c.fn, []types.Type{c.t}, distinct)
			if err != nil {
				t.Fatal(err)
			}
			for range 30 {
				in := make([]Value, rng.IntN(40))
				for i := range in {
					in[i] = c.gen()
				}
				whole := a.New()
				for _, v := range in {
					whole.Add([]Value{v})
				}
				merged := a.New()
				for start := 0; start <= len(in); {
					// Slices of 0..7 rows; empty ones merge as no-ops.
					end := min(len(in), start+rng.IntN(8))
					slice := a.New()
					for _, v := range in[start:end] {
						slice.Add([]Value{v})
					}
					restored := a.New()
					if err := restored.DecodeState(slice.AppendState(nil)); err != nil {
						t.Fatalf("%s distinct=%v: decode state: %v", c.fn, distinct, err)
					}
					merged.Merge(restored)
					if start == len(in) {
						break
					}
					start = end
				}
				if g, w := showAgg(a, merged.Result()), showAgg(a, whole.Result()); g != w {
					t.Fatalf("%s(%s) distinct=%v over %v: merged %s, whole %s", c.fn, c.t, distinct, in, g, w)
				}
				whole.Reset()
				if g, w := showAgg(a, whole.Result()), showAgg(a, a.New().Result()); g != w {
					t.Fatalf("%s: after Reset %s, want %s", c.fn, g, w)
				}
			}
		}
	}
}

func TestAggregateAddDoesNotAllocate(t *testing.T) {
	for _, c := range []struct {
		fn string
		t  types.Type
		v  Value
	}{
		{"COUNT", types.IntType(), Int(1)},
		{"SUM", types.BigIntType(), Int(7)},
		{"SUM", types.DecimalType(10, 2), Dec(row.NewDecimal(125, 2))},
		{"SUM", types.DoubleType(), Float(1.5)},
		{"AVG", types.IntType(), Int(7)},
		{"MIN", types.StringType(), Str("abc")},
		{"MAX", types.TimestampType(3), TS(row.TimestampFromMillis(5))},
		{"FIRST_VALUE", types.IntType(), Int(1)},
		{"LAST_VALUE", types.StringType(), Str("x")},
	} {
		a, err := Builtins().Aggregate(c.fn, []types.Type{c.t}, false)
		if err != nil {
			t.Fatal(err)
		}
		acc := a.New()
		args := []Value{c.v}
		if n := testing.AllocsPerRun(200, func() { acc.Add(args) }); n != 0 {
			t.Errorf("%s(%s): %v allocations per Add", c.fn, c.t, n)
		}
	}
}

func BenchmarkSumDecimalAdd(b *testing.B) {
	a, _ := Builtins().Aggregate("SUM", []types.Type{types.DecimalType(10, 2)}, false)
	acc := a.New()
	args := []Value{Dec(row.NewDecimal(12345, 2))}
	b.ReportAllocs()
	for b.Loop() {
		acc.Add(args)
	}
}

func BenchmarkAvgIntAdd(b *testing.B) {
	a, _ := Builtins().Aggregate("AVG", []types.Type{types.IntType()}, false)
	acc := a.New()
	args := []Value{Int(42)}
	b.ReportAllocs()
	for b.Loop() {
		acc.Add(args)
	}
}

// TestAggregateRetract checks, over random sequences of adds and
// retractions, that COUNT, SUM and AVG equal the aggregate of the rows
// still present, and which aggregates retract at all.
func TestAggregateRetract(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 4))
	for _, c := range []struct {
		fn string
		t  types.Type
	}{
		{"COUNT", types.IntType()}, {"SUM", types.IntType()}, {"SUM", types.DecimalType(12, 3)},
		{"AVG", types.BigIntType()}, {"AVG", types.DecimalType(12, 3)},
	} {
		a, err := Builtins().Aggregate(c.fn, []types.Type{c.t}, false)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			acc := a.New()
			var live []Value
			for range rng.IntN(60) {
				if len(live) > 0 && rng.IntN(3) == 0 {
					k := rng.IntN(len(live))
					acc.(Retractor).Retract([]Value{live[k]})
					live = append(live[:k], live[k+1:]...)
					continue
				}
				var v Value
				switch {
				case rng.IntN(5) == 0:
					v = Null()
				case c.t.Kind == types.Decimal:
					v = Dec(row.NewDecimal(rng.Int64N(2e6)-1e6, 3))
				default:
					v = Int(rng.Int64N(2e6) - 1e6)
				}
				acc.Add([]Value{v})
				live = append(live, v)
			}
			fresh := a.New()
			for _, v := range live {
				fresh.Add([]Value{v})
			}
			if g, w := showAgg(a, acc.Result()), showAgg(a, fresh.Result()); g != w {
				t.Fatalf("%s(%s) with retractions = %s, over the live rows = %s", c.fn, c.t, g, w)
			}
		}
	}
	for _, fn := range []string{"MIN", "MAX", "FIRST_VALUE", "LAST_VALUE", "LISTAGG"} {
		a, _ := Builtins().Aggregate(fn, []types.Type{types.StringType()}, false)
		if _, ok := a.New().(Retractor); ok {
			t.Errorf("%s claims to retract", fn)
		}
	}
	d, _ := Builtins().Aggregate("COUNT", []types.Type{types.IntType()}, true)
	if _, ok := d.New().(Retractor); ok {
		t.Error("COUNT(DISTINCT) claims to retract")
	}
}
