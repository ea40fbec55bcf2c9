package row

import (
	"fmt"
	"strconv"
	"time"
)

// Timestamp is a TIMESTAMP(p) or TIMESTAMP_LTZ(p) value, as Flink's
// TimestampData: milliseconds since 1970-01-01 00:00:00 and the
// nanoseconds within that millisecond (0..999999). For TIMESTAMP it is a
// local date-time read as if at UTC (no time zone: 2024-01-01 10:00 is the
// same value wherever the job runs); for TIMESTAMP_LTZ it is an instant,
// shown in the session time zone (table.local-time-zone). It covers years
// 0000..9999 at nanosecond precision without allocating.
type Timestamp struct {
	Millis int64
	Nanos  int32 // within the millisecond
}

// TimestampFromTime is t's instant (for TIMESTAMP_LTZ) — or, with the wall
// clock of t read at UTC, its local date-time: use LocalTimestamp for that.
func TimestampFromTime(t time.Time) Timestamp {
	sec := t.Unix()
	ns := int64(t.Nanosecond())
	return Timestamp{Millis: sec*1000 + ns/1e6, Nanos: int32(ns % 1e6)}
}

// LocalTimestamp is the TIMESTAMP of t's wall clock (in t's location).
func LocalTimestamp(t time.Time) Timestamp {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return TimestampFromTime(time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC))
}

// TimestampFromMillis is the timestamp of epoch milliseconds.
func TimestampFromMillis(ms int64) Timestamp { return Timestamp{Millis: ms} }

// Time is the UTC time.Time of ts.
func (ts Timestamp) Time() time.Time {
	sec, ms := floorDiv(ts.Millis, 1000)
	return time.Unix(sec, ms*1e6+int64(ts.Nanos)).UTC()
}

// In is ts as an instant seen in loc (for TIMESTAMP_LTZ).
func (ts Timestamp) In(loc *time.Location) time.Time { return ts.Time().In(loc) }

// Compare orders timestamps: -1, 0 or 1.
func (ts Timestamp) Compare(o Timestamp) int {
	switch {
	case ts.Millis < o.Millis:
		return -1
	case ts.Millis > o.Millis:
		return 1
	case ts.Nanos < o.Nanos:
		return -1
	case ts.Nanos > o.Nanos:
		return 1
	}
	return 0
}

// Truncate drops the digits past precision p (0..9) of the fraction.
func (ts Timestamp) Truncate(p int) Timestamp {
	switch {
	case p >= 9:
		return ts
	case p >= 3:
		f := int32(pow10[9-p])
		ts.Nanos -= ts.Nanos % f
		return ts
	}
	ts.Nanos = 0
	f := pow10[3-p]
	ts.Millis -= floorMod(ts.Millis, f)
	return ts
}

// AddMillis is ts shifted by ms milliseconds.
func (ts Timestamp) AddMillis(ms int64) Timestamp { ts.Millis += ms; return ts }

// EpochNanos is ts in nanoseconds since the epoch (overflows outside
// 1677..2262).
func (ts Timestamp) EpochNanos() int64 { return ts.Millis*1e6 + int64(ts.Nanos) }

// TimestampFromNanos is the timestamp of epoch nanoseconds.
func TimestampFromNanos(ns int64) Timestamp {
	ms, n := floorDiv(ns, 1e6)
	return Timestamp{Millis: ms, Nanos: int32(n)}
}

func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

func floorMod(a, b int64) int64 { _, r := floorDiv(a, b); return r }

// Dates are days since 1970-01-01; times are nanoseconds of the day.

// DateFromCivil is the day number of y-m-d (proleptic Gregorian).
func DateFromCivil(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// CivilFromDate is the year, month and day of a day number.
func CivilFromDate(days int64) (y, m, d int) {
	t := time.Unix(days*86400, 0).UTC()
	yy, mm, dd := t.Date()
	return yy, int(mm), dd
}

// DateOf is the DATE of a TIMESTAMP.
func DateOf(ts Timestamp) int64 { d, _ := floorDiv(ts.Millis, 86400000); return d }

// TimeOf is the TIME (nanoseconds of the day) of a TIMESTAMP.
func TimeOf(ts Timestamp) int64 { return floorMod(ts.Millis, 86400000)*1e6 + int64(ts.Nanos) }

// TimestampOf is the TIMESTAMP of a DATE and a TIME of day.
func TimestampOf(days, nanosOfDay int64) Timestamp {
	return Timestamp{Millis: days*86400000 + nanosOfDay/1e6, Nanos: int32(nanosOfDay % 1e6)}
}

// Intervals: year-month intervals are months; day-time intervals are
// milliseconds (Flink's internal representations).

// AppendDate appends yyyy-MM-dd (years beyond 9999 with a sign, as Java).
func AppendDate(dst []byte, days int64) []byte {
	y, m, d := CivilFromDate(days)
	dst = appendYear(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

func appendYear(dst []byte, y int) []byte {
	switch {
	case y < 0:
		dst = append(dst, '-')
		return appendPad(dst, -y, 4)
	case y > 9999:
		dst = append(dst, '+')
	}
	return appendPad(dst, y, 4)
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func appendPad(dst []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendFraction appends nanos (0..999999999) as exactly p digits.
func appendFraction(dst []byte, nanos int64, p int) []byte {
	if p <= 0 {
		return dst
	}
	dst = append(dst, '.')
	s := fmt.Sprintf("%09d", nanos)
	return append(dst, s[:p]...)
}

// appendJavaFraction appends the fraction as java.time prints it: none
// when zero, else 3, 6 or 9 digits.
func appendJavaFraction(dst []byte, nanos int64) []byte {
	switch {
	case nanos == 0:
		return dst
	case nanos%1e6 == 0:
		return appendFraction(dst, nanos, 3)
	case nanos%1e3 == 0:
		return appendFraction(dst, nanos, 6)
	}
	return appendFraction(dst, nanos, 9)
}

// AppendTimeSQL appends HH:mm:ss with p fraction digits (CAST(TIME AS
// STRING)).
func AppendTimeSQL(dst []byte, nanosOfDay int64, p int) []byte {
	sec := nanosOfDay / 1e9
	dst = append2(dst, int(sec/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(sec/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(sec%60))
	return appendFraction(dst, nanosOfDay%1e9, p)
}

// AppendTimeJava appends a time as java.time.LocalTime.toString: HH:mm,
// then :ss and a fraction only when not zero.
func AppendTimeJava(dst []byte, nanosOfDay int64) []byte {
	sec := nanosOfDay / 1e9
	ns := nanosOfDay % 1e9
	dst = append2(dst, int(sec/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(sec/60%60))
	if sec%60 != 0 || ns != 0 {
		dst = append(dst, ':')
		dst = append2(dst, int(sec%60))
		dst = appendJavaFraction(dst, ns)
	}
	return dst
}

// AppendTimestampSQL appends yyyy-MM-dd HH:mm:ss with p fraction digits:
// CAST(TIMESTAMP(p) AS STRING) in Flink.
func AppendTimestampSQL(dst []byte, ts Timestamp, p int) []byte {
	dst = AppendDate(dst, DateOf(ts))
	dst = append(dst, ' ')
	return AppendTimeSQL(dst, TimeOf(ts), p)
}

// AppendTimestampJava appends ts as java.time.LocalDateTime.toString:
// 2024-01-01T00:00, 2024-01-01T10:20:30.500. Flink's print connector
// shows TIMESTAMP values so.
func AppendTimestampJava(dst []byte, ts Timestamp) []byte {
	dst = AppendDate(dst, DateOf(ts))
	dst = append(dst, 'T')
	return AppendTimeJava(dst, TimeOf(ts))
}

// AppendInstantJava appends ts as java.time.Instant.toString (always with
// seconds, a Z suffix): how the print connector shows TIMESTAMP_LTZ.
func AppendInstantJava(dst []byte, ts Timestamp) []byte {
	dst = AppendDate(dst, DateOf(ts))
	dst = append(dst, 'T')
	n := TimeOf(ts)
	sec := n / 1e9
	dst = append2(dst, int(sec/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(sec/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(sec%60))
	dst = appendJavaFraction(dst, n%1e9)
	return append(dst, 'Z')
}

// LocalOf is the local date-time (a TIMESTAMP) of instant ts in loc.
func LocalOf(ts Timestamp, loc *time.Location) Timestamp {
	if loc == time.UTC || loc == nil {
		return ts
	}
	_, off := ts.Time().In(loc).Zone()
	return ts.AddMillis(int64(off) * 1000)
}

// InstantOf is the instant (a TIMESTAMP_LTZ) of local date-time ts in
// loc. A local time that occurs twice (a daylight-saving overlap) is the
// earlier instant; one that does not occur (a gap) is read with the offset
// before the gap, so it lands as far after the gap as it was into it: both
// as java.time's ZonedDateTime.of (Go's time.Date leaves the choice open).
func InstantOf(ts Timestamp, loc *time.Location) Timestamp {
	if loc == time.UTC || loc == nil {
		return ts
	}
	const day = 86400000
	offAt := func(ms int64) int64 {
		_, off := TimestampFromMillis(ms).Time().In(loc).Zone()
		return int64(off) * 1000
	}
	before, after := offAt(ts.Millis-day), offAt(ts.Millis+day)
	c1, c2 := ts.AddMillis(-before), ts.AddMillis(-after)
	ok1 := offAt(c1.Millis) == before
	ok2 := offAt(c2.Millis) == after
	switch {
	case ok1 && ok2:
		if c2.Compare(c1) < 0 {
			return c2
		}
		return c1
	case ok2:
		return c2
	}
	return c1 // valid, or the gap case: the offset before the gap
}

// AppendYearMonthInterval appends months as Flink's SQL form +Y-MM
// (CAST(INTERVAL ... AS STRING)).
func AppendYearMonthInterval(dst []byte, months int64) []byte {
	if months < 0 {
		dst = append(dst, '-')
		months = -months
	} else {
		dst = append(dst, '+')
	}
	dst = strconv.AppendInt(dst, months/12, 10)
	dst = append(dst, '-')
	return append2(dst, int(months%12))
}

// AppendDayTimeInterval appends milliseconds as Flink's SQL form
// +D HH:mm:ss.SSS.
func AppendDayTimeInterval(dst []byte, ms int64) []byte {
	if ms < 0 {
		dst = append(dst, '-')
		ms = -ms
	} else {
		dst = append(dst, '+')
	}
	dst = strconv.AppendInt(dst, ms/86400000, 10)
	dst = append(dst, ' ')
	return AppendTimeSQL(dst, (ms%86400000)*1e6, 3)
}

// AppendPeriodJava appends months as java.time.Period.toString (P1Y2M,
// P0D): the print connector's form of INTERVAL YEAR TO MONTH.
func AppendPeriodJava(dst []byte, months int64) []byte {
	y, m := months/12, months%12
	dst = append(dst, 'P')
	if y == 0 && m == 0 {
		return append(dst, '0', 'D')
	}
	if y != 0 {
		dst = strconv.AppendInt(dst, y, 10)
		dst = append(dst, 'Y')
	}
	if m != 0 {
		dst = strconv.AppendInt(dst, m, 10)
		dst = append(dst, 'M')
	}
	return dst
}

// AppendDurationJava appends milliseconds as java.time.Duration.toString
// (PT8H6M12.345S, PT0S): the print connector's form of INTERVAL DAY TO
// SECOND.
func AppendDurationJava(dst []byte, ms int64) []byte {
	dst = append(dst, 'P', 'T')
	if ms == 0 {
		return append(dst, '0', 'S')
	}
	neg := ms < 0
	a := ms
	if neg {
		a = -a
	}
	h, mi, s, frac := a/3600000, a/60000%60, a/1000%60, a%1000
	sign := func() {
		if neg {
			dst = append(dst, '-')
		}
	}
	if h != 0 {
		sign()
		dst = strconv.AppendInt(dst, h, 10)
		dst = append(dst, 'H')
	}
	if mi != 0 {
		sign()
		dst = strconv.AppendInt(dst, mi, 10)
		dst = append(dst, 'M')
	}
	if s != 0 || frac != 0 {
		sign()
		dst = strconv.AppendInt(dst, s, 10)
		if frac != 0 {
			f := fmt.Sprintf(".%03d", frac)
			for f[len(f)-1] == '0' {
				f = f[:len(f)-1]
			}
			dst = append(dst, f...)
		}
		dst = append(dst, 'S')
	}
	return dst
}
