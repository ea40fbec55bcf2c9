package functions

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Cast resolves CAST(x AS to) (try false) or TRY_CAST (try true) for an
// x of type from, as Flink 1.15+ does (table.exec.legacy-cast-behaviour
// off): a value that cannot be converted (a string that is not a number)
// is a RuntimeError for CAST and NULL for TRY_CAST; a DECIMAL that does
// not fit its precision is NULL for both; integer narrowing wraps and
// floating point to integer saturates, as Java's casts. Casts to and
// from nested types other than to a string, and casts between intervals
// and numbers, are not supported yet and return an error saying so.
func Cast(c *Context, from, to types.Type, try bool) (*Scalar, error) {
	if err := types.CheckCast(from, to); err != nil {
		return nil, err
	}
	conv, err := converter(c, from.Nullable(), to.Nullable())
	if err != nil {
		return nil, err
	}
	name := "CAST"
	if try {
		name = "TRY_CAST"
	}
	rt := types.CastResultType(from, to, try)
	if to.Kind == types.Decimal && types.CastCanFail(from, to) {
		rt = rt.Nullable() // an overflowing DECIMAL is NULL
	}
	return &Scalar{Name: name, Result: rt, Params: []types.Type{from}, Typed: castTyped(from, to),
		Eval: func(a []Value) (Value, error) {
			if a[0].Null {
				return Null(), nil
			}
			v, err := conv(a[0])
			if err != nil {
				if try {
					return Null(), nil
				}
				return Value{}, err
			}
			return v, nil
		}}, nil
}

type convFn func(Value) (Value, error)

func castErr(v string, to types.Type) error {
	return &RuntimeError{Msg: fmt.Sprintf("Cannot cast '%s' to %s", v, to)}
}

func converter(c *Context, from, to types.Type) (convFn, error) {
	loc := c.loc()
	notYet := fmt.Errorf("CAST from %s to %s is not supported yet", from, to)
	switch {
	case from.Kind == types.Null:
		return func(Value) (Value, error) { return Null(), nil }, nil
	case to.IsCharString():
		fs := toStringFn(c, from)
		if fs == nil {
			return nil, notYet
		}
		return func(v Value) (Value, error) { return Str(fitString(fs(v), to)), nil }, nil
	case from.IsCharString():
		return fromString(c, to)
	case to.IsBinaryString():
		return func(v Value) (Value, error) {
			if to.Kind == types.Binary && len(v.S) < to.Precision {
				return Str(v.S + strings.Repeat("\x00", to.Precision-len(v.S))), nil
			}
			if len(v.S) > to.Precision {
				return Str(v.S[:to.Precision]), nil
			}
			return v, nil
		}, nil
	case from.Kind == to.Kind && (to.Kind == types.Array || to.Kind == types.Multiset || to.Kind == types.Map):
		if fn := collectionConv(c, from, to); fn != nil {
			return fn, nil
		}
		return nil, notYet
	case to.Kind == types.Boolean:
		switch {
		case from.IsInteger():
			return func(v Value) (Value, error) { return Bool(v.I != 0), nil }, nil
		case from.Kind == types.Boolean:
			return func(v Value) (Value, error) { return v, nil }, nil
		}
	case to.IsNumeric() && (from.IsNumeric() || from.Kind == types.Boolean):
		return numericConv(from, to), nil
	case to.IsNumeric() && from.Kind == types.TimestampLTZ:
		// Epoch seconds.
		return func(v Value) (Value, error) {
			sec, _ := floorDivMs(v.T.Millis, 1000)
			return numericConv(types.BigIntType(), to)(Int(sec))
		}, nil
	case to.Kind == types.TimestampLTZ && from.IsNumeric():
		toD := numericConv(from, types.DecimalType(38, 3))
		return func(v Value) (Value, error) {
			d, _ := toD(v)
			if d.Null {
				return Null(), nil
			}
			ms, _ := d.D.Mul(row.NewDecimal(1000, 0)).Int64()
			return TS(row.TimestampFromMillis(ms).Truncate(to.Precision)), nil
		}, nil
	case to.Kind == types.Date && from.IsTimestamp():
		return func(v Value) (Value, error) { return Int(row.DateOf(localOf(from, v, loc))), nil }, nil
	case to.Kind == types.Time && (from.IsTimestamp() || from.Kind == types.Time):
		return func(v Value) (Value, error) {
			return Int(row.TimeOfPrecision(row.TimeOf(localOf(from, v, loc)), to.Precision)), nil
		}, nil
	case to.IsTimestamp() && (from.IsTimestamp() || from.Kind == types.Date):
		return func(v Value) (Value, error) { return fromLocal(to, localOf(from, v, loc), loc), nil }, nil
	case to.Kind == from.Kind && to.IsInterval():
		// One representation per family (milliseconds or months): a
		// change of resolution does not change the value.
		return func(v Value) (Value, error) { return v, nil }, nil
	case to.Kind == from.Kind && (to.IsConstructed()):
		if from.Equal(to) {
			return func(v Value) (Value, error) { return v, nil }, nil
		}
	}
	return nil, notYet
}

// fitString applies a target CHAR(n) or VARCHAR(n) length: longer
// strings are truncated, CHAR is padded with spaces (Flink 1.16+).
func fitString(s string, to types.Type) string {
	if to.Precision >= types.MaxLength {
		return s
	}
	n := utf8.RuneCountInString(s)
	if n > to.Precision {
		s = string([]rune(s)[:to.Precision])
	} else if to.Kind == types.Char && n < to.Precision {
		s += strings.Repeat(" ", to.Precision-n)
	}
	return s
}

// toStringFn is CAST(x AS STRING) for x of type t, or nil.
func toStringFn(c *Context, t types.Type) func(Value) string {
	loc := c.loc()
	switch t.Kind {
	case types.Boolean:
		return func(v Value) string {
			if v.Bool() {
				return "TRUE"
			}
			return "FALSE"
		}
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		return func(v Value) string { return strconv.FormatInt(v.I, 10) }
	case types.Float:
		return func(v Value) string { return string(row.AppendJavaFloat(nil, v.F, 32)) }
	case types.Double:
		return func(v Value) string { return string(row.AppendJavaFloat(nil, v.F, 64)) }
	case types.Decimal:
		return func(v Value) string { return v.D.String() }
	case types.Char, types.VarChar:
		return func(v Value) string { return v.S }
	case types.Binary, types.VarBinary:
		return func(v Value) string { return strings.ToValidUTF8(v.S, "\uFFFD") }
	case types.Date:
		return func(v Value) string { return string(row.AppendDate(nil, v.I)) }
	case types.Time:
		return func(v Value) string { return string(row.AppendTimeSQL(nil, v.I, t.Precision)) }
	case types.Timestamp:
		return func(v Value) string { return string(row.AppendTimestampSQL(nil, v.T, t.Precision)) }
	case types.TimestampLTZ:
		return func(v Value) string { return string(row.AppendTimestampSQL(nil, row.LocalOf(v.T, loc), t.Precision)) }
	case types.IntervalYearMonth:
		return func(v Value) string { return string(row.AppendYearMonthInterval(nil, v.I)) }
	case types.IntervalDayTime:
		return func(v Value) string { return string(row.AppendDayTimeInterval(nil, v.I)) }
	case types.Array, types.Map, types.Multiset:
		return func(v Value) string { return string(row.AppendJava(nil, t, v.R)) }
	case types.Row:
		return func(v Value) string {
			s := string(v.R.(*row.Row).AppendJava(nil))
			// Flink prints a ROW cast to a string as (a, b).
			return "(" + s[strings.IndexByte(s, '[')+1:len(s)-1] + ")"
		}
	}
	return nil
}

// fromString is CAST(string AS to).
func fromString(c *Context, to types.Type) (convFn, error) {
	loc := c.loc()
	switch to.Kind {
	case types.Boolean:
		return func(v Value) (Value, error) {
			switch strings.ToUpper(strings.TrimSpace(v.S)) {
			case "TRUE", "T", "YES", "Y", "1":
				return Bool(true), nil
			case "FALSE", "F", "NO", "N", "0":
				return Bool(false), nil
			}
			return Value{}, castErr(v.S, to)
		}, nil
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		bits := intBits(to.Kind)
		return func(v Value) (Value, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(v.S), 10, bits)
			if err != nil {
				return Value{}, castErr(v.S, to)
			}
			return Int(n), nil
		}, nil
	case types.Float, types.Double:
		bits := 64
		if to.Kind == types.Float {
			bits = 32
		}
		return func(v Value) (Value, error) {
			s := strings.TrimSpace(v.S)
			switch s {
			case "NaN":
				return Float(math.NaN()), nil
			case "Infinity", "+Infinity":
				return Float(math.Inf(1)), nil
			case "-Infinity":
				return Float(math.Inf(-1)), nil
			}
			if strings.ContainsAny(s, "xXpPnNiI_") { // Go-only forms: hex floats, inf, nan, 1_000
				return Value{}, castErr(v.S, to)
			}
			f, err := strconv.ParseFloat(s, bits)
			if err != nil {
				return Value{}, castErr(v.S, to)
			}
			return Float(f), nil
		}, nil
	case types.Decimal:
		return func(v Value) (Value, error) {
			d, err := row.ParseDecimal(v.S)
			if err != nil {
				return Value{}, castErr(v.S, to)
			}
			return decResult(d, to), nil
		}, nil
	case types.Binary, types.VarBinary:
		return func(v Value) (Value, error) {
			if to.Precision < types.MaxLength && len(v.S) > to.Precision {
				return Str(v.S[:to.Precision]), nil
			}
			return v, nil
		}, nil
	case types.Date:
		return func(v Value) (Value, error) {
			d, err := row.ParseDate(v.S)
			if err != nil {
				return Value{}, castErr(v.S, to)
			}
			return Int(d), nil
		}, nil
	case types.Time:
		return func(v Value) (Value, error) {
			n, err := row.ParseTime(v.S)
			if err != nil {
				return Value{}, castErr(v.S, to)
			}
			return Int(row.TimeOfPrecision(n, to.Precision)), nil
		}, nil
	case types.Timestamp, types.TimestampLTZ:
		return func(v Value) (Value, error) {
			ts, err := row.ParseTimestamp(v.S)
			if err != nil {
				return Value{}, castErr(v.S, to)
			}
			return fromLocal(to, ts, loc), nil
		}, nil
	}
	return nil, fmt.Errorf("CAST from STRING to %s is not supported yet", to)
}

// numericConv converts between numeric types (and from BOOLEAN).
// castTyped is the unboxed form of a cast between integers, BOOLEAN and
// floating point (numericConv's kernels), nil for other casts. TRY_CAST
// is the same: these casts cannot fail.
func castTyped(from, to types.Type) *Typed {
	intLike := func(t types.Type) bool { return t.IsInteger() || t.Kind == types.Boolean }
	switch {
	case to.IsInteger() && intLike(from):
		return &Typed{Int: intToInt(intBits(to.Kind))}
	case to.IsInteger() && from.IsApproximate():
		return &Typed{FloatToInt: floatToInt(intBits(to.Kind))}
	case to.IsApproximate() && intLike(from):
		return &Typed{IntToFloat: intToFloat(to.Kind == types.Float)}
	case to.IsApproximate() && from.IsApproximate():
		return &Typed{Float: floatToFloat(to.Kind == types.Float)}
	}
	return nil
}

func intToInt(bits int) func(a, _ int64) (int64, error) {
	return func(a, _ int64) (int64, error) { return wrap(a, bits), nil }
}

func floatToInt(bits int) func(float64) int64 {
	return func(f float64) int64 { return wrap(saturate(f, bits), bits) }
}

func roundTo(single bool, f float64) float64 {
	if single {
		return float64(float32(f))
	}
	return f
}

func intToFloat(single bool) func(int64) float64 {
	return func(i int64) float64 { return roundTo(single, float64(i)) }
}

func floatToFloat(single bool) func(a, _ float64) float64 {
	return func(f, _ float64) float64 { return roundTo(single, f) }
}

func numericConv(from, to types.Type) convFn {
	switch {
	case to.IsInteger():
		bits := intBits(to.Kind)
		switch {
		case from.IsInteger() || from.Kind == types.Boolean:
			k := intToInt(bits)
			return func(v Value) (Value, error) {
				z, _ := k(v.I, 0)
				return Int(z), nil
			}
		case from.IsApproximate():
			k := floatToInt(bits)
			return func(v Value) (Value, error) { return Int(k(v.F)), nil }
		}
		return func(v Value) (Value, error) {
			n, _ := v.D.Int64()
			return Int(wrap(n, bits)), nil
		}
	case to.IsApproximate():
		single := to.Kind == types.Float
		switch {
		case from.IsInteger() || from.Kind == types.Boolean:
			k := intToFloat(single)
			return func(v Value) (Value, error) { return Float(k(v.I)), nil }
		case from.IsApproximate():
			k := floatToFloat(single)
			return func(v Value) (Value, error) { return Float(k(v.F, 0)), nil }
		}
		return func(v Value) (Value, error) { return Float(roundTo(single, v.D.Float64())), nil }
	}
	// To DECIMAL: NULL when it does not fit.
	switch {
	case from.IsInteger() || from.Kind == types.Boolean:
		return func(v Value) (Value, error) { return decResult(row.NewDecimal(v.I, 0), to), nil }
	case from.IsApproximate():
		return func(v Value) (Value, error) {
			d, ok := row.DecimalFromFloat64(v.F, to.Scale)
			if !ok {
				return Null(), nil
			}
			return decResult(d, to), nil
		}
	}
	return func(v Value) (Value, error) { return decResult(v.D, to), nil }
}

// saturate is Java's (long) or (int) of a double: NaN is 0, out-of-range
// values clamp (TINYINT and SMALLINT clamp to INT's range, then wrap).
func saturate(f float64, bits int) int64 {
	if math.IsNaN(f) {
		return 0
	}
	lo, hi := float64(math.MinInt64), float64(math.MaxInt64)
	if bits < 64 {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	switch {
	case f <= lo:
		if bits < 64 {
			return math.MinInt32
		}
		return math.MinInt64
	case f >= hi:
		if bits < 64 {
			return math.MaxInt32
		}
		return math.MaxInt64
	}
	return int64(f)
}

// collectionConv casts an ARRAY, MULTISET or MAP element by element (keys
// and values), where each element's cast is supported; nil otherwise.
func collectionConv(c *Context, from, to types.Type) convFn {
	elem := func(f, t types.Type) func(any) (any, error) {
		if f.Equal(t.WithNullable(f.IsNullable())) {
			return func(x any) (any, error) { return x, nil }
		}
		conv, err := converter(c, f.Nullable(), t.Nullable())
		if err != nil {
			return nil
		}
		return func(x any) (any, error) {
			if x == nil {
				return nil, nil
			}
			v, err := conv(FromAny(f, x))
			if err != nil {
				return nil, err
			}
			return ToAny(t, v), nil
		}
	}
	ke := elem(*from.Elem, *to.Elem)
	if ke == nil {
		return nil
	}
	if to.Kind == types.Array {
		return func(v Value) (Value, error) {
			in := v.R.([]any)
			out := make([]any, len(in))
			for i, x := range in {
				y, err := ke(x)
				if err != nil {
					return Value{}, err
				}
				out[i] = y
			}
			return Value{R: out}, nil
		}
	}
	ve := func(x any) (any, error) { return x, nil } // a MULTISET's counts
	if to.Kind == types.Map {
		if ve = elem(*from.Value, *to.Value); ve == nil {
			return nil
		}
	}
	return func(v Value) (Value, error) {
		in := v.R.(*row.MapValue)
		out := &row.MapValue{Keys: make([]any, len(in.Keys)), Values: make([]any, len(in.Values))}
		for i := range in.Keys {
			k, err := ke(in.Keys[i])
			if err != nil {
				return Value{}, err
			}
			x, err := ve(in.Values[i])
			if err != nil {
				return Value{}, err
			}
			out.Keys[i], out.Values[i] = k, x
		}
		return Value{R: out}, nil
	}
}
