package functions

import (
	"github.com/sluicehq/sluice/sql/types"
)

// Conditional functions. Their operands are cast to their common type
// (types.CommonType), as Flink's CASE is.

func registerConditional(r *Registry) {
	// COALESCE(a, b, ...): the first non-NULL; NULL only if all are.
	r.add("COALESCE", "COALESCE(<ANY>, ...)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		t, ok := common(args, 0)
		if !ok || len(args) == 0 {
			return nil, false, nil
		}
		nullable := true
		for _, a := range args {
			nullable = nullable && a.Type.IsNullable()
		}
		return &Scalar{Result: t.WithNullable(nullable), Params: castAll(args, t), Eval: func(a []Value) (Value, error) {
			for _, v := range a {
				if !v.Null {
					return v, nil
				}
			}
			return Null(), nil
		}}, true, nil
	})
	r.add("IFNULL", "IFNULL(<ANY>, <ANY>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 {
			return nil, false, nil
		}
		t, ok := common(args, 0)
		if !ok {
			return nil, false, nil
		}
		return &Scalar{Result: t.WithNullable(args[0].Type.IsNullable() && args[1].Type.IsNullable()), Params: castAll(args, t),
			Eval: func(a []Value) (Value, error) {
				if a[0].Null {
					return a[1], nil
				}
				return a[0], nil
			}}, true, nil
	})
	// NULLIF(a, b): NULL if a = b, else a.
	r.add("NULLIF", "NULLIF(<ANY>, <ANY>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 {
			return nil, false, nil
		}
		ct, err := types.ComparisonType(args[0].Type, args[1].Type)
		if err != nil {
			return nil, false, nil
		}
		if ct.Kind != args[0].Type.Kind && args[0].Type.Kind != types.Null {
			// The result has a's type; compare in the common type only
			// when a already has it (a planner casts otherwise).
			ct = args[0].Type
			if !types.CanImplicitCast(args[1].Type.Nullable(), ct.Nullable()) {
				return nil, false, nil
			}
		}
		return &Scalar{Result: args[0].Type.Nullable(), Params: []types.Type{ct.WithNullable(args[0].Type.IsNullable()), ct.WithNullable(args[1].Type.IsNullable())},
			Eval: func(a []Value) (Value, error) {
				if a[0].Null || a[1].Null {
					return a[0], nil
				}
				if Compare(ct, a[0], a[1]) == 0 {
					return Null(), nil
				}
				return a[0], nil
			}}, true, nil
	})
	// IF(cond, a, b): a when cond is TRUE, b when FALSE or NULL.
	r.add("IF", "IF(<BOOLEAN>, <ANY>, <ANY>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 3 {
			return nil, false, nil
		}
		if _, ok := pBool.accepts(args[0].Type); !ok {
			return nil, false, nil
		}
		t, ok := common(args, 1)
		if !ok {
			return nil, false, nil
		}
		nullable := args[1].Type.IsNullable() || args[2].Type.IsNullable()
		params := append([]types.Type{types.BooleanType().WithNullable(args[0].Type.IsNullable())}, castAll(args[1:], t)...)
		return &Scalar{Result: t.WithNullable(nullable), Params: params, Eval: func(a []Value) (Value, error) {
			if !a[0].Null && a[0].Bool() {
				return a[1], nil
			}
			return a[2], nil
		}}, true, nil
	})
	for _, least := range []bool{false, true} {
		name := "GREATEST"
		if least {
			name = "LEAST"
		}
		// NULL if any argument is NULL, as in Flink.
		r.add(name, name+"(<COMPARABLE>, ...)", func(c *Context, args []Arg) (*Scalar, bool, error) {
			t, ok := common(args, 0)
			if !ok || len(args) == 0 || t.Kind == types.Map || t.Kind == types.Multiset {
				return nil, false, nil
			}
			return &Scalar{Result: t.WithNullable(anyNullable(args)), Params: castAll(args, t), Eval: strict(func(a []Value) (Value, error) {
				best := a[0]
				for _, v := range a[1:] {
					c := Compare(t, v, best)
					if (least && c < 0) || (!least && c > 0) {
						best = v
					}
				}
				return best, nil
			})}, true, nil
		})
	}
}

// common is the common type of args[from:], nullable.
func common(args []Arg, from int) (types.Type, bool) {
	ts := argTypes(args[from:])
	allNull := true
	for _, t := range ts {
		allNull = allNull && t.Kind == types.Null
	}
	if allNull && len(ts) > 0 {
		return types.NullType(), true
	}
	if mixesTimeAndNumber(ts) {
		return types.Type{}, false
	}
	t, ok := types.CommonType(ts...)
	return t.Nullable(), ok
}

// mixesTimeAndNumber reports operands that CommonType would merge by
// Flink's arithmetic patterns (DATE with a number of days, a datetime with
// an interval) but that Calcite's operand checks reject for comparisons,
// CASE and COALESCE: a datetime or interval beside a number, or a datetime
// beside an interval.
func mixesTimeAndNumber(ts []types.Type) bool {
	var num, dt, iv bool
	for _, t := range ts {
		num = num || t.IsNumeric()
		dt = dt || t.IsDatetime()
		iv = iv || t.IsInterval()
	}
	return (num && (dt || iv)) || (dt && iv)
}

func castAll(args []Arg, t types.Type) []types.Type {
	ps := make([]types.Type, len(args))
	for i, a := range args {
		ps[i] = t.WithNullable(a.Type.IsNullable())
	}
	return ps
}
