package row

import (
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/sql/types"
)

// String prints the row as Flink's print connector does:
// +I[1, abc, 2024-01-01T00:00] (each field as its Java external type's
// toString: see AppendJava).
func (r *Row) String() string { return string(r.AppendJava(nil)) }

// AppendJava appends the row's print form.
func (r *Row) AppendJava(dst []byte) []byte {
	dst = append(dst, r.Kind.String()...)
	dst = append(dst, '[')
	for i := range r.L.types {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = AppendJava(dst, r.L.types[i], r.Get(i))
	}
	return append(dst, ']')
}

// AppendJava appends v (canonical form, see Row.Get) of type t as the
// toString of Flink's default external class for t, which is what the
// print connector and Row.toString show: true, 1, 1.5, 1.0E10,
// 2024-01-01, 12:30, 2024-01-01T12:30:00.500, 2024-01-01T12:30:00Z
// (TIMESTAMP_LTZ, as java.time.Instant), P1Y2M, PT5S, [1, 2] (arrays and
// bytes), {a=1} (maps), null.
func AppendJava(dst []byte, t types.Type, v any) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	switch t.Kind {
	case types.Boolean:
		return strconv.AppendBool(dst, v.(bool))
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		return strconv.AppendInt(dst, v.(int64), 10)
	case types.Float:
		return AppendJavaFloat(dst, v.(float64), 32)
	case types.Double:
		return AppendJavaFloat(dst, v.(float64), 64)
	case types.Decimal:
		return append(dst, v.(Decimal).JavaString()...)
	case types.Char, types.VarChar:
		return append(dst, v.(string)...)
	case types.Binary, types.VarBinary:
		s := v.(string)
		dst = append(dst, '[')
		for i := 0; i < len(s); i++ {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = strconv.AppendInt(dst, int64(int8(s[i])), 10)
		}
		return append(dst, ']')
	case types.Date:
		return AppendDate(dst, v.(int64))
	case types.Time:
		return AppendTimeJava(dst, v.(int64))
	case types.Timestamp:
		return AppendTimestampJava(dst, v.(Timestamp))
	case types.TimestampLTZ:
		return AppendInstantJava(dst, v.(Timestamp))
	case types.IntervalYearMonth:
		return AppendPeriodJava(dst, v.(int64))
	case types.IntervalDayTime:
		return AppendDurationJava(dst, v.(int64))
	case types.Array:
		dst = append(dst, '[')
		for i, e := range v.([]any) {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendJava(dst, *t.Elem, e)
		}
		return append(dst, ']')
	case types.Map, types.Multiset:
		m := v.(*MapValue)
		vt := types.IntType()
		if t.Kind == types.Map {
			vt = *t.Value
		}
		dst = append(dst, '{')
		for i := range m.Keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendJava(dst, *t.Elem, m.Keys[i])
			dst = append(dst, '=')
			dst = AppendJava(dst, vt, m.Values[i])
		}
		return append(dst, '}')
	case types.Row:
		return v.(*Row).AppendJava(dst)
	}
	return append(dst, "?"...)
}

// AppendJavaFloat appends f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) since JDK 19 (shortest digits that read back):
// 1.0, 0.001, 1.0E7, 1.0E-4, NaN, Infinity, -0.0.
func AppendJavaFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	e := strconv.FormatFloat(f, 'e', -1, bitSize) // d.ddde±XX
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	neg := mant[0] == '-'
	if neg {
		mant = mant[1:]
		dst = append(dst, '-')
	}
	digits := strings.Replace(mant, ".", "", 1)
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		// Plain: the point after exp+1 digits.
		if exp >= 0 {
			if len(digits) <= exp+1 {
				dst = append(dst, digits...)
				for i := len(digits); i < exp+1; i++ {
					dst = append(dst, '0')
				}
				return append(dst, ".0"...)
			}
			dst = append(dst, digits[:exp+1]...)
			dst = append(dst, '.')
			return append(dst, digits[exp+1:]...)
		}
		dst = append(dst, "0."...)
		for i := 0; i < -exp-1; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[0], '.')
	if len(digits) > 1 {
		dst = append(dst, digits[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}
