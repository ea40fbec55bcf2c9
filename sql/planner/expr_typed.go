package planner

import (
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Typed evaluation: an expression whose type lives in an int64, float64
// or string slot also compiles to a closure returning that value and a
// NULL flag, so that `v * 2 + 1` and `id % 2 = 0` run without building a
// functions.Value per operand. Only the functions with a functions.Typed
// form (arithmetic, MOD, comparisons, ||, the boolean operators, numeric
// casts) and column references and literals compile this way; anything
// else keeps the generic evalFn, and a typed parent reads such a child
// through an adapter. Every compiled expression keeps its evalFn (for a
// typed one, an adapter over the typed closure), so either form may be
// used and both agree.
type (
	intFn   func(r *row.Row) (v int64, null bool, err error)
	floatFn func(r *row.Row) (v float64, null bool, err error)
	strFn   func(r *row.Row) (v string, null bool, err error)
)

// slotClass is which typed form a type has.
type slotClass uint8

const (
	classOther slotClass = iota
	classInt             // BOOLEAN, integers, DATE, TIME, intervals (functions.Value.I)
	classFloat           // FLOAT, DOUBLE (Value.F)
	classStr             // character and binary strings (Value.S)
)

func classOf(t types.Type) slotClass {
	switch t.Kind {
	case types.Boolean, types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
		types.IntervalYearMonth, types.IntervalDayTime:
		return classInt
	case types.Float, types.Double:
		return classFloat
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		return classStr
	}
	return classOther
}

// asInt is x's typed int closure, or an adapter over its evalFn.
func (x *compiled) asInt() intFn {
	if x.ei != nil {
		return x.ei
	}
	ev := x.eval
	return func(r *row.Row) (int64, bool, error) {
		v, err := ev(r)
		return v.I, v.Null, err
	}
}

func (x *compiled) asFloat() floatFn {
	if x.ef != nil {
		return x.ef
	}
	ev := x.eval
	return func(r *row.Row) (float64, bool, error) {
		v, err := ev(r)
		return v.F, v.Null, err
	}
}

func (x *compiled) asStr() strFn {
	if x.es != nil {
		return x.es
	}
	ev := x.eval
	return func(r *row.Row) (string, bool, error) {
		v, err := ev(r)
		return v.S, v.Null, err
	}
}

// withInt makes a compiled expression of type t from a typed closure,
// with the evalFn adapter.
func withInt(t types.Type, f intFn) *compiled {
	return &compiled{typ: t, ei: f, eval: func(r *row.Row) (functions.Value, error) {
		v, null, err := f(r)
		if err != nil {
			return functions.Value{}, err
		}
		if null {
			return functions.Null(), nil
		}
		return functions.Int(v), nil
	}}
}

func withFloat(t types.Type, f floatFn) *compiled {
	return &compiled{typ: t, ef: f, eval: func(r *row.Row) (functions.Value, error) {
		v, null, err := f(r)
		if err != nil {
			return functions.Value{}, err
		}
		if null {
			return functions.Null(), nil
		}
		return functions.Float(v), nil
	}}
}

func withStr(t types.Type, f strFn) *compiled {
	return &compiled{typ: t, es: f, eval: func(r *row.Row) (functions.Value, error) {
		v, null, err := f(r)
		if err != nil {
			return functions.Value{}, err
		}
		if null {
			return functions.Null(), nil
		}
		return functions.Str(v), nil
	}}
}

// column compiles a reference to field i of type t.
func column(i int, t types.Type) *compiled {
	var x *compiled
	switch classOf(t) {
	case classInt:
		x = withInt(t, func(r *row.Row) (int64, bool, error) {
			if r.IsNull(i) {
				return 0, true, nil
			}
			return r.Int(i), false, nil
		})
	case classFloat:
		x = withFloat(t, func(r *row.Row) (float64, bool, error) {
			if r.IsNull(i) {
				return 0, true, nil
			}
			return r.Float(i), false, nil
		})
	case classStr:
		x = withStr(t, func(r *row.Row) (string, bool, error) {
			if r.IsNull(i) {
				return "", true, nil
			}
			return r.Str(i), false, nil
		})
	default:
		x = &compiled{typ: t, eval: func(r *row.Row) (functions.Value, error) { return functions.Read(r, i), nil }}
	}
	x.ref = i + 1
	return x
}

// typedKonst adds the typed closure of a literal.
func typedKonst(x *compiled) *compiled {
	v := *x.konst
	switch classOf(x.typ) {
	case classInt:
		x.ei = func(*row.Row) (int64, bool, error) { return v.I, v.Null, nil }
	case classFloat:
		x.ef = func(*row.Row) (float64, bool, error) { return v.F, v.Null, nil }
	case classStr:
		x.es = func(*row.Row) (string, bool, error) { return v.S, v.Null, nil }
	}
	return x
}

// konstInt is x's value when it is a non-NULL int literal.
func (x *compiled) konstInt() (int64, bool) {
	if x.konst == nil || x.konst.Null || classOf(x.typ) != classInt {
		return 0, false
	}
	return x.konst.I, true
}

func (x *compiled) konstFloat() (float64, bool) {
	if x.konst == nil || x.konst.Null || classOf(x.typ) != classFloat {
		return 0, false
	}
	return x.konst.F, true
}

// typedCall is the typed form of a resolved call s over args (already
// cast to s.Params), or nil when it has none.
func typedCall(s *functions.Scalar, args []*compiled) *compiled {
	k := s.Typed
	if k == nil {
		return nil
	}
	rc := classOf(s.Result)
	pc := func(i int) slotClass {
		if i >= len(s.Params) {
			return classOther
		}
		return classOf(s.Params[i])
	}
	switch {
	case k.Int != nil && rc == classInt && pc(0) == classInt:
		switch len(args) {
		case 1:
			return withInt(s.Result, intUnary(k.Int, args[0].asInt()))
		case 2:
			if pc(1) == classInt {
				return withInt(s.Result, intBinary(k.Int, args[0], args[1]))
			}
		}
	case k.Float != nil && rc == classFloat && pc(0) == classFloat:
		switch len(args) {
		case 1:
			return withFloat(s.Result, floatUnary(k.Float, args[0].asFloat()))
		case 2:
			if pc(1) == classFloat {
				return withFloat(s.Result, floatBinary(k.Float, args[0], args[1]))
			}
		}
	case k.IntCmp != nil && rc == classInt && len(args) == 2 && pc(0) == classInt && pc(1) == classInt:
		return withInt(s.Result, intCompare(k.IntCmp, args[0], args[1]))
	case k.FloatCmp != nil && rc == classInt && len(args) == 2 && pc(0) == classFloat && pc(1) == classFloat:
		return withInt(s.Result, floatCompare(k.FloatCmp, args[0].asFloat(), args[1].asFloat()))
	case k.StrCmp != nil && rc == classInt && len(args) == 2 && pc(0) == classStr && pc(1) == classStr:
		return withInt(s.Result, strCompare(k.StrCmp, args[0].asStr(), args[1].asStr()))
	case k.Str != nil && rc == classStr && len(args) == 2 && pc(0) == classStr && pc(1) == classStr:
		return withStr(s.Result, strBinary(k.Str, args[0].asStr(), args[1].asStr()))
	case k.Logic != functions.NoLogic && rc == classInt:
		return withInt(s.Result, logic(k.Logic, args))
	case k.IntToMillis != nil && pc(0) == classInt && isMillis(s.Result) && constTail(args):
		return withMillis(s.Result, intToMillis(k.IntToMillis, args[0].asInt()))
	}
	return nil
}

// typedCast is the typed form of a resolved numeric cast of x, or nil.
func typedCast(s *functions.Scalar, x *compiled) *compiled {
	k := s.Typed
	if k == nil {
		return nil
	}
	from, to := classOf(x.typ), classOf(s.Result)
	switch {
	case k.Int != nil && from == classInt && to == classInt:
		return withInt(s.Result, intUnary(k.Int, x.asInt()))
	case k.Float != nil && from == classFloat && to == classFloat:
		return withFloat(s.Result, floatUnary(k.Float, x.asFloat()))
	case k.IntToFloat != nil && from == classInt && to == classFloat:
		f, conv := x.asInt(), k.IntToFloat
		return withFloat(s.Result, func(r *row.Row) (float64, bool, error) {
			v, null, err := f(r)
			if err != nil || null {
				return 0, null, err
			}
			return conv(v), false, nil
		})
	case k.FloatToInt != nil && from == classFloat && to == classInt:
		f, conv := x.asFloat(), k.FloatToInt
		return withInt(s.Result, func(r *row.Row) (int64, bool, error) {
			v, null, err := f(r)
			if err != nil || null {
				return 0, null, err
			}
			return conv(v), false, nil
		})
	}
	return nil
}

func intUnary(k func(a, b int64) (int64, error), a intFn) intFn {
	return func(r *row.Row) (int64, bool, error) {
		x, null, err := a(r)
		if err != nil || null {
			return 0, null, err
		}
		z, err := k(x, 0)
		return z, false, err
	}
}

// intBinary is a strict int kernel over two operands; a non-NULL literal
// right operand (v * 2, id % 2) is folded into the closure.
func intBinary(k func(a, b int64) (int64, error), ax, bx *compiled) intFn {
	a := ax.asInt()
	if c, ok := bx.konstInt(); ok {
		return func(r *row.Row) (int64, bool, error) {
			x, null, err := a(r)
			if err != nil || null {
				return 0, null, err
			}
			z, err := k(x, c)
			return z, false, err
		}
	}
	b := bx.asInt()
	return func(r *row.Row) (int64, bool, error) {
		x, nx, err := a(r)
		if err != nil {
			return 0, false, err
		}
		y, ny, err := b(r)
		if err != nil {
			return 0, false, err
		}
		if nx || ny {
			return 0, true, nil
		}
		z, err := k(x, y)
		return z, false, err
	}
}

func floatUnary(k func(a, b float64) float64, a floatFn) floatFn {
	return func(r *row.Row) (float64, bool, error) {
		x, null, err := a(r)
		if err != nil || null {
			return 0, null, err
		}
		return k(x, 0), false, nil
	}
}

func floatBinary(k func(a, b float64) float64, ax, bx *compiled) floatFn {
	a := ax.asFloat()
	if c, ok := bx.konstFloat(); ok {
		return func(r *row.Row) (float64, bool, error) {
			x, null, err := a(r)
			if err != nil || null {
				return 0, null, err
			}
			return k(x, c), false, nil
		}
	}
	b := bx.asFloat()
	return func(r *row.Row) (float64, bool, error) {
		x, nx, err := a(r)
		if err != nil {
			return 0, false, err
		}
		y, ny, err := b(r)
		if err != nil {
			return 0, false, err
		}
		if nx || ny {
			return 0, true, nil
		}
		return k(x, y), false, nil
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func intCompare(k func(a, b int64) bool, ax, bx *compiled) intFn {
	a := ax.asInt()
	if c, ok := bx.konstInt(); ok {
		return func(r *row.Row) (int64, bool, error) {
			x, null, err := a(r)
			if err != nil || null {
				return 0, null, err
			}
			return b2i(k(x, c)), false, nil
		}
	}
	b := bx.asInt()
	return func(r *row.Row) (int64, bool, error) {
		x, nx, err := a(r)
		if err != nil {
			return 0, false, err
		}
		y, ny, err := b(r)
		if err != nil {
			return 0, false, err
		}
		if nx || ny {
			return 0, true, nil
		}
		return b2i(k(x, y)), false, nil
	}
}

func floatCompare(k func(a, b float64) bool, a, b floatFn) intFn {
	return func(r *row.Row) (int64, bool, error) {
		x, nx, err := a(r)
		if err != nil {
			return 0, false, err
		}
		y, ny, err := b(r)
		if err != nil {
			return 0, false, err
		}
		if nx || ny {
			return 0, true, nil
		}
		return b2i(k(x, y)), false, nil
	}
}

func strCompare(k func(a, b string) bool, a, b strFn) intFn {
	return func(r *row.Row) (int64, bool, error) {
		x, nx, err := a(r)
		if err != nil {
			return 0, false, err
		}
		y, ny, err := b(r)
		if err != nil {
			return 0, false, err
		}
		if nx || ny {
			return 0, true, nil
		}
		return b2i(k(x, y)), false, nil
	}
}

func strBinary(k func(a, b string) string, a, b strFn) strFn {
	return func(r *row.Row) (string, bool, error) {
		x, nx, err := a(r)
		if err != nil {
			return "", false, err
		}
		y, ny, err := b(r)
		if err != nil {
			return "", false, err
		}
		if nx || ny {
			return "", true, nil
		}
		return k(x, y), false, nil
	}
}

// logic is AND, OR, NOT and the IS tests. AND and OR evaluate every
// operand in order (an error is returned at once, as the generic call
// does) before applying three-valued logic.
func logic(op functions.Logic, args []*compiled) intFn {
	fs := make([]intFn, len(args))
	for i, a := range args {
		fs[i] = a.asInt()
	}
	switch op {
	case functions.LogicAnd, functions.LogicOr:
		and := op == functions.LogicAnd
		if len(fs) == 2 {
			a, b := fs[0], fs[1]
			return func(r *row.Row) (int64, bool, error) {
				x, nx, err := a(r)
				if err != nil {
					return 0, false, err
				}
				y, ny, err := b(r)
				if err != nil {
					return 0, false, err
				}
				if (!nx && (x != 0) != and) || (!ny && (y != 0) != and) {
					return b2i(!and), false, nil
				}
				if nx || ny {
					return 0, true, nil
				}
				return b2i(and), false, nil
			}
		}
		return func(r *row.Row) (int64, bool, error) {
			decided, sawNull := false, false
			for _, f := range fs {
				v, null, err := f(r)
				if err != nil {
					return 0, false, err
				}
				switch {
				case null:
					sawNull = true
				case (v != 0) != and:
					decided = true
				}
			}
			switch {
			case decided:
				return b2i(!and), false, nil
			case sawNull:
				return 0, true, nil
			}
			return b2i(and), false, nil
		}
	case functions.LogicNot:
		a := fs[0]
		return func(r *row.Row) (int64, bool, error) {
			x, null, err := a(r)
			if err != nil || null {
				return 0, null, err
			}
			return b2i(x == 0), false, nil
		}
	}
	a := fs[0]
	return func(r *row.Row) (int64, bool, error) {
		x, null, err := a(r)
		if err != nil {
			return 0, false, err
		}
		return b2i(op.IsTest(x != 0, null)), false, nil
	}
}

// setter writes an expression's value for the input row into field dst
// of the output row (which may be the input row itself, for computed
// columns: the value is read before it is written) and reports whether
// it was NULL.
type setter func(in, out *row.Row) (null bool, err error)

func newSetter(x *compiled, dst int) setter {
	if x.ref > 0 {
		src := x.ref - 1
		switch classOf(x.typ) {
		case classInt:
			return func(in, out *row.Row) (bool, error) {
				if in.IsNull(src) {
					out.SetNull(dst)
					return true, nil
				}
				out.SetInt(dst, in.Int(src))
				return false, nil
			}
		case classFloat:
			return func(in, out *row.Row) (bool, error) {
				if in.IsNull(src) {
					out.SetNull(dst)
					return true, nil
				}
				out.SetFloat(dst, in.Float(src))
				return false, nil
			}
		case classStr:
			return func(in, out *row.Row) (bool, error) {
				if in.IsNull(src) {
					out.SetNull(dst)
					return true, nil
				}
				out.SetStr(dst, in.Str(src))
				return false, nil
			}
		}
	}
	switch {
	case x.em != nil && isMillis(x.typ):
		return millisSetter(x.em, dst)
	case x.ei != nil:
		f := x.ei
		return func(in, out *row.Row) (bool, error) {
			v, null, err := f(in)
			if err != nil {
				return false, err
			}
			if null {
				out.SetNull(dst)
				return true, nil
			}
			out.SetInt(dst, v)
			return false, nil
		}
	case x.ef != nil:
		f := x.ef
		return func(in, out *row.Row) (bool, error) {
			v, null, err := f(in)
			if err != nil {
				return false, err
			}
			if null {
				out.SetNull(dst)
				return true, nil
			}
			out.SetFloat(dst, v)
			return false, nil
		}
	case x.es != nil:
		f := x.es
		return func(in, out *row.Row) (bool, error) {
			v, null, err := f(in)
			if err != nil {
				return false, err
			}
			if null {
				out.SetNull(dst)
				return true, nil
			}
			out.SetStr(dst, v)
			return false, nil
		}
	}
	ev := x.eval
	return func(in, out *row.Row) (bool, error) {
		v, err := ev(in)
		if err != nil {
			return false, err
		}
		functions.Write(out, dst, v)
		return v.Null, nil
	}
}

// predicate is a WHERE condition: whether the row is kept (TRUE; NULL
// and FALSE drop it).
type predicate func(r *row.Row) (bool, error)

func newPredicate(x *compiled) predicate {
	if x.ei != nil {
		f := x.ei
		return func(r *row.Row) (bool, error) {
			v, null, err := f(r)
			return err == nil && !null && v != 0, err
		}
	}
	ev := x.eval
	return func(r *row.Row) (bool, error) {
		v, err := ev(r)
		return err == nil && !v.Null && v.Bool(), err
	}
}
