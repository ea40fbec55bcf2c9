package functions

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/row"
)

// Date-time patterns: the letters of Java's DateTimeFormatter (which
// Flink's DATE_FORMAT, TO_TIMESTAMP, TO_DATE, UNIX_TIMESTAMP and
// FROM_UNIXTIME use) that SQL pipelines use: y year, M month (MMM Jan,
// MMMM January), d day, D day of year, H hour 0-23, h hour 1-12, k 1-24,
// K 0-11, m minute, s second, S fraction of second, a AM/PM, E day name
// (EEE Mon, EEEE Monday), u day of week (1 = Monday), Z/X/x zone offset;
// text in single quotes is literal, '' a quote. Other letters are an
// error.

type fmtTok struct {
	letter byte // 0 for a literal
	n      int
	lit    string
}

type layout []fmtTok

func parsePattern(p string) (layout, error) {
	var toks layout
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("Invalid date-time pattern '%s': unterminated quote", p)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(p[j])
				j++
			}
			lit := b.String()
			if j == i+1 {
				lit = "'"
			}
			toks = append(toks, fmtTok{lit: lit})
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if !strings.ContainsRune("yMdDHhkKmsSaEuZXx", rune(c)) {
				return nil, fmt.Errorf("Invalid date-time pattern '%s': unknown pattern letter: %c", p, c)
			}
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			toks = append(toks, fmtTok{letter: c, n: j - i})
			i = j
		default:
			toks = append(toks, fmtTok{lit: string(c)})
			i++
		}
	}
	return toks, nil
}

var shortMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// format appends local date-time ts; offset is the zone offset in seconds
// for Z/X (0 for TIMESTAMP).
func (l layout) format(dst []byte, ts row.Timestamp, offset int) []byte {
	t := ts.Time()
	for _, k := range l {
		switch k.letter {
		case 0:
			dst = append(dst, k.lit...)
		case 'y':
			y := t.Year()
			if k.n == 2 {
				dst = pad(dst, y%100, 2)
			} else {
				dst = pad(dst, y, k.n)
			}
		case 'M':
			switch {
			case k.n >= 4:
				dst = append(dst, t.Month().String()...)
			case k.n == 3:
				dst = append(dst, shortMonths[t.Month()-1]...)
			default:
				dst = pad(dst, int(t.Month()), k.n)
			}
		case 'd':
			dst = pad(dst, t.Day(), k.n)
		case 'D':
			dst = pad(dst, t.YearDay(), k.n)
		case 'H':
			dst = pad(dst, t.Hour(), k.n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			dst = pad(dst, h, k.n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = pad(dst, h, k.n)
		case 'K':
			dst = pad(dst, t.Hour()%12, k.n)
		case 'm':
			dst = pad(dst, t.Minute(), k.n)
		case 's':
			dst = pad(dst, t.Second(), k.n)
		case 'S':
			f := fmt.Sprintf("%09d", t.Nanosecond())
			for len(f) < k.n {
				f += "0"
			}
			dst = append(dst, f[:k.n]...)
		case 'a':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'E':
			if k.n >= 4 {
				dst = append(dst, t.Weekday().String()...)
			} else {
				dst = append(dst, t.Weekday().String()[:3]...)
			}
		case 'u':
			dst = pad(dst, isoWeekday(t), k.n)
		case 'Z', 'X', 'x':
			dst = appendOffset(dst, offset, k.letter, k.n)
		}
	}
	return dst
}

// appendOffset writes a zone offset: Z..ZZZ +HHMM, ZZZZZ +HH:MM; X +HH,
// XX +HHMM, XXX +HH:MM (X writes Z for zero offset; x never does).
func appendOffset(dst []byte, off int, letter byte, n int) []byte {
	if off == 0 && letter == 'X' {
		return append(dst, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, sign)
	dst = pad(dst, off/3600, 2)
	switch {
	case letter != 'Z' && n == 1:
		return dst
	case letter == 'Z' && n >= 5, letter != 'Z' && n >= 3:
		dst = append(dst, ':')
	}
	return pad(dst, off/60%60, 2)
}

func pad(dst []byte, v, n int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < n; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

func isoWeekday(t time.Time) int {
	w := int(t.Weekday())
	if w == 0 {
		return 7
	}
	return w
}

// parse reads s with the pattern as a local date-time. Fields absent
// from the pattern default to 1970-01-01 00:00:00. ok is false when s
// does not match (Flink's TO_TIMESTAMP gives NULL then).
func (l layout) parse(s string) (row.Timestamp, bool) {
	year, month, day := 1970, 1, 1
	hour, minute, sec, nanos := 0, 0, 0, 0
	pm, hasAmPm, hour12 := false, false, false
	i := 0
	num := func(k fmtTok, next *fmtTok, maxDigits int) (int, bool) {
		j := i
		limit := maxDigits
		if next != nil && next.letter != 0 {
			limit = k.n // adjacent numeric fields: fixed width
		}
		for j < len(s) && j-i < limit && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || (limit == k.n && next != nil && next.letter != 0 && j-i != k.n) {
			return 0, false
		}
		v, _ := strconv.Atoi(s[i:j])
		i = j
		return v, true
	}
	for ti, k := range l {
		var next *fmtTok
		if ti+1 < len(l) {
			next = &l[ti+1]
		}
		var ok bool
		switch k.letter {
		case 0:
			if !strings.HasPrefix(s[i:], k.lit) {
				return row.Timestamp{}, false
			}
			i += len(k.lit)
			continue
		case 'y':
			year, ok = num(k, next, max(k.n, 4))
			if ok && k.n == 2 {
				year += 2000
			}
		case 'M':
			if k.n >= 3 {
				ok = false
				for m := 1; m <= 12; m++ {
					name := shortMonths[m-1]
					if k.n >= 4 {
						name = time.Month(m).String()
					}
					if strings.HasPrefix(s[i:], name) {
						month, ok = m, true
						i += len(name)
						break
					}
				}
			} else {
				month, ok = num(k, next, 2)
			}
		case 'd':
			day, ok = num(k, next, 2)
		case 'D':
			var doy int
			doy, ok = num(k, next, 3)
			if ok {
				t := time.Date(year, 1, doy, 0, 0, 0, 0, time.UTC)
				month, day = int(t.Month()), t.Day()
			}
		case 'H', 'k':
			hour, ok = num(k, next, 2)
			if k.letter == 'k' && hour == 24 {
				hour = 0
			}
		case 'h', 'K':
			hour, ok = num(k, next, 2)
			hour12 = true
		case 'm':
			minute, ok = num(k, next, 2)
		case 's':
			sec, ok = num(k, next, 2)
		case 'S':
			start := i
			var f int
			f, ok = num(k, next, 9)
			if ok {
				digits := i - start
				for ; digits < 9; digits++ {
					f *= 10
				}
				nanos = f
			}
		case 'a':
			switch {
			case strings.HasPrefix(s[i:], "AM"):
				ok = true
			case strings.HasPrefix(s[i:], "PM"):
				ok, pm = true, true
			}
			hasAmPm = true
			i += 2
		case 'E':
			ok = false
			for w := range 7 {
				name := time.Weekday(w).String()
				if k.n < 4 {
					name = name[:3]
				}
				if strings.HasPrefix(s[i:], name) {
					ok = true
					i += len(name)
					break
				}
			}
		default:
			return row.Timestamp{}, false // zones and week days are not parsed
		}
		if !ok {
			return row.Timestamp{}, false
		}
	}
	if i != len(s) {
		return row.Timestamp{}, false
	}
	if hour12 && hasAmPm {
		hour %= 12
		if pm {
			hour += 12
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return row.Timestamp{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC)
	if t.Day() != day {
		return row.Timestamp{}, false // Feb 30
	}
	return row.TimestampFromTime(t), true
}
