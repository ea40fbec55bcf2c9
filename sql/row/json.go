package row

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/types"
)

// This file converts rows from and to JSON as Flink's json format does
// with its defaults (timestamp-format.standard 'SQL', fields missing from
// an object are NULL, unknown fields ignored): numbers and booleans may
// also come as strings ("42"), a STRING field takes any JSON value (an
// object or array as its JSON text), BYTES are base64, nested objects are
// ROWs and MAPs, TIMESTAMP is "2024-01-02 03:04:05.678" (or ISO-8601 with
// a 'T'), TIMESTAMP_LTZ the same with a 'Z'.

// FieldError is a JSON value that does not convert to its field's type.
// Path names the field: a.b[2].c.
type FieldError struct {
	Path string
	Type types.Type
	Msg  string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("json: field %q of type %s: %s", e.Path, e.Type, e.Msg)
}

// FromJSON decodes one JSON object into a row of l, fields matched by
// name (l must have names). It allocates; errors are *FieldError or a
// JSON syntax error.
func (l *Layout) FromJSON(data []byte) (*Row, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("json: data after the top-level value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &FieldError{Path: "", Type: types.RowType(), Msg: fmt.Sprintf("expected a JSON object, got %s", jsonKind(v))}
	}
	return l.rowFromObject(obj, "")
}

func (l *Layout) rowFromObject(obj map[string]any, prefix string) (*Row, error) {
	r := l.New()
	for i, t := range l.types {
		name := l.Name(i)
		jv, ok := obj[name]
		if !ok || jv == nil {
			continue
		}
		v, err := ValueFromJSON(t, jv, join(prefix, name))
		if err != nil {
			return nil, err
		}
		if err := r.Set(i, v); err != nil {
			return nil, &FieldError{Path: join(prefix, name), Type: t, Msg: err.Error()}
		}
		if _, isDec := v.(Decimal); isDec && r.IsNull(i) {
			return nil, &FieldError{Path: join(prefix, name), Type: t, Msg: fmt.Sprintf("%s does not fit the precision", v)}
		}
	}
	return r, nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// ValueFromJSON converts a value decoded by encoding/json (with UseNumber:
// numbers are json.Number) to the canonical value of type t (see
// Row.Get). path names the value in errors.
func ValueFromJSON(t types.Type, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	fail := func(format string, args ...any) error {
		return &FieldError{Path: path, Type: t, Msg: fmt.Sprintf(format, args...)}
	}
	scalar := func() (string, bool) {
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return string(x), true
		case bool:
			return strconv.FormatBool(x), true
		}
		return "", false
	}
	switch t.Kind {
	case types.Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		s, ok := scalar()
		if !ok {
			return nil, fail("expected a boolean, got %s", jsonKind(v))
		}
		// Java's Boolean.parseBoolean: "true" in any case, else false.
		return strings.EqualFold(strings.TrimSpace(s), "true"), nil
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		s, ok := scalar()
		if !ok {
			return nil, fail("expected a number, got %s", jsonKind(v))
		}
		bits := map[types.Kind]int{types.TinyInt: 8, types.SmallInt: 16, types.Int: 32, types.BigInt: 64}[t.Kind]
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
		if err != nil {
			return nil, fail("cannot parse %q as %s", s, t.Kind)
		}
		return n, nil
	case types.Float, types.Double:
		s, ok := scalar()
		if !ok {
			return nil, fail("expected a number, got %s", jsonKind(v))
		}
		bits := 64
		if t.Kind == types.Float {
			bits = 32
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), bits)
		if err != nil {
			return nil, fail("cannot parse %q as %s", s, t.Kind)
		}
		return f, nil
	case types.Decimal:
		s, ok := scalar()
		if !ok {
			return nil, fail("expected a number, got %s", jsonKind(v))
		}
		d, err := ParseDecimal(s)
		if err != nil {
			return nil, fail("cannot parse %q as %s", s, t.Kind)
		}
		r := d.Rescale(t.Scale)
		if !r.FitsPrecision(t.Precision) {
			return nil, fail("%s does not fit the precision", s)
		}
		return r, nil
	case types.Char, types.VarChar:
		if s, ok := scalar(); ok {
			return s, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fail("%v", err)
		}
		return string(b), nil
	case types.Binary, types.VarBinary:
		s, ok := v.(string)
		if !ok {
			return nil, fail("expected a base64 string, got %s", jsonKind(v))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fail("invalid base64: %v", err)
		}
		return string(b), nil
	case types.Date:
		s, ok := v.(string)
		if !ok {
			return nil, fail("expected a date string, got %s", jsonKind(v))
		}
		days, err := ParseDate(s)
		if err != nil {
			return nil, fail("%v", err)
		}
		return days, nil
	case types.Time:
		s, ok := v.(string)
		if !ok {
			return nil, fail("expected a time string, got %s", jsonKind(v))
		}
		n, err := ParseTime(s)
		if err != nil {
			return nil, fail("%v", err)
		}
		return TimeOfPrecision(n, t.Precision), nil
	case types.Timestamp, types.TimestampLTZ:
		s, ok := v.(string)
		if !ok {
			return nil, fail("expected a timestamp string, got %s", jsonKind(v))
		}
		if t.Kind == types.TimestampLTZ {
			if !strings.HasSuffix(s, "Z") {
				return nil, fail("cannot parse %q as TIMESTAMP_LTZ: expected a UTC time ending in 'Z'", s)
			}
			s = s[:len(s)-1]
		}
		ts, err := ParseTimestamp(s)
		if err != nil {
			return nil, fail("%v", err)
		}
		return ts.Truncate(t.Precision), nil
	case types.Array, types.Multiset:
		a, ok := v.([]any)
		if !ok {
			return nil, fail("expected an array, got %s", jsonKind(v))
		}
		out := make([]any, len(a))
		for i, e := range a {
			x, err := ValueFromJSON(*t.Elem, e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		if t.Kind == types.Multiset {
			return multisetOf(*t.Elem, out), nil
		}
		return out, nil
	case types.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fail("expected an object, got %s", jsonKind(v))
		}
		m := &MapValue{}
		for _, k := range sortedKeys(obj) {
			kv, err := ValueFromJSON(*t.Elem, k, path+"."+k)
			if err != nil {
				return nil, err
			}
			vv, err := ValueFromJSON(*t.Value, obj[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			m.Keys, m.Values = append(m.Keys, kv), append(m.Values, vv)
		}
		return m, nil
	case types.Row:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fail("expected an object, got %s", jsonKind(v))
		}
		return NewRowLayout(t).rowFromObject(obj, path)
	}
	return nil, fail("JSON has no form for this type")
}

func sortedKeys(obj map[string]any) []string {
	ks := make([]string, 0, len(obj))
	for k := range obj {
		ks = append(ks, k)
	}
	// Deterministic order (Go maps have none; Flink keeps JSON's order).
	slices.Sort(ks)
	return ks
}

// multisetOf counts equal elements (by key encoding) in first-seen order.
func multisetOf(elem types.Type, xs []any) *MapValue {
	m := &MapValue{}
	idx := map[string]int{}
	for _, x := range xs {
		k := string(appendKeyValue(nil, elem, x))
		if i, ok := idx[k]; ok {
			m.Values[i] = m.Values[i].(int64) + 1
			continue
		}
		idx[k] = len(m.Keys)
		m.Keys, m.Values = append(m.Keys, x), append(m.Values, int64(1))
	}
	return m
}

// AppendJSON appends r as a JSON object (l must have names), as Flink's
// json format writes it.
func (r *Row) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, t := range r.L.types {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, r.L.Name(i))
		dst = append(dst, ':')
		dst = AppendJSONValue(dst, t, r.Get(i))
	}
	return append(dst, '}')
}

// AppendJSONValue appends canonical value v of type t as JSON.
func AppendJSONValue(dst []byte, t types.Type, v any) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	switch t.Kind {
	case types.Boolean:
		return strconv.AppendBool(dst, v.(bool))
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		return strconv.AppendInt(dst, v.(int64), 10)
	case types.Float, types.Double:
		f := v.(float64)
		if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			// JSON has no NaN or infinities; Jackson writes them as strings.
			return appendJSONString(dst, string(AppendJavaFloat(nil, f, 64)))
		}
		bits := 64
		if t.Kind == types.Float {
			bits = 32
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	case types.Decimal:
		return v.(Decimal).AppendPlain(dst)
	case types.Char, types.VarChar:
		return appendJSONString(dst, v.(string))
	case types.Binary, types.VarBinary:
		return appendJSONString(dst, base64.StdEncoding.EncodeToString([]byte(v.(string))))
	case types.Date:
		return appendJSONString(dst, string(AppendDate(nil, v.(int64))))
	case types.Time:
		return appendJSONString(dst, string(appendTimeShortest(nil, v.(int64))))
	case types.Timestamp:
		return appendJSONString(dst, string(appendTimestampShortest(nil, v.(Timestamp))))
	case types.TimestampLTZ:
		return appendJSONString(dst, string(append(appendTimestampShortest(nil, v.(Timestamp)), 'Z')))
	case types.IntervalYearMonth, types.IntervalDayTime:
		return strconv.AppendInt(dst, v.(int64), 10)
	case types.Array:
		dst = append(dst, '[')
		for i, e := range v.([]any) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONValue(dst, *t.Elem, e)
		}
		return append(dst, ']')
	case types.Map, types.Multiset:
		m := v.(*MapValue)
		vt := types.BigIntType()
		if t.Kind == types.Map {
			vt = *t.Value
		}
		dst = append(dst, '{')
		for i := range m.Keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			k := m.Keys[i]
			if s, ok := k.(string); ok {
				dst = appendJSONString(dst, s)
			} else {
				dst = appendJSONString(dst, string(AppendJava(nil, *t.Elem, k)))
			}
			dst = append(dst, ':')
			dst = AppendJSONValue(dst, vt, m.Values[i])
		}
		return append(dst, '}')
	case types.Row:
		return v.(*Row).AppendJSON(dst)
	}
	return append(dst, "null"...)
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// appendTimeShortest is HH:mm:ss and the fraction without trailing zeros
// (Flink's SQL_TIME_FORMAT).
func appendTimeShortest(dst []byte, nanosOfDay int64) []byte {
	dst = AppendTimeSQL(dst, nanosOfDay-nanosOfDay%1e9, 0)
	ns := nanosOfDay % 1e9
	if ns == 0 {
		return dst
	}
	f := []byte(fmt.Sprintf(".%09d", ns))
	for f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	return append(dst, f...)
}

func appendTimestampShortest(dst []byte, ts Timestamp) []byte {
	dst = AppendDate(dst, DateOf(ts))
	dst = append(dst, ' ')
	return appendTimeShortest(dst, TimeOf(ts))
}

// ParseDate parses yyyy-MM-dd (a one-digit month or day is accepted, as
// Flink's DATE parsing does).
func ParseDate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return 0, fmt.Errorf("cannot parse %q as DATE", s)
	}
	y, e1 := strconv.Atoi(parts[0])
	m, e2 := strconv.Atoi(parts[1])
	d, e3 := strconv.Atoi(parts[2])
	if e1 != nil || e2 != nil || e3 != nil || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, fmt.Errorf("cannot parse %q as DATE", s)
	}
	return DateFromCivil(y, m, d), nil
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// ParseTime parses HH:mm[:ss[.fraction]] as nanoseconds of the day.
func ParseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("cannot parse %q as TIME", s)
	main, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(main, ":")
	if len(parts) < 2 || len(parts) > 3 || (hasFrac && len(parts) != 3) {
		return 0, bad
	}
	var hms [3]int
	for i, p := range parts {
		if len(p) == 0 || len(p) > 2 {
			return 0, bad
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, bad
		}
		hms[i] = v
	}
	if hms[0] > 23 || hms[1] > 59 || hms[2] > 59 {
		return 0, bad
	}
	var ns int64
	if hasFrac {
		if len(frac) == 0 || len(frac) > 9 {
			return 0, bad
		}
		v, err := strconv.Atoi(frac)
		if err != nil || v < 0 {
			return 0, bad
		}
		ns = int64(v) * pow10[9-len(frac)]
	}
	return int64(hms[0]*3600+hms[1]*60+hms[2])*1e9 + ns, nil
}

// TimeOfPrecision truncates a time of day to p fraction digits.
func TimeOfPrecision(nanosOfDay int64, p int) int64 {
	if p >= 9 {
		return nanosOfDay
	}
	return nanosOfDay - nanosOfDay%pow10[9-p]
}

// ParseTimestamp parses yyyy-MM-dd[( |T)HH:mm[:ss[.fraction]]], the forms
// CAST(string AS TIMESTAMP) and Flink's json format accept.
func ParseTimestamp(s string) (Timestamp, error) {
	s = strings.TrimSpace(s)
	date, clock, hasClock := strings.Cut(s, " ")
	if !hasClock {
		date, clock, hasClock = strings.Cut(s, "T")
	}
	days, err := ParseDate(date)
	if err != nil {
		return Timestamp{}, fmt.Errorf("cannot parse %q as TIMESTAMP", s)
	}
	var ns int64
	if hasClock {
		ns, err = ParseTime(clock)
		if err != nil {
			return Timestamp{}, fmt.Errorf("cannot parse %q as TIMESTAMP", s)
		}
	}
	return TimestampOf(days, ns), nil
}
