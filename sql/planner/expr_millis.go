package planner

import (
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Timestamps of precision ≤ 3 live in a row as epoch milliseconds, so a
// function that makes one from an integer (TO_TIMESTAMP_LTZ(n, 3), a
// table's rowtime expression) has a typed form over int64 milliseconds
// (functions.Typed.IntToMillis): compiled.em, written by newSetter
// without a functions.Value. Other expressions read it through its
// evalFn adapter.

// isMillis reports whether values of t are epoch milliseconds in a row.
func isMillis(t types.Type) bool {
	return (t.Kind == types.Timestamp || t.Kind == types.TimestampLTZ) && t.Precision <= 3
}

// constTail reports whether every argument after the first is a literal
// (TO_TIMESTAMP_LTZ's precision), so a kernel of the first may stand for
// the call.
func constTail(args []*compiled) bool {
	for _, a := range args[1:] {
		if a.konst == nil {
			return false
		}
	}
	return true
}

// intToMillis is a strict kernel from an integer to milliseconds.
func intToMillis(k func(int64) int64, a intFn) intFn {
	return func(r *row.Row) (int64, bool, error) {
		x, null, err := a(r)
		if err != nil || null {
			return 0, null, err
		}
		return k(x), false, nil
	}
}

// withMillis makes a compiled timestamp expression of type t from its
// typed millisecond closure, with the evalFn adapter.
func withMillis(t types.Type, f intFn) *compiled {
	return &compiled{typ: t, em: f, eval: func(r *row.Row) (functions.Value, error) {
		v, null, err := f(r)
		if err != nil {
			return functions.Value{}, err
		}
		if null {
			return functions.Null(), nil
		}
		return functions.TS(row.TimestampFromMillis(v)), nil
	}}
}

func millisSetter(f intFn, dst int) setter {
	return func(in, out *row.Row) (bool, error) {
		v, null, err := f(in)
		if err != nil {
			return false, err
		}
		if null {
			out.SetNull(dst)
			return true, nil
		}
		out.SetTimestamp(dst, row.TimestampFromMillis(v))
		return false, nil
	}
}
