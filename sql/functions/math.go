package functions

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Math functions (Flink's "Arithmetic Functions"). Integer results wrap
// on overflow as Java's do (ABS(MIN_VALUE) is MIN_VALUE); DECIMAL results
// are exact and become NULL when they exceed their type's precision;
// approximate functions compute in DOUBLE.

func registerMath(r *Registry) {
	dbl := types.DoubleType()
	d1 := func(name string, f func(float64) float64) {
		r.simple(name, []param{pDouble}, dbl, false, func(a []Value) (Value, error) { return Float(f(a[0].F)), nil })
	}
	d1("SQRT", math.Sqrt)
	d1("LN", math.Log)
	d1("LOG10", math.Log10)
	d1("LOG2", math.Log2)
	d1("EXP", math.Exp)
	d1("SIN", math.Sin)
	d1("COS", math.Cos)
	d1("TAN", math.Tan)
	d1("DEGREES", func(x float64) float64 { return x * 180 / math.Pi })
	d1("RADIANS", func(x float64) float64 { return x * math.Pi / 180 })
	r.simple("LOG", []param{pDouble}, dbl, false, func(a []Value) (Value, error) { return Float(math.Log(a[0].F)), nil })
	r.simple("LOG", []param{pDouble, pDouble}, dbl, false, func(a []Value) (Value, error) {
		return Float(math.Log(a[1].F) / math.Log(a[0].F)), nil
	})
	for _, n := range []string{"POWER", "POW"} {
		r.simple(n, []param{pDouble, pDouble}, dbl, false, func(a []Value) (Value, error) { return Float(math.Pow(a[0].F, a[1].F)), nil })
	}
	r.simple("PI", nil, dbl.AsNotNull(), false, func([]Value) (Value, error) { return Float(math.Pi), nil })

	r.add("ABS", "ABS(<NUMERIC>)", numeric1(func(t types.Type) (types.Type, Eval) {
		switch {
		case t.IsInteger():
			bits := intBits(t.Kind)
			return t, func(a []Value) (Value, error) {
				v := a[0].I
				if v < 0 {
					v = wrap(-v, bits)
				}
				return Int(v), nil
			}
		case t.IsApproximate():
			return t, func(a []Value) (Value, error) { return Float(math.Abs(a[0].F)), nil }
		}
		return t, func(a []Value) (Value, error) { return Dec(a[0].D.Abs()), nil }
	}))
	r.add("SIGN", "SIGN(<NUMERIC>)", numeric1(func(t types.Type) (types.Type, Eval) {
		switch {
		case t.IsInteger():
			return t, func(a []Value) (Value, error) { return Int(int64(sign(a[0].I))), nil }
		case t.IsApproximate():
			return t, func(a []Value) (Value, error) {
				f := a[0].F
				if f != 0 && !math.IsNaN(f) {
					f = math.Copysign(1, f)
				}
				return Float(f), nil
			}
		}
		return t, func(a []Value) (Value, error) {
			return decResult(row.NewDecimal(int64(a[0].D.Sign()), 0).Rescale(t.Scale), t), nil
		}
	}))
	for _, up := range []bool{false, true} {
		name := "FLOOR"
		if up {
			name = "CEIL"
		}
		b := numeric1(func(t types.Type) (types.Type, Eval) {
			switch {
			case t.IsInteger():
				return t, func(a []Value) (Value, error) { return a[0], nil }
			case t.IsApproximate():
				f := math.Floor
				if up {
					f = math.Ceil
				}
				return t, func(a []Value) (Value, error) { return Float(f(a[0].F)), nil }
			}
			// -9.5 floors to -10: one more integral digit may be needed.
			rt := types.DecimalRound(t.Precision, t.Scale, 0)
			return rt, func(a []Value) (Value, error) {
				if up {
					return Dec(a[0].D.Ceil(0)), nil
				}
				return Dec(a[0].D.Floor(0)), nil
			}
		})
		r.add(name, name+"(<NUMERIC>)", b)
		if up {
			r.add("CEILING", "CEILING(<NUMERIC>)", b)
		}
	}
	for _, trunc := range []bool{false, true} {
		name := "ROUND"
		if trunc {
			name = "TRUNCATE"
		}
		r.add(name, name+"(<NUMERIC>, <INTEGER>)", roundBinder(trunc))
	}
	r.add("MOD", "MOD(<EXACT_NUMERIC>, <EXACT_NUMERIC>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 || !exactOrNull(args[0].Type) || !exactOrNull(args[1].Type) {
			return nil, false, nil
		}
		a, b := orInt(args[0].Type), orInt(args[1].Type)
		rt, err := types.ArithmeticType(types.Mod, a, b)
		if err != nil {
			return nil, false, nil
		}
		if rt.Kind != types.Decimal {
			// Compute in BIGINT; the remainder fits the divisor's type.
			p := []types.Type{types.BigIntType().WithNullable(a.IsNullable()), types.BigIntType().WithNullable(b.IsNullable())}
			return &Scalar{Result: rt, Params: p, Eval: strict(func(v []Value) (Value, error) {
				z, err := intMod(v[0].I, v[1].I)
				if err != nil {
					return Value{}, err
				}
				return Int(z), nil
			}), Typed: &Typed{Int: intMod}}, true, nil
		}
		p := []types.Type{a.AsDecimal().WithNullable(a.IsNullable()), b.AsDecimal().WithNullable(b.IsNullable())}
		return &Scalar{Result: rt, Params: p, Eval: strict(func(v []Value) (Value, error) {
			m, err := v[0].D.Rem(v[1].D)
			if err != nil {
				return Value{}, errDivideByZero
			}
			return decResult(m, rt), nil
		})}, true, nil
	})
}

var errDivideByZero = &RuntimeError{Msg: "Division by zero"}

// RuntimeError is an evaluation failure that fails the job in Flink
// (division by zero, a failed CAST).
type RuntimeError struct{ Msg string }

func (e *RuntimeError) Error() string { return e.Msg }

func exactOrNull(t types.Type) bool { return t.IsExactNumeric() || t.Kind == types.Null }

func orInt(t types.Type) types.Type {
	if t.Kind == types.Null {
		return types.IntType()
	}
	return t
}

// numeric1 binds a one-argument numeric function whose result type and
// evaluator depend on the argument's type.
func numeric1(f func(t types.Type) (types.Type, Eval), typed ...func(t types.Type) *Typed) binder {
	return func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 1 || args[0].Symbol != "" {
			return nil, false, nil
		}
		t := args[0].Type
		if t.Kind == types.Null {
			t = types.IntType()
		}
		if !t.IsNumeric() {
			return nil, false, nil
		}
		rt, ev := f(t.Nullable())
		n := args[0].Type.IsNullable()
		s := &Scalar{Result: rt.WithNullable(n), Params: []types.Type{t.WithNullable(n)}, Eval: strict(ev)}
		if len(typed) > 0 {
			s.Typed = typed[0](t.Nullable())
		}
		return s, true, nil
	}
}

// roundBinder binds ROUND(x[, d]) and TRUNCATE(x[, d]): HALF_UP rounding
// (or truncation) to d digits after the point; d < 0 rounds left of it.
// The result keeps x's type, except DECIMAL whose scale becomes d.
func roundBinder(trunc bool) binder {
	name := "ROUND"
	if trunc {
		name = "TRUNCATE"
	}
	return func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) < 1 || len(args) > 2 {
			return nil, false, nil
		}
		t := orInt(args[0].Type)
		if !t.IsNumeric() {
			return nil, false, nil
		}
		digits := int64(0)
		params := []types.Type{t}
		if len(args) == 2 {
			if _, ok := pInteger.accepts(args[1].Type); !ok {
				return nil, false, nil
			}
			params = append(params, types.BigIntType().WithNullable(args[1].Type.IsNullable()))
			if t.Kind == types.Decimal {
				// The result scale depends on d, so d must be a literal.
				k := args[1].Const
				if k == nil || k.Null {
					return nil, false, fmt.Errorf("%s of a DECIMAL needs a literal number of digits (the result's scale depends on it)", name)
				}
				digits = k.I
			}
		}
		n := anyNullable(args)
		var rt types.Type
		var ev Eval
		d := func(a []Value) int64 {
			if len(a) == 2 {
				return a[1].I
			}
			return 0
		}
		switch {
		case t.IsInteger():
			rt = t
			ev = func(a []Value) (Value, error) { return Int(roundInt(a[0].I, d(a), trunc)), nil }
		case t.IsApproximate():
			rt = t
			ev = func(a []Value) (Value, error) { return Float(roundFloat(a[0].F, d(a), trunc)), nil }
		default:
			rt = types.DecimalRound(t.Precision, t.Scale, int(digits))
			ev = func(a []Value) (Value, error) {
				return decResult(roundDecimal(a[0].D, int(digits), trunc).Rescale(rt.Scale), rt), nil
			}
		}
		return &Scalar{Result: rt.WithNullable(n), Params: params, Eval: strict(ev)}, true, nil
	}
}

// decResult is d as a value of DECIMAL type t: NULL if it overflows.
func decResult(d row.Decimal, t types.Type) Value {
	r, ok := d.ToPrecision(t.Precision, t.Scale)
	if !ok {
		return Null()
	}
	return Dec(r)
}

func roundInt(v, d int64, trunc bool) int64 {
	if d >= 0 {
		return v
	}
	if d < -18 {
		return 0
	}
	p := int64(1)
	for range -d {
		p *= 10
	}
	q, rem := v/p, v%p
	if !trunc {
		if rem < 0 {
			rem = -rem
		}
		if rem*2 >= p {
			if v < 0 {
				q--
			} else {
				q++
			}
		}
	}
	return q * p
}

// roundDecimal rounds x HALF_UP (or truncates) to d digits after the
// point; d < 0 rounds to a multiple of 10^-d. The scale is max(d, 0).
func roundDecimal(x row.Decimal, d int, trunc bool) row.Decimal {
	if d >= 0 {
		if trunc {
			return x.Truncate(d)
		}
		return x.Rescale(d)
	}
	// x / 10^k is the same unscaled value at scale + k.
	shifted := row.DecimalFromBig(x.Unscaled(), x.Scale()-d)
	var q row.Decimal
	if trunc {
		q = shifted.Truncate(0)
	} else {
		q = shifted.Rescale(0)
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d)), nil)
	return q.Mul(row.DecimalFromBig(p, 0))
}

// roundFloat rounds as Flink does: through BigDecimal.valueOf(x) (the
// shortest decimal that reads back as x), HALF_UP.
func roundFloat(x float64, d int64, trunc bool) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || d > 400 {
		return x
	}
	dec, err := row.ParseDecimal(strconv.FormatFloat(x, 'g', -1, 64))
	if err != nil {
		return x
	}
	return roundDecimal(dec, int(max(d, -400)), trunc).Float64()
}

func intBits(k types.Kind) int {
	switch k {
	case types.TinyInt:
		return 8
	case types.SmallInt:
		return 16
	case types.Int:
		return 32
	}
	return 64
}

// wrap truncates v to a bits-wide two's complement integer, as Java's
// narrowing does.
func wrap(v int64, bits int) int64 {
	switch bits {
	case 8:
		return int64(int8(v))
	case 16:
		return int64(int16(v))
	case 32:
		return int64(int32(v))
	}
	return v
}

func sign(v int64) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
