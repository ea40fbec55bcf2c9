package planner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// TestTypedMatchesGeneric compiles each expression twice, with typed
// closures and constant folding and without (the generic path over
// functions.Value), evaluates both on rows of edge values and NULLs, and
// requires the same value, NULL and error for every row, through each
// way the planner reads a result: the evalFn, a setter into a row (the
// calc's projection), and a predicate (WHERE).
func TestTypedMatchesGeneric(t *testing.T) {
	sc := &scope{
		names: []string{"a", "b", "c", "e", "d", "f", "s", "t", "u"},
		types: []types.Type{types.BigIntType(), types.IntType(), types.TinyIntType(), types.SmallIntType(),
			types.DoubleType(), types.FloatType(), types.VarCharType(10), types.BooleanType(), types.BooleanType()},
	}
	exprs := []string{
		"a * 2 + 1", "a % 2 = 0", "b % 3", "MOD(a, b)", "MOD(b, -1)", "a / b", "b / c", "a / 0", "-a", "-b", "-c",
		"c + c", "c * 100", "b * b", "a - b", "e * e", "a + 1.5", "NULL + a", "a + CAST(NULL AS BIGINT)",
		"d * 2.5e0", "d / f", "f + f", "f * 3", "-d", "d + a", "d = f", "d <> d", "d < 1.0e0", "d >= -0.0e0",
		"a > b", "a <= 5", "c >= e", "b = 7", "s = 'a'", "s < 'b'", "s <> s", "s >= 'ab'",
		"t AND u", "t OR u", "NOT t", "t AND u AND a > 0", "t OR u OR b < 0", "t OR NULL", "t AND NULL",
		"t IS NULL", "s IS NOT NULL", "d IS NULL", "t IS TRUE", "t IS NOT TRUE", "u IS FALSE", "u IS NOT FALSE",
		"(a > 0) IS TRUE", "CAST(a AS INT)", "CAST(d AS BIGINT)", "CAST(a AS DOUBLE)", "CAST(d AS FLOAT)",
		"CAST(b AS TINYINT)", "TRY_CAST(d AS INT)", "CAST(t AS INT)", "CAST(b AS FLOAT)", "CAST(f AS DOUBLE)",
		"a BETWEEN b AND 10", "b NOT BETWEEN SYMMETRIC 5 AND -5", "b IN (1, 2, NULL)", "a NOT IN (0, 1)",
		"CASE WHEN t THEN a ELSE b END", "CASE b WHEN 1 THEN 'one' WHEN 2 THEN 'two' END",
		"a / b > 0 OR t", "t AND a / b > 0", "NOT (a / b = 1)", "(a / b) = (a / b)", "CAST(1 AS BIGINT) + a",
		"2 * 3 + b", "1 / 0 + a", "a * a * a", "c * c * c * c", "CHAR_LENGTH(s) + 1", "UPPER(s) = 'A'",
		"CONCAT(s, 'x')", "b + c + e + a", "s || 'x'", "s || s || s", "'a' || s", "s || NULL", "CAST(a AS STRING) || s", "(s || 'x') = 'ax'",
		"TO_TIMESTAMP_LTZ(a, 3)", "TO_TIMESTAMP_LTZ(b * 10 - MOD(b, 7), 3)", "TO_TIMESTAMP_LTZ(c, 0)", "TO_TIMESTAMP_LTZ(e)",
		"TO_TIMESTAMP_LTZ(a, 3) < TO_TIMESTAMP_LTZ(b, 3)",
	}
	ints := []int64{0, 1, -1, 2, 3, 7, -5, 127, -128, 128, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 1.5, -2.25, 1e300, -1e300, math.Inf(1), math.Inf(-1), math.NaN(), 3e38, 0.1}
	strs := []string{"", "a", "A", "ab", "b", "abc"}
	l := row.NewLayout(sc.types, sc.names)
	rnd := rand.New(rand.NewPCG(1, 2))
	rows := make([]*row.Row, 600)
	for k := range rows {
		r := l.New()
		for i, ty := range sc.types {
			if rnd.IntN(6) == 0 {
				continue // NULL
			}
			switch classOf(ty) {
			case classFloat:
				r.SetFloat(i, floats[rnd.IntN(len(floats))])
			case classStr:
				r.SetStr(i, strs[rnd.IntN(len(strs))])
			default:
				v := ints[rnd.IntN(len(ints))]
				switch ty.Kind {
				case types.Boolean:
					v &= 1
				case types.TinyInt:
					v = int64(int8(v))
				case types.SmallInt:
					v = int64(int16(v))
				case types.Int:
					v = int64(int32(v))
				}
				r.SetInt(i, v)
			}
		}
		rows[k] = r
	}
	typed := &compiler{reg: functions.Builtins(), ctx: &functions.Context{}}
	generic := &compiler{reg: functions.Builtins(), ctx: &functions.Context{}, generic: true}
	for _, src := range exprs {
		t.Run(src, func(t *testing.T) {
			e, err := parser.ParseExpr(src)
			if err != nil {
				t.Fatal(err)
			}
			typed.src, generic.src = src, src
			x, err := typed.compile(e, sc)
			if err != nil {
				t.Fatal(err)
			}
			g, err := generic.compile(e, sc)
			if err != nil {
				t.Fatal(err)
			}
			if !x.typ.Equal(g.typ) {
				t.Fatalf("typed %s, generic %s", x.typ, g.typ)
			}
			outL := row.NewLayout([]types.Type{x.typ}, nil)
			set := newSetter(x, 0)
			var pred predicate
			if x.typ.Kind == types.Boolean {
				pred = newPredicate(x)
			}
			for k, r := range rows {
				want, werr := g.eval(r)
				got, gerr := x.eval(r)
				if fmt.Sprint(werr) != fmt.Sprint(gerr) {
					t.Fatalf("row %d %v: error %v, generic %v", k, r.AppendJava(nil), gerr, werr)
				}
				if werr != nil {
					if _, err := set(r, outL.New()); fmt.Sprint(err) != fmt.Sprint(werr) {
						t.Fatalf("row %d: setter error %v, generic %v", k, err, werr)
					}
					continue
				}
				if !sameValue(x.typ, got, want) {
					t.Fatalf("row %d %s: typed %+v, generic %+v", k, r.AppendJava(nil), got, want)
				}
				out := outL.New()
				null, err := set(r, out)
				if err != nil || null != want.Null {
					t.Fatalf("row %d: setter null %v err %v, generic %+v", k, null, err, want)
				}
				if w := outL.New(); true {
					functions.Write(w, 0, want)
					if string(out.AppendJava(nil)) != string(w.AppendJava(nil)) {
						t.Fatalf("row %d: setter wrote %s, generic %s", k, out.AppendJava(nil), w.AppendJava(nil))
					}
				}
				if pred != nil {
					keep, err := pred(r)
					if err != nil || keep != (!want.Null && want.Bool()) {
						t.Fatalf("row %d: predicate %v %v, generic %+v", k, keep, err, want)
					}
				}
			}
		})
	}
}

func sameValue(t types.Type, a, b functions.Value) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	switch classOf(t) {
	case classInt:
		return a.I == b.I
	case classFloat:
		return math.Float64bits(a.F) == math.Float64bits(b.F) || (math.IsNaN(a.F) && math.IsNaN(b.F))
	case classStr:
		return a.S == b.S
	}
	return functions.Compare(t, a, b) == 0
}

// TestTypedCompilationIsTyped guards the point of the typed path: the
// expressions of the SQL benchmark compile to typed closures, and a
// literal cast is folded.
func TestTypedCompilationIsTyped(t *testing.T) {
	sc := &scope{names: []string{"id", "v"}, types: []types.Type{types.BigIntType(), types.BigIntType()}}
	c := &compiler{reg: functions.Builtins(), ctx: &functions.Context{}}
	for _, src := range []string{"v * 2 + 1", "id % 2 = 0", "id > 0 AND v IS NOT NULL"} {
		e, err := parser.ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		c.src = src
		x, err := c.compile(e, sc)
		if err != nil {
			t.Fatal(err)
		}
		if x.ei == nil {
			t.Errorf("%s: not compiled to a typed closure", src)
		}
	}
	for _, src := range []string{"TO_TIMESTAMP_LTZ(id, 3)", "TO_TIMESTAMP_LTZ(id * 10 - MOD(id * 7919, 40), 3)", "TO_TIMESTAMP_LTZ(v, 0)"} {
		e, err := parser.ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		c.src = src
		x, err := c.compile(e, sc)
		if err != nil {
			t.Fatal(err)
		}
		if x.em == nil {
			t.Errorf("%s: not compiled to a typed millisecond closure", src)
		}
	}
	e, _ := parser.ParseExpr("CAST(2 AS BIGINT)")
	x, err := c.compile(e, sc)
	if err != nil {
		t.Fatal(err)
	}
	if x.konst == nil || x.konst.I != 2 {
		t.Errorf("CAST(2 AS BIGINT) not folded: %+v", x)
	}
}
