package functions

import (
	"cmp"
	"math"
	"strings"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Value is one SQL value during evaluation, unboxed by kind so that
// passing it does not allocate: I holds BOOLEAN (0 or 1), the integers,
// DATE (days), TIME (nanoseconds of the day) and intervals (months or
// milliseconds); F holds FLOAT and DOUBLE; S the character and binary
// strings; D DECIMAL; T TIMESTAMP and TIMESTAMP_LTZ; R the nested values
// (ARRAY []any, MAP and MULTISET *row.MapValue, ROW *row.Row) in
// package row's canonical form. Which field is meaningful follows from the
// static type, which the caller knows.
type Value struct {
	Null bool
	I    int64
	F    float64
	S    string
	D    row.Decimal
	T    row.Timestamp
	R    any
}

// Constructors.

// Null is the NULL value.
func Null() Value { return Value{Null: true} }

// Int is an integer-slot value (see Value).
func Int(v int64) Value { return Value{I: v} }

// Bool is a BOOLEAN.
func Bool(b bool) Value {
	if b {
		return Value{I: 1}
	}
	return Value{}
}

// Float is a FLOAT or DOUBLE.
func Float(f float64) Value { return Value{F: f} }

// Str is a character or binary string.
func Str(s string) Value { return Value{S: s} }

// Dec is a DECIMAL.
func Dec(d row.Decimal) Value { return Value{D: d} }

// TS is a TIMESTAMP or TIMESTAMP_LTZ.
func TS(t row.Timestamp) Value { return Value{T: t} }

// Bool reports a BOOLEAN value's truth.
func (v Value) Bool() bool { return v.I != 0 }

// Read is field i of r as a Value. It does not allocate.
func Read(r *row.Row, i int) Value {
	if r.IsNull(i) {
		return Value{Null: true}
	}
	switch t := r.L.Type(i); t.Kind {
	case types.Float, types.Double:
		return Value{F: r.Float(i)}
	case types.Decimal:
		return Value{D: r.Decimal(i)}
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		return Value{S: r.Str(i)}
	case types.Timestamp, types.TimestampLTZ:
		return Value{T: r.Timestamp(i)}
	case types.Array, types.Map, types.Multiset, types.Row, types.Null:
		return Value{R: r.Ref(i)}
	default:
		return Value{I: r.Int(i)}
	}
}

// Write sets field i of r to v. It does not allocate for fixed-width
// and string fields.
func Write(r *row.Row, i int, v Value) {
	if v.Null {
		r.SetNull(i)
		return
	}
	switch t := r.L.Type(i); t.Kind {
	case types.Float, types.Double:
		r.SetFloat(i, v.F)
	case types.Decimal:
		r.SetDecimal(i, v.D)
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		r.SetStr(i, v.S)
	case types.Timestamp, types.TimestampLTZ:
		r.SetTimestamp(i, v.T)
	case types.Array, types.Map, types.Multiset, types.Row, types.Null:
		r.SetRef(i, v.R)
	default:
		r.SetInt(i, v.I)
	}
}

// FromAny is the Value of a canonical value (see row.Row.Get) of type t.
func FromAny(t types.Type, x any) Value {
	if x == nil {
		return Null()
	}
	switch t.Kind {
	case types.Boolean:
		return Bool(x.(bool))
	case types.Float, types.Double:
		return Float(x.(float64))
	case types.Decimal:
		return Dec(x.(row.Decimal))
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		return Str(x.(string))
	case types.Timestamp, types.TimestampLTZ:
		return TS(x.(row.Timestamp))
	case types.Array, types.Map, types.Multiset, types.Row:
		return Value{R: x}
	}
	return Int(x.(int64))
}

// ToAny is v's canonical value (see row.Row.Get) for type t.
func ToAny(t types.Type, v Value) any {
	if v.Null {
		return nil
	}
	switch t.Kind {
	case types.Boolean:
		return v.Bool()
	case types.Float, types.Double:
		return v.F
	case types.Decimal:
		return v.D
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		return v.S
	case types.Timestamp, types.TimestampLTZ:
		return v.T
	case types.Array, types.Map, types.Multiset, types.Row, types.Null:
		return v.R
	}
	return v.I
}

// Compare orders two non-NULL values of one comparable type (the caller
// casts both to their common type first): -1, 0 or 1. Floating point
// orders NaN above everything, as Java's Double.compare; -0.0 equals 0.0.
// Nested values compare by their key encoding, which is SQL order.
func Compare(t types.Type, a, b Value) int {
	switch t.Kind {
	case types.Float, types.Double:
		return compareFloat(a.F, b.F)
	case types.Decimal:
		return a.D.Cmp(b.D)
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		return strings.Compare(a.S, b.S)
	case types.Timestamp, types.TimestampLTZ:
		return a.T.Compare(b.T)
	case types.Array, types.Map, types.Multiset, types.Row:
		l := row.NewLayout([]types.Type{t, t}, nil)
		r := l.New()
		r.SetRef(0, a.R)
		r.SetRef(1, b.R)
		ka := row.NewKeyEncoder(l, []int{0}).Append(nil, r)
		kb := row.NewKeyEncoder(l, []int{1}).Append(nil, r)
		return strings.Compare(string(ka), string(kb))
	}
	return cmp.Compare(a.I, b.I)
}

// compareFloat is Compare of two floating point values.
func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return cmp.Compare(btoi(math.IsNaN(a)), btoi(math.IsNaN(b)))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
