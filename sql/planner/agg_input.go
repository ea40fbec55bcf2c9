package planner

import (
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// The input of a window's aggregates: per row, each aggregate call's
// arguments evaluated and folded into its accumulator. COUNT, SUM, AVG,
// MIN and MAX over integers and floating point values
// (functions.Aggregate.Typed) take their argument from a typed closure
// (expr_typed.go) through functions.TypedAdder, without a
// functions.Value; the others get Values.

// newAggInput compiles the aggregates' arguments and FILTERs over rows of
// sc. The function it returns keeps buffers: one per goroutine.
func newAggInput(c *compiler, sc *scope, aggs []*aggSpec) (func(r *row.Row, accs []functions.Accumulator) error, error) {
	type aggIn struct {
		args   []evalFn
		ai     intFn
		af     floatFn
		star   bool // typed COUNT(*)
		filter predicate
		buf    []functions.Value
	}
	ins := make([]aggIn, len(aggs))
	for k, a := range aggs {
		in := &ins[k]
		typed := a.agg.Typed()
		for j, ae := range a.args {
			x, err := c.compile(ae, sc)
			if err != nil {
				return nil, err
			}
			if x, err = c.cast(ae, x, a.params[j], false); err != nil {
				return nil, err
			}
			in.args = append(in.args, x.eval)
			if typed {
				if a.params[j].IsApproximate() {
					in.af = x.asFloat()
				} else {
					in.ai = x.asInt()
				}
			}
		}
		in.star = typed && len(a.args) == 0
		if a.call.Filter != nil {
			x, err := c.compile(a.call.Filter, sc)
			if err != nil {
				return nil, err
			}
			in.filter = newPredicate(x)
		}
		in.buf = make([]functions.Value, len(a.args))
	}
	return func(r *row.Row, accs []functions.Accumulator) error {
		for k := range ins {
			in := &ins[k]
			if in.filter != nil {
				ok, err := in.filter(r)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			switch {
			case in.star:
				accs[k].(functions.TypedAdder).AddInt(0, false)
				continue
			case in.ai != nil:
				v, null, err := in.ai(r)
				if err != nil {
					return err
				}
				accs[k].(functions.TypedAdder).AddInt(v, null)
				continue
			case in.af != nil:
				v, null, err := in.af(r)
				if err != nil {
					return err
				}
				accs[k].(functions.TypedAdder).AddFloat(v, null)
				continue
			}
			for j, ev := range in.args {
				v, err := ev(r)
				if err != nil {
					return err
				}
				in.buf[j] = v
			}
			accs[k].Add(in.buf)
		}
		return nil
	}, nil
}

// directAggInput is the aggregates' input where every one is typed, reads
// a column of its parameter type or nothing (COUNT(*)) and has no
// FILTER: it reads the row's slots and keeps no state, so all goroutines
// may share it. Nil otherwise.
func directAggInput(c *compiler, sc *scope, aggs []*aggSpec) func(r *row.Row, accs []functions.Accumulator) {
	type col struct {
		idx   int // -1: COUNT(*)
		float bool
	}
	cols := make([]col, len(aggs))
	for k, a := range aggs {
		if !a.agg.Typed() || a.call.Filter != nil {
			return nil
		}
		switch len(a.args) {
		case 0:
			cols[k] = col{idx: -1}
			continue
		case 1:
		default:
			return nil
		}
		n, ok := a.args[0].(*ast.Name)
		if !ok {
			return nil
		}
		x, err := c.compile(n, sc)
		if err != nil || x.ref == 0 || !sameSlotType(x.typ, a.params[0]) {
			return nil
		}
		cols[k] = col{idx: x.ref - 1, float: a.params[0].IsApproximate()}
	}
	return func(r *row.Row, accs []functions.Accumulator) {
		for k, cl := range cols {
			t := accs[k].(functions.TypedAdder)
			switch {
			case cl.idx < 0:
				t.AddInt(0, false)
			case cl.float:
				t.AddFloat(r.Float(cl.idx), r.IsNull(cl.idx))
			default:
				t.AddInt(r.Int(cl.idx), r.IsNull(cl.idx))
			}
		}
	}
}

// sameSlotType reports whether a column of type t holds the values of
// parameter type p without a cast.
func sameSlotType(t, p types.Type) bool {
	return t.Kind == p.Kind
}
