package functions

import (
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Operators, registered under their SQL spelling: + - * / (binary), -
// (unary), = <> < <= > >=, AND, OR, NOT, IS NULL, IS NOT NULL, IS TRUE,
// IS NOT TRUE, IS FALSE, IS NOT FALSE. Types follow types.ArithmeticType,
// types.DatetimeArithmeticType and types.ComparisonType; logic is SQL's
// three-valued logic (FALSE AND NULL is FALSE, TRUE AND NULL is NULL).
// Integer arithmetic wraps at the result's width as Java's does; integer
// or DECIMAL division by zero is a RuntimeError; DOUBLE division by zero
// is an infinity or NaN; a DECIMAL result beyond its precision is NULL.

func registerOperators(r *Registry) {
	for op, name := range map[types.ArithOp]string{types.Plus: "+", types.Minus: "-", types.Times: "*", types.Divide: "/"} {
		r.add(name, "<NUMERIC> "+name+" <NUMERIC>", arith(op))
	}
	r.add("-", "- <NUMERIC>", numeric1(func(t types.Type) (types.Type, Eval) {
		switch {
		case t.IsInteger():
			bits := intBits(t.Kind)
			return t, func(a []Value) (Value, error) { return Int(wrap(-a[0].I, bits)), nil }
		case t.IsApproximate():
			return t, func(a []Value) (Value, error) { return Float(-a[0].F), nil }
		}
		return t, func(a []Value) (Value, error) { return Dec(a[0].D.Neg()), nil }
	}, func(t types.Type) *Typed {
		switch {
		case t.IsInteger():
			bits := intBits(t.Kind)
			return &Typed{Int: func(a, _ int64) (int64, error) { return wrap(-a, bits), nil }}
		case t.IsApproximate():
			return &Typed{Float: func(a, _ float64) float64 { return -a }}
		}
		return nil
	}))
	for _, name := range []string{"=", "<>", "<", "<=", ">", ">="} {
		r.add(name, "<COMPARABLE> "+name+" <COMPARABLE>", comparison(name))
	}
	boolean := types.BooleanType()
	r.add("NOT", "NOT <BOOLEAN>", func(c *Context, args []Arg) (*Scalar, bool, error) {
		params, nullable, ok := matchParams(args, []param{pBool})
		if !ok {
			return nil, false, nil
		}
		return &Scalar{Result: boolean.WithNullable(nullable), Params: params, Eval: strict(func(a []Value) (Value, error) {
			return Bool(!a[0].Bool()), nil
		}), Typed: &Typed{Logic: LogicNot}}, true, nil
	})
	for _, and := range []bool{true, false} {
		name, logic := "AND", LogicAnd
		if !and {
			name, logic = "OR", LogicOr
		}
		r.add(name, "<BOOLEAN> "+name+" <BOOLEAN> ...", func(c *Context, args []Arg) (*Scalar, bool, error) {
			ps := make([]param, len(args))
			for i := range ps {
				ps[i] = pBool
			}
			params, nullable, ok := matchParams(args, ps)
			if !ok || len(args) < 2 {
				return nil, false, nil
			}
			// AND: FALSE wins over NULL; OR: TRUE wins over NULL.
			return &Scalar{Result: boolean.WithNullable(nullable), Params: params, Eval: func(a []Value) (Value, error) {
				sawNull := false
				for _, v := range a {
					switch {
					case v.Null:
						sawNull = true
					case v.Bool() != and:
						return Bool(!and), nil
					}
				}
				if sawNull {
					return Null(), nil
				}
				return Bool(and), nil
			}, Typed: &Typed{Logic: logic}}, true, nil
		})
	}
	for name, logic := range map[string]Logic{
		"IS NULL": LogicIsNull, "IS NOT NULL": LogicIsNotNull, "IS TRUE": LogicIsTrue,
		"IS NOT TRUE": LogicIsNotTrue, "IS FALSE": LogicIsFalse, "IS NOT FALSE": LogicIsNotFalse,
	} {
		onlyBool := name != "IS NULL" && name != "IS NOT NULL"
		r.add(name, "<ANY> "+name, func(c *Context, args []Arg) (*Scalar, bool, error) {
			if len(args) != 1 || args[0].Symbol != "" {
				return nil, false, nil
			}
			if onlyBool {
				if _, ok := pBool.accepts(args[0].Type); !ok {
					return nil, false, nil
				}
			}
			return &Scalar{Result: boolean.AsNotNull(), Params: []types.Type{args[0].Type}, Eval: func(a []Value) (Value, error) {
				return Bool(logic.IsTest(a[0].Bool(), a[0].Null)), nil
			}, Typed: &Typed{Logic: logic}}, true, nil
		})
	}
}

// arith binds a binary arithmetic operator.
func arith(op types.ArithOp) binder {
	return func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 || args[0].Symbol != "" || args[1].Symbol != "" {
			return nil, false, nil
		}
		a, b := args[0].Type, args[1].Type
		if a.Kind == types.Null && b.Kind == types.Null {
			return nil, false, nil
		}
		if a.Kind == types.Null {
			a = b.Nullable()
		}
		if b.Kind == types.Null {
			b = a.Nullable()
		}
		rt, err := types.ArithmeticType(op, a, b)
		if err != nil {
			return nil, false, nil
		}
		if !a.IsNumeric() || !b.IsNumeric() {
			return datetimeArith(c, op, a, b, rt)
		}
		nb := func(t types.Type, like types.Type) types.Type { return t.WithNullable(like.IsNullable()) }
		switch {
		case rt.IsInteger():
			bits := intBits(rt.Kind)
			params := []types.Type{nb(types.BigIntType(), a), nb(types.BigIntType(), b)}
			k := intArith(op, bits)
			return &Scalar{Result: rt, Params: params, Eval: strict(func(v []Value) (Value, error) {
				z, err := k(v[0].I, v[1].I)
				if err != nil {
					return Value{}, err
				}
				return Int(z), nil
			}), Typed: &Typed{Int: k}}, true, nil
		case rt.IsApproximate():
			params := []types.Type{nb(types.DoubleType(), a), nb(types.DoubleType(), b)}
			k := floatArith(op, rt.Kind == types.Float)
			return &Scalar{Result: rt, Params: params, Eval: strict(func(v []Value) (Value, error) {
				return Float(k(v[0].F, v[1].F)), nil
			}), Typed: &Typed{Float: k}}, true, nil
		}
		params := []types.Type{nb(a.AsDecimal(), a), nb(b.AsDecimal(), b)}
		rt = rt.Nullable() // overflow is NULL
		return &Scalar{Result: rt, Params: params, Eval: strict(func(v []Value) (Value, error) {
			x, y := v[0].D, v[1].D
			var z row.Decimal
			switch op {
			case types.Plus:
				z = x.Add(y)
			case types.Minus:
				z = x.Sub(y)
			case types.Times:
				z = x.Mul(y)
			default:
				q, err := x.Quo(y, rt.Scale)
				if err != nil {
					return Value{}, errDivideByZero
				}
				z = q
			}
			return decResult(z, rt), nil
		})}, true, nil
	}
}

// datetimeArith binds DATE, TIME and timestamps ± INTERVAL, INTERVAL ±
// INTERVAL and INTERVAL * or / an exact number. Day-time intervals are
// milliseconds, year-month intervals months (calendar arithmetic, in the
// session zone for TIMESTAMP_LTZ).
func datetimeArith(c *Context, op types.ArithOp, a, b, rt types.Type) (*Scalar, bool, error) {
	loc := c.loc()
	params := []types.Type{a, b}
	switch {
	case a.IsDatetime() || b.IsDatetime():
		dt, iv, dtFirst := a, b, true
		if b.IsDatetime() {
			dt, iv, dtFirst = b, a, false
		}
		sign := int64(1)
		if op == types.Minus {
			sign = -1
		}
		return &Scalar{Result: rt, Params: params, Eval: strict(func(v []Value) (Value, error) {
			d, n := v[0], v[1].I
			if !dtFirst {
				d, n = v[1], v[0].I
			}
			n *= sign
			if iv.Kind == types.IntervalDayTime {
				switch dt.Kind {
				case types.Time:
					day := int64(86400_000_000_000)
					t := (d.I + n*1_000_000) % day
					if t < 0 {
						t += day
					}
					return Int(t), nil
				case types.Date:
					return Int(row.DateOf(row.TimestampOf(d.I, 0).AddMillis(n))), nil
				}
				return TS(d.T.AddMillis(n)), nil
			}
			return fromLocal(dt, addMonths(localOf(dt, d, loc), n), loc), nil
		})}, true, nil
	case a.IsInterval() && b.IsInterval():
		return &Scalar{Result: rt, Params: []types.Type{rt.WithNullable(a.IsNullable()), rt.WithNullable(b.IsNullable())},
			Eval: strict(func(v []Value) (Value, error) {
				if op == types.Minus {
					return Int(v[0].I - v[1].I), nil
				}
				return Int(v[0].I + v[1].I), nil
			})}, true, nil
	case a.IsInterval() || b.IsInterval():
		num := b
		if b.IsInterval() {
			num = a
		}
		if !num.IsInteger() {
			return nil, false, nil // an interval times a DECIMAL: not supported yet
		}
		ivFirst := a.IsInterval()
		return &Scalar{Result: rt, Params: params, Eval: strict(func(v []Value) (Value, error) {
			iv, n := v[0].I, v[1].I
			if !ivFirst {
				iv, n = v[1].I, v[0].I
			}
			if op == types.Divide {
				if n == 0 {
					return Value{}, errDivideByZero
				}
				return Int(iv / n), nil
			}
			return Int(iv * n), nil
		})}, true, nil
	}
	return nil, false, nil
}

// comparison binds = <> < <= > >= over the operands' comparison type.
// FLOAT and DOUBLE compare as Java's primitives (NaN is unequal to
// everything); MAP and MULTISET only for equality.
func comparison(name string) binder {
	return func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 || args[0].Symbol != "" || args[1].Symbol != "" {
			return nil, false, nil
		}
		a, b := args[0].Type, args[1].Type
		if a.Kind == types.Null {
			a = b.Nullable()
		}
		if b.Kind == types.Null {
			b = a.Nullable()
		}
		if mixesTimeAndNumber([]types.Type{a, b}) {
			return nil, false, nil
		}
		ct, err := types.ComparisonType(a, b)
		if err != nil || ct.Kind == types.Null {
			return nil, false, nil
		}
		if (ct.Kind == types.Map || ct.Kind == types.Multiset) && name != "=" && name != "<>" {
			return nil, false, nil
		}
		test := cmpTest(name)
		params := []types.Type{ct.WithNullable(a.IsNullable()), ct.WithNullable(b.IsNullable())}
		result := types.BooleanType().WithNullable(a.IsNullable() || b.IsNullable())
		switch {
		case ct.IsApproximate():
			k := floatCmp(name)
			return &Scalar{Result: result, Params: params, Eval: strict(func(v []Value) (Value, error) {
				return Bool(k(v[0].F, v[1].F)), nil
			}), Typed: &Typed{FloatCmp: k}}, true, nil
		case intSlot(ct.Kind):
			k := intCmp(name)
			return &Scalar{Result: result, Params: params, Eval: strict(func(v []Value) (Value, error) {
				return Bool(k(v[0].I, v[1].I)), nil
			}), Typed: &Typed{IntCmp: k}}, true, nil
		case ct.IsCharString() || ct.IsBinaryString():
			k := strCmp(name)
			return &Scalar{Result: result, Params: params, Eval: strict(func(v []Value) (Value, error) {
				return Bool(k(v[0].S, v[1].S)), nil
			}), Typed: &Typed{StrCmp: k}}, true, nil
		}
		return &Scalar{Result: result, Params: params, Eval: strict(func(v []Value) (Value, error) {
			return Bool(test(Compare(ct, v[0], v[1]))), nil
		})}, true, nil
	}
}
