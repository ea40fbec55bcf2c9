package functions

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Temporal functions (Flink's "Temporal Functions"). TIMESTAMP values are
// local date-times; TIMESTAMP_LTZ values are instants, read as local
// date-times in the session time zone (Context.TimeZone) for EXTRACT,
// DATE_FORMAT, FLOOR/CEIL and calendar arithmetic. Units are Symbol
// arguments (EXTRACT(DAY FROM ts) is EXTRACT with args [Symbol DAY, ts]);
// a Symbol argument's Param is the NULL type and its Value is ignored.

// unit normalises a time-unit keyword (SQL_TSI_DAY is DAY).
func unit(s string) string {
	s = strings.TrimPrefix(strings.ToUpper(s), "SQL_TSI_")
	switch s {
	case "FRAC_SECOND":
		return "MICROSECOND"
	case "DAYOFYEAR":
		return "DOY"
	case "DAYOFWEEK":
		return "DOW"
	}
	return s
}

const (
	msSecond = 1000
	msMinute = 60 * msSecond
	msHour   = 60 * msMinute
	msDay    = 24 * msHour
)

// localOf is the local date-time of a datetime value of type t (DATE as
// its midnight, TIME on 1970-01-01).
func localOf(t types.Type, v Value, loc *time.Location) row.Timestamp {
	switch t.Kind {
	case types.Date:
		return row.TimestampOf(v.I, 0)
	case types.Time:
		return row.TimestampOf(0, v.I)
	case types.TimestampLTZ:
		return row.LocalOf(v.T, loc)
	}
	return v.T
}

// fromLocal turns a local date-time back into a value of type t.
func fromLocal(t types.Type, ts row.Timestamp, loc *time.Location) Value {
	switch t.Kind {
	case types.Date:
		return Int(row.DateOf(ts))
	case types.Time:
		return Int(row.TimeOf(ts))
	case types.TimestampLTZ:
		return TS(row.InstantOf(ts, loc).Truncate(t.Precision))
	}
	return TS(ts.Truncate(t.Precision))
}

func extractUnit(u string, t time.Time, ts row.Timestamp) (int64, bool) {
	switch u {
	case "MILLENNIUM":
		return int64((t.Year() + 999) / 1000), true
	case "CENTURY":
		return int64((t.Year() + 99) / 100), true
	case "DECADE":
		return int64(t.Year() / 10), true
	case "YEAR":
		return int64(t.Year()), true
	case "QUARTER":
		return int64((t.Month()-1)/3 + 1), true
	case "MONTH":
		return int64(t.Month()), true
	case "WEEK":
		_, w := t.ISOWeek()
		return int64(w), true
	case "DAY":
		return int64(t.Day()), true
	case "DOY":
		return int64(t.YearDay()), true
	case "DOW":
		return int64(t.Weekday()) + 1, true // Sunday is 1
	case "ISODOW":
		return int64(isoWeekday(t)), true
	case "HOUR":
		return int64(t.Hour()), true
	case "MINUTE":
		return int64(t.Minute()), true
	case "SECOND":
		return int64(t.Second()), true
	case "MILLISECOND":
		return int64(t.Second())*1000 + int64(t.Nanosecond()/1e6), true
	case "MICROSECOND":
		return int64(t.Second())*1e6 + int64(t.Nanosecond()/1e3), true
	case "NANOSECOND":
		return int64(t.Second())*1e9 + int64(t.Nanosecond()), true
	case "EPOCH":
		return ts.Millis / 1000, true
	}
	return 0, false
}

func isDatetime(t types.Type) bool { return t.IsDatetime() }

func registerTime(r *Registry) {
	bigint := types.BigIntType()
	r.add("EXTRACT", "EXTRACT(<TIME UNIT> FROM <DATETIME>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 || args[0].Symbol == "" || !isDatetime(args[1].Type) {
			return nil, false, nil
		}
		u, t, loc := unit(args[0].Symbol), args[1].Type, c.loc()
		if _, ok := extractUnit(u, time.Time{}, row.Timestamp{}); !ok {
			return nil, false, fmt.Errorf("EXTRACT: unknown time unit %s", args[0].Symbol)
		}
		if t.Kind == types.Time && !strings.Contains("HOUR MINUTE SECOND MILLISECOND MICROSECOND NANOSECOND", u) {
			return nil, false, fmt.Errorf("Cannot apply 'EXTRACT' to arguments of type 'EXTRACT(<INTERVAL %s>, <TIME(%d)>)'", u, t.Precision)
		}
		if t.Kind == types.Date && strings.Contains("HOUR MINUTE SECOND MILLISECOND MICROSECOND NANOSECOND", u) {
			return nil, false, fmt.Errorf("Cannot apply 'EXTRACT' to arguments of type 'EXTRACT(<INTERVAL %s>, <DATE>)'", u)
		}
		return &Scalar{Result: bigint.WithNullable(t.IsNullable()), Params: []types.Type{types.NullType(), t},
			Eval: func(a []Value) (Value, error) {
				if a[1].Null {
					return Null(), nil
				}
				ts := localOf(t, a[1], loc)
				if u == "EPOCH" && t.Kind == types.TimestampLTZ {
					ts = a[1].T
				}
				v, _ := extractUnit(u, ts.Time(), ts)
				return Int(v), nil
			}}, true, nil
	})
	for name, u := range map[string]string{"YEAR": "YEAR", "QUARTER": "QUARTER", "MONTH": "MONTH", "WEEK": "WEEK",
		"DAYOFYEAR": "DOY", "DAYOFMONTH": "DAY", "DAYOFWEEK": "DOW", "HOUR": "HOUR", "MINUTE": "MINUTE", "SECOND": "SECOND"} {
		r.add(name, name+"(<DATETIME>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
			if len(args) != 1 {
				return nil, false, nil
			}
			s, ok, err := r.scalars["EXTRACT"][0].bind(c, []Arg{{Symbol: u}, args[0]})
			if !ok || err != nil {
				return nil, ok, err
			}
			inner := s.Eval
			s.Params = s.Params[1:]
			s.Eval = func(a []Value) (Value, error) { return inner([]Value{{}, a[0]}) }
			return s, true, nil
		})
	}
	for _, up := range []bool{false, true} {
		name := "FLOOR"
		if up {
			name = "CEIL"
		}
		b := func(c *Context, args []Arg) (*Scalar, bool, error) {
			if len(args) != 2 || args[1].Symbol == "" || !(args[0].Type.IsTimestamp() || args[0].Type.Kind == types.Date) {
				return nil, false, nil
			}
			u, t, loc := unit(args[1].Symbol), args[0].Type, c.loc()
			if _, ok := floorLocal(u, row.Timestamp{}); !ok {
				return nil, false, fmt.Errorf("%s: unsupported time unit %s", name, args[1].Symbol)
			}
			return &Scalar{Result: t, Params: []types.Type{t, types.NullType()}, Eval: func(a []Value) (Value, error) {
				if a[0].Null {
					return Null(), nil
				}
				if t.Kind == types.TimestampLTZ && !dateUnit(u) {
					// Below a day, floor in the offset in force at the
					// instant and keep it: re-resolving the floored local
					// time would jump an hour inside a DST overlap.
					_, off := a[0].T.In(loc).Zone()
					shift := int64(off) * 1000
					f, _ := floorLocal(u, a[0].T.AddMillis(shift))
					f = f.AddMillis(-shift)
					if up && f.Compare(a[0].T) != 0 {
						f = addUnit(u, 1, f)
					}
					return TS(f.Truncate(t.Precision)), nil
				}
				ts := localOf(t, a[0], loc)
				f, _ := floorLocal(u, ts)
				if up && f.Compare(ts) != 0 {
					f = addUnit(u, 1, f)
				}
				return fromLocal(t, f, loc), nil
			}}, true, nil
		}
		r.add(name, name+"(<DATETIME> TO <TIME UNIT>)", b)
		if up {
			r.add("CEILING", "CEILING(<DATETIME> TO <TIME UNIT>)", b)
		}
	}
	r.add("TIMESTAMPADD", "TIMESTAMPADD(<TIME UNIT>, <INTEGER>, <DATETIME>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 3 || args[0].Symbol == "" || !isDatetime(args[2].Type) {
			return nil, false, nil
		}
		if _, ok := pInteger.accepts(args[1].Type); !ok {
			return nil, false, nil
		}
		u, t, loc := unit(args[0].Symbol), args[2].Type, c.loc()
		if _, ok := floorLocal(u, row.Timestamp{}); !ok && u != "MILLISECOND" && u != "MICROSECOND" {
			return nil, false, fmt.Errorf("TIMESTAMPADD: unsupported time unit %s", args[0].Symbol)
		}
		rt := t
		if t.Kind == types.Date && !dateUnit(u) {
			rt = types.TimestampType(0) // DATE + hours is a TIMESTAMP
		}
		rt = rt.WithNullable(anyNullable(args))
		params := []types.Type{types.NullType(), types.BigIntType().WithNullable(args[1].Type.IsNullable()), t}
		return &Scalar{Result: rt, Params: params, Eval: func(a []Value) (Value, error) {
			if a[1].Null || a[2].Null {
				return Null(), nil
			}
			if t.Kind == types.TimestampLTZ && !monthUnit(u) {
				// An instant plus a duration (a DAY is 24 hours, as
				// LTZ + INTERVAL '1' DAY); months count in the session zone.
				return TS(addUnit(u, a[1].I, a[2].T)), nil
			}
			return fromLocal(rt, addUnit(u, a[1].I, localOf(t, a[2], loc)), loc), nil
		}}, true, nil
	})
	r.add("TIMESTAMPDIFF", "TIMESTAMPDIFF(<TIME UNIT>, <DATETIME>, <DATETIME>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 3 || args[0].Symbol == "" || !isDatetime(args[1].Type) || !isDatetime(args[2].Type) ||
			args[1].Type.Kind == types.Time || args[2].Type.Kind == types.Time {
			return nil, false, nil
		}
		u, t1, t2, loc := unit(args[0].Symbol), args[1].Type, args[2].Type, c.loc()
		if (t1.Kind == types.TimestampLTZ) != (t2.Kind == types.TimestampLTZ) {
			return nil, false, nil
		}
		if _, ok := diffUnit(u, row.Timestamp{}, row.Timestamp{}); !ok {
			return nil, false, fmt.Errorf("TIMESTAMPDIFF: unsupported time unit %s", args[0].Symbol)
		}
		return &Scalar{Result: types.IntType().WithNullable(anyNullable(args)), Params: []types.Type{types.NullType(), t1, t2},
			Eval: func(a []Value) (Value, error) {
				if a[1].Null || a[2].Null {
					return Null(), nil
				}
				var d int64
				if t1.Kind == types.TimestampLTZ && !monthUnit(u) {
					// Instants: the elapsed time, whatever the zone's offsets.
					d, _ = diffUnit(u, a[1].T, a[2].T)
				} else {
					d, _ = diffUnit(u, localOf(t1, a[1], loc), localOf(t2, a[2], loc))
				}
				return Int(int64(int32(d))), nil // INT, wrapping as Java's int
			}}, true, nil
	})

	fmtOrDefault := func(args []Arg, i int, def string) (layout, error) {
		if len(args) <= i {
			return parsePattern(def)
		}
		if k := args[i].Const; k != nil && !k.Null {
			return parsePattern(k.S)
		}
		return nil, nil // computed per row
	}
	layoutAt := func(fixed layout, a []Value, i int) (layout, bool) {
		if fixed != nil {
			return fixed, true
		}
		l, err := parsePattern(a[i].S)
		return l, err == nil
	}
	// DATE_FORMAT(ts, fmt) and DATE_FORMAT(string, fmt): a string is read
	// as a TIMESTAMP first (NULL if it is not one).
	r.add("DATE_FORMAT", "DATE_FORMAT(<TIMESTAMP>|<STRING>, <STRING>)", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) != 2 {
			return nil, false, nil
		}
		t := args[0].Type
		if t.Kind == types.Null {
			t = types.TimestampType(3)
		}
		if !(t.IsTimestamp() || t.IsCharString() || t.Kind == types.Date) {
			return nil, false, nil
		}
		if _, ok := pString.accepts(args[1].Type); !ok {
			return nil, false, nil
		}
		fixed, err := fmtOrDefault(args, 1, "")
		if err != nil {
			return nil, false, err
		}
		loc := c.loc()
		pt := t
		if t.IsCharString() {
			pt = types.StringType().WithNullable(t.IsNullable())
		}
		var buf []byte
		return &Scalar{Result: types.StringType(), Params: []types.Type{pt, types.StringType().WithNullable(args[1].Type.IsNullable())},
			Eval: strict(func(a []Value) (Value, error) {
				l, ok := layoutAt(fixed, a, 1)
				if !ok {
					return Null(), nil
				}
				var ts row.Timestamp
				offset := 0
				switch {
				case t.IsCharString():
					x, err := row.ParseTimestamp(a[0].S)
					if err != nil {
						return Null(), nil
					}
					ts = x
				case t.Kind == types.TimestampLTZ:
					_, offset = a[0].T.In(loc).Zone()
					ts = row.LocalOf(a[0].T, loc)
				default:
					ts = localOf(t, a[0], loc)
				}
				buf = l.format(buf[:0], ts, offset)
				return Str(string(buf)), nil
			})}, true, nil
	})
	// TO_TIMESTAMP(s[, fmt]): TIMESTAMP(3), NULL when s does not parse.
	toTS := func(c *Context, args []Arg) (*Scalar, bool, error) {
		ps := make([]param, len(args))
		params, _, ok := matchParams(args, ps)
		if !ok || len(args) < 1 || len(args) > 2 {
			return nil, false, nil
		}
		var fixed layout
		if len(args) == 2 {
			var err error
			if fixed, err = fmtOrDefault(args, 1, ""); err != nil {
				return nil, false, err
			}
		}
		return &Scalar{Result: types.TimestampType(3), Params: params, Eval: strict(func(a []Value) (Value, error) {
			if len(a) == 1 {
				ts, err := row.ParseTimestamp(a[0].S)
				if err != nil {
					return Null(), nil
				}
				return TS(ts.Truncate(3)), nil
			}
			l, ok := layoutAt(fixed, a, 1)
			if !ok {
				return Null(), nil
			}
			ts, ok := l.parse(a[0].S)
			if !ok {
				return Null(), nil
			}
			return TS(ts.Truncate(3)), nil
		})}, true, nil
	}
	r.add("TO_TIMESTAMP", "TO_TIMESTAMP(<STRING>[, <STRING>])", toTS)
	r.add("TO_DATE", "TO_DATE(<STRING>[, <STRING>])", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) == 1 {
			if _, ok := pString.accepts(args[0].Type); !ok {
				return nil, false, nil
			}
			return &Scalar{Result: types.DateType(), Params: []types.Type{types.StringType()}, Eval: strict(func(a []Value) (Value, error) {
				d, err := row.ParseDate(a[0].S)
				if err != nil {
					return Null(), nil
				}
				return Int(d), nil
			})}, true, nil
		}
		s, ok, err := toTS(c, args)
		if !ok || err != nil {
			return nil, ok, err
		}
		inner := s.Eval
		s.Result, s.Eval = types.DateType(), func(a []Value) (Value, error) {
			v, err := inner(a)
			if err != nil || v.Null {
				return v, err
			}
			return Int(row.DateOf(v.T)), nil
		}
		return s, true, nil
	})
	// TO_TIMESTAMP_LTZ(n[, precision]): epoch seconds (precision 0) or
	// milliseconds (3, the default) as TIMESTAMP_LTZ(3).
	r.add("TO_TIMESTAMP_LTZ", "TO_TIMESTAMP_LTZ(<NUMERIC>[, 0|3])", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) < 1 || len(args) > 2 {
			return nil, false, nil
		}
		t := orInt(args[0].Type)
		if !t.IsNumeric() {
			return nil, false, nil
		}
		prec := int64(3)
		params := []types.Type{t.WithNullable(args[0].Type.IsNullable())}
		if len(args) == 2 {
			if _, ok := pInteger.accepts(args[1].Type); !ok {
				return nil, false, nil
			}
			k := args[1].Const
			if k == nil || k.Null || (k.I != 0 && k.I != 3) {
				return nil, false, fmt.Errorf("The precision value of TO_TIMESTAMP_LTZ must be a literal 0 or 3")
			}
			prec = k.I
			params = append(params, types.BigIntType())
		}
		scale := int64(1)
		if prec == 0 {
			scale = 1000
		}
		toMillis := func(n int64) int64 { return n * scale }
		var typed *Typed
		if t.IsInteger() {
			typed = &Typed{IntToMillis: toMillis}
		}
		return &Scalar{Result: types.TimestampLTZType(3).WithNullable(args[0].Type.IsNullable()), Params: params, Typed: typed,
			Eval: strict(func(a []Value) (Value, error) {
				switch {
				case t.IsInteger():
					return TS(row.TimestampFromMillis(toMillis(a[0].I))), nil
				case t.IsApproximate():
					return TS(row.TimestampFromMillis(int64(a[0].F * float64(scale)))), nil
				}
				ms, _ := a[0].D.Mul(row.NewDecimal(scale, 0)).Int64()
				return TS(row.TimestampFromMillis(ms)), nil
			})}, true, nil
	})
	// UNIX_TIMESTAMP(s[, fmt]): s read as a local date-time in the
	// session time zone, in epoch seconds; NULL if it does not parse.
	r.add("UNIX_TIMESTAMP", "UNIX_TIMESTAMP(<STRING>[, <STRING>])", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) == 0 {
			return nil, false, fmt.Errorf("UNIX_TIMESTAMP() without arguments (the current time) is not supported yet")
		}
		if len(args) == 1 {
			args = append(args, Arg{Type: types.StringType().AsNotNull(), Const: &Value{S: "yyyy-MM-dd HH:mm:ss"}})
		}
		s, ok, err := toTS(c, args)
		if !ok || err != nil {
			return nil, ok, err
		}
		loc := c.loc()
		inner := s.Eval
		s.Result, s.Eval = types.BigIntType(), func(a []Value) (Value, error) {
			if len(a) == 1 {
				a = []Value{a[0], {S: "yyyy-MM-dd HH:mm:ss"}}
			}
			v, err := inner(a)
			if err != nil || v.Null {
				return v, err
			}
			sec, _ := floorDivMs(row.InstantOf(v.T, loc).Millis, 1000)
			return Int(sec), nil
		}
		return s, true, nil
	})
	// FROM_UNIXTIME(seconds[, fmt]): the session-local date-time as a
	// string ('yyyy-MM-dd HH:mm:ss' by default).
	r.add("FROM_UNIXTIME", "FROM_UNIXTIME(<INTEGER>[, <STRING>])", func(c *Context, args []Arg) (*Scalar, bool, error) {
		if len(args) < 1 || len(args) > 2 {
			return nil, false, nil
		}
		ps := []param{pInteger, pString}[:len(args)]
		params, nullable, ok := matchParams(args, ps)
		if !ok {
			return nil, false, nil
		}
		fixed, err := fmtOrDefault(args, 1, "yyyy-MM-dd HH:mm:ss")
		if err != nil {
			return nil, false, err
		}
		loc := c.loc()
		return &Scalar{Result: types.StringType().WithNullable(nullable || len(args) == 2), Params: params,
			Eval: strict(func(a []Value) (Value, error) {
				l, ok := layoutAt(fixed, a, 1)
				if !ok {
					return Null(), nil
				}
				inst := row.TimestampFromMillis(a[0].I * 1000)
				_, off := inst.In(loc).Zone()
				return Str(string(l.format(nil, row.LocalOf(inst, loc), off))), nil
			})}, true, nil
	})
}

func floorDivMs(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

func monthUnit(u string) bool { return u == "YEAR" || u == "QUARTER" || u == "MONTH" }

func dateUnit(u string) bool {
	switch u {
	case "YEAR", "QUARTER", "MONTH", "WEEK", "DAY":
		return true
	}
	return false
}

// floorLocal floors a local date-time to a unit (weeks start on Sunday,
// as Calcite's FLOOR TO WEEK).
func floorLocal(u string, ts row.Timestamp) (row.Timestamp, bool) {
	day := row.DateOf(ts)
	y, m, _ := row.CivilFromDate(day)
	switch u {
	case "YEAR":
		return row.TimestampOf(row.DateFromCivil(y, 1, 1), 0), true
	case "QUARTER":
		return row.TimestampOf(row.DateFromCivil(y, (m-1)/3*3+1, 1), 0), true
	case "MONTH":
		return row.TimestampOf(row.DateFromCivil(y, m, 1), 0), true
	case "WEEK":
		dow := (day + 4) % 7 // 1970-01-01 was a Thursday; 0 is Sunday
		if dow < 0 {
			dow += 7
		}
		return row.TimestampOf(day-dow, 0), true
	case "DAY":
		return row.TimestampOf(day, 0), true
	case "HOUR":
		return row.Timestamp{Millis: ts.Millis - floorModMs(ts.Millis, msHour)}, true
	case "MINUTE":
		return row.Timestamp{Millis: ts.Millis - floorModMs(ts.Millis, msMinute)}, true
	case "SECOND":
		return ts.Truncate(0), true
	case "MILLISECOND":
		return ts.Truncate(3), true
	}
	return row.Timestamp{}, false
}

func floorModMs(a, b int64) int64 { _, r := floorDivMs(a, b); return r }

// addUnit adds n units to a local date-time; months clamp to the end of
// the month (Jan 31 + 1 MONTH is Feb 29 in a leap year).
func addUnit(u string, n int64, ts row.Timestamp) row.Timestamp {
	switch u {
	case "YEAR":
		return addMonths(ts, n*12)
	case "QUARTER":
		return addMonths(ts, n*3)
	case "MONTH":
		return addMonths(ts, n)
	case "WEEK":
		return ts.AddMillis(n * 7 * msDay)
	case "DAY":
		return ts.AddMillis(n * msDay)
	case "HOUR":
		return ts.AddMillis(n * msHour)
	case "MINUTE":
		return ts.AddMillis(n * msMinute)
	case "SECOND":
		return ts.AddMillis(n * msSecond)
	case "MILLISECOND":
		return ts.AddMillis(n)
	case "MICROSECOND":
		return row.TimestampFromNanos(ts.EpochNanos() + n*1000)
	}
	return ts
}

func addMonths(ts row.Timestamp, n int64) row.Timestamp {
	day := row.DateOf(ts)
	tod := row.TimeOf(ts)
	y, m, d := row.CivilFromDate(day)
	total := int64(y)*12 + int64(m-1) + n
	ny, nm := int(total/12), int(total%12)+1
	if total < 0 && total%12 != 0 {
		ny, nm = int(total/12)-1, int(total%12)+13
	}
	last := time.Date(ny, time.Month(nm)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return row.TimestampOf(row.DateFromCivil(ny, nm, min(d, last)), tod)
}

// diffUnit is (b - a) in whole units, truncated toward zero; month-based
// units count calendar months as Calcite does.
func diffUnit(u string, a, b row.Timestamp) (int64, bool) {
	var unitMs int64
	switch u {
	case "YEAR", "QUARTER", "MONTH":
		m := monthsBetween(a, b)
		switch u {
		case "YEAR":
			return m / 12, true
		case "QUARTER":
			return m / 3, true
		}
		return m, true
	case "WEEK":
		unitMs = 7 * msDay
	case "DAY":
		unitMs = msDay
	case "HOUR":
		unitMs = msHour
	case "MINUTE":
		unitMs = msMinute
	case "SECOND":
		unitMs = msSecond
	case "MILLISECOND":
		unitMs = 1
	case "MICROSECOND":
		return (b.EpochNanos() - a.EpochNanos()) / 1000, true
	case "NANOSECOND":
		return b.EpochNanos() - a.EpochNanos(), true
	default:
		return 0, false
	}
	return (b.Millis - a.Millis) / unitMs, true
}

func monthsBetween(a, b row.Timestamp) int64 {
	neg := false
	if b.Compare(a) < 0 {
		a, b, neg = b, a, true
	}
	ay, am, _ := row.CivilFromDate(row.DateOf(a))
	by, bm, _ := row.CivilFromDate(row.DateOf(b))
	m := int64(by-ay)*12 + int64(bm-am)
	if addMonths(a, m).Compare(b) > 0 {
		m--
	}
	if neg {
		return -m
	}
	return m
}
