package functions

import (
	"cmp"
	"math"
	"strings"

	"github.com/sluicehq/sluice/sql/types"
)

// Typed is the unboxed form of a scalar function, for a caller (the
// planner) that compiles an expression into closures over int64, float64
// and string values instead of Values. At most one of its fields is set;
// Scalar.Typed is nil for functions without one. The kernels are the
// ones the function's Eval runs, so both forms agree by construction.
//
// All but Logic are strict: the caller returns NULL when an argument is
// NULL, without calling the kernel (after evaluating every argument, as
// Eval's caller does). Arguments are the values of Scalar.Params; a
// one-argument kernel ignores b. "int" is the int64 slot of Value.I
// (integers, BOOLEAN as 0 or 1, DATE, TIME, intervals), "float" Value.F,
// "string" Value.S.
type Typed struct {
	Int         func(a, b int64) (int64, error) // int arguments, int result
	Float       func(a, b float64) float64      // float arguments, float result
	IntCmp      func(a, b int64) bool           // int arguments, BOOLEAN result
	FloatCmp    func(a, b float64) bool         // float arguments, BOOLEAN result
	StrCmp      func(a, b string) bool          // string arguments, BOOLEAN result
	Str         func(a, b string) string        // string arguments, string result
	IntToFloat  func(a int64) float64           // a cast
	FloatToInt  func(a float64) int64           // a cast
	IntToMillis func(a int64) int64             // int argument, TIMESTAMP(p ≤ 3) or TIMESTAMP_LTZ(p ≤ 3) result as epoch milliseconds
	Logic       Logic                           // a boolean operator, with its NULL rules
}

// Logic names the boolean operators, whose NULL handling is not strict:
// AND and OR are SQL's three-valued logic (FALSE AND NULL is FALSE, TRUE
// OR NULL is TRUE) over all their arguments; NOT is strict; the IS forms
// never return NULL.
type Logic uint8

// The boolean operators.
const (
	NoLogic Logic = iota
	LogicAnd
	LogicOr
	LogicNot
	LogicIsNull
	LogicIsNotNull
	LogicIsTrue
	LogicIsNotTrue
	LogicIsFalse
	LogicIsNotFalse
)

// IsTest evaluates an IS operator (IS NULL ... IS NOT FALSE) on a
// BOOLEAN (or, for IS [NOT] NULL, any) value given as its truth and its
// NULL flag.
func (l Logic) IsTest(v, null bool) bool {
	switch l {
	case LogicIsNull:
		return null
	case LogicIsNotNull:
		return !null
	case LogicIsTrue:
		return !null && v
	case LogicIsNotTrue:
		return null || !v
	case LogicIsFalse:
		return !null && !v
	}
	return null || v // IS NOT FALSE
}

// intArith is integer + - * / at the result's width (Java's wrapping),
// computed on BIGINT arguments.
func intArith(op types.ArithOp, bits int) func(x, y int64) (int64, error) {
	switch op {
	case types.Plus:
		return func(x, y int64) (int64, error) { return wrap(x+y, bits), nil }
	case types.Minus:
		return func(x, y int64) (int64, error) { return wrap(x-y, bits), nil }
	case types.Times:
		return func(x, y int64) (int64, error) { return wrap(x*y, bits), nil }
	}
	return func(x, y int64) (int64, error) {
		if y == 0 {
			return 0, errDivideByZero
		}
		if y == -1 {
			return wrap(-x, bits), nil
		}
		return x / y, nil
	}
}

// floatArith is DOUBLE (or FLOAT, single) + - * /: IEEE, no errors.
func floatArith(op types.ArithOp, single bool) func(x, y float64) float64 {
	var f func(x, y float64) float64
	switch op {
	case types.Plus:
		f = func(x, y float64) float64 { return x + y }
	case types.Minus:
		f = func(x, y float64) float64 { return x - y }
	case types.Times:
		f = func(x, y float64) float64 { return x * y }
	default:
		f = func(x, y float64) float64 { return x / y }
	}
	if single {
		g := f
		f = func(x, y float64) float64 { return float64(float32(g(x, y))) }
	}
	return f
}

// intMod is MOD of integers, computed in BIGINT.
func intMod(x, y int64) (int64, error) {
	if y == 0 {
		return 0, errDivideByZero
	}
	if y == -1 {
		return 0, nil
	}
	return x % y, nil
}

// cmpTest maps a comparison operator to its test of a three-way result.
func cmpTest(name string) func(c int) bool {
	switch name {
	case "=":
		return func(c int) bool { return c == 0 }
	case "<>":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	}
	return func(c int) bool { return c >= 0 }
}

// intCmp compares int-slot values (integers, BOOLEAN, DATE, TIME,
// intervals): Compare's order for them.
func intCmp(name string) func(x, y int64) bool {
	switch name {
	case "=":
		return func(x, y int64) bool { return x == y }
	case "<>":
		return func(x, y int64) bool { return x != y }
	case "<":
		return func(x, y int64) bool { return x < y }
	case "<=":
		return func(x, y int64) bool { return x <= y }
	case ">":
		return func(x, y int64) bool { return x > y }
	}
	return func(x, y int64) bool { return x >= y }
}

// floatCmp compares as Java's primitives: NaN is unequal to everything
// (and <> everything); otherwise Compare's order (-0.0 equals 0.0).
func floatCmp(name string) func(x, y float64) bool {
	test := cmpTest(name)
	isNE := name == "<>"
	return func(x, y float64) bool {
		if math.IsNaN(x) || math.IsNaN(y) {
			return isNE
		}
		return test(cmp.Compare(x, y))
	}
}

// strCmp compares character or binary strings bytewise (Compare's order).
func strCmp(name string) func(x, y string) bool {
	switch name {
	case "=":
		return func(x, y string) bool { return x == y }
	case "<>":
		return func(x, y string) bool { return x != y }
	}
	test := cmpTest(name)
	return func(x, y string) bool { return test(strings.Compare(x, y)) }
}

// intSlot reports the kinds whose Value lives in I.
func intSlot(k types.Kind) bool {
	switch k {
	case types.Boolean, types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
		types.IntervalYearMonth, types.IntervalDayTime:
		return true
	}
	return false
}
