package prefix

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is a compiled subset of a Java DateTimeFormatter pattern, as
// Firehose accepts inside !{timestamp:...}. It is immutable and safe for
// concurrent use.
//
// Supported letters, with java.time's width rules (Locale.US texts):
//
//	y, u   year-of-era / year: "yy" is the reduced two-digit form; any other
//	       count is the minimum width, zero padded ("y" 2018, "yyyyy" 02018)
//	M, L   month: 1 (7), 2 (07), 3 (Jul), 4 (July), 5 (J)
//	d      day-of-month: 1 or 2
//	D      day-of-year: 1 (no padding), 2 (at least 2 digits), 3 (3 digits)
//	H k h K hour-of-day (0-23), clock-hour-of-day (1-24), clock-hour-of-am-pm
//	       (1-12), hour-of-am-pm (0-11): 1 or 2
//	m, s   minute, second: 1 or 2
//	S      fraction of second, truncated to the letter count (1-9)
//	a      AM/PM
//	E      day-of-week: 1-3 (Tue), 4 (Tuesday), 5 (T)
//	w      week-of-week-based-year as Locale.US defines it (weeks start on
//	       Sunday, week 1 contains January 1st): 1 or 2
//	Z      offset: 1-3 (+0000), 4 (GMT, GMT+09:00), 5 (Z, +09:00)
//	X, x   ISO offsets: 1 (+09, +0930), 2 (+0900), 3 (+09:00), 4 (+0900,
//	       +093015), 5 (+09:00, +09:30:15); X prints Z for a zero offset
//	'...'  quoted literal, '' is a single quote
//
// Non-letter characters other than the reserved [ ] { } # are literals.
// Every other letter, optional sections and too many letters are rejected.
type TimeFormat struct {
	pattern string
	items   []fmtItem
}

type fmtItem struct {
	letter byte // 0 for a literal
	count  int
	lit    string
}

// ErrTimeFormat is wrapped by every pattern error.
var ErrTimeFormat = errors.New("prefix: invalid timestamp pattern")

// CompileTimeFormat compiles a Java DateTimeFormatter pattern.
func CompileTimeFormat(pattern string) (*TimeFormat, error) {
	f := &TimeFormat{pattern: pattern}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'' && i+1 < len(pattern) && pattern[i+1] == '\'':
			f.items = append(f.items, fmtItem{lit: "'"}) // '' outside quotes
			i += 2
		case c == '\'':
			// Quoted literal; '' inside quotes is one quote.
			j := i + 1
			var sb strings.Builder
			closed := false
			for j < len(pattern) {
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						sb.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				sb.WriteByte(pattern[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("%w %q: unterminated quote at offset %d", ErrTimeFormat, pattern, i)
			}
			f.items = append(f.items, fmtItem{lit: sb.String()})
			i = j
		case isLetter(c):
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			n := j - i
			if err := checkLetter(c, n); err != nil {
				return nil, fmt.Errorf("%w %q: %v", ErrTimeFormat, pattern, err)
			}
			f.items = append(f.items, fmtItem{letter: c, count: n})
			i = j
		case c == '[' || c == ']' || c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("%w %q: reserved character %q is not supported", ErrTimeFormat, pattern, c)
		default:
			f.items = append(f.items, fmtItem{lit: string(c)})
			i++
		}
	}
	return f, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func checkLetter(c byte, n int) error {
	max := 0
	switch c {
	case 'y', 'u':
		max = 19
	case 'M', 'L', 'E', 'Z', 'X', 'x':
		max = 5
	case 'd', 'H', 'h', 'k', 'K', 'm', 's', 'w':
		max = 2
	case 'D':
		max = 3
	case 'S':
		max = 9
	case 'a':
		max = 1
	default:
		return fmt.Errorf("unsupported pattern letter %q", c)
	}
	if n > max {
		return fmt.Errorf("too many pattern letters: %c", c)
	}
	return nil
}

// String returns the source pattern.
func (f *TimeFormat) String() string { return f.pattern }

var (
	shortMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	shortDays   = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
)

// AppendFormat appends t formatted by f to b. t is formatted in its own
// location: convert it first (t.In(loc)).
func (f *TimeFormat) AppendFormat(b []byte, t time.Time) []byte {
	for _, it := range f.items {
		if it.letter == 0 {
			b = append(b, it.lit...)
			continue
		}
		n := it.count
		switch it.letter {
		case 'y', 'u':
			y := t.Year()
			if it.letter == 'y' && y <= 0 {
				y = 1 - y // year-of-era
			}
			if n == 2 {
				b = pad(b, int64(((y%100)+100)%100), 2)
			} else {
				if y < 0 {
					b = append(b, '-')
					y = -y
				} else if n >= 4 && digits(int64(y)) > n {
					b = append(b, '+') // SignStyle.EXCEEDS_PAD
				}
				b = pad(b, int64(y), n)
			}
		case 'M', 'L':
			m := int(t.Month())
			switch n {
			case 1, 2:
				b = pad(b, int64(m), n)
			case 3:
				b = append(b, shortMonths[m-1]...)
			case 4:
				b = append(b, t.Month().String()...)
			case 5:
				b = append(b, t.Month().String()[0])
			}
		case 'd':
			b = pad(b, int64(t.Day()), n)
		case 'D':
			b = pad(b, int64(t.YearDay()), n)
		case 'H':
			b = pad(b, int64(t.Hour()), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b = pad(b, int64(h), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = pad(b, int64(h), n)
		case 'K':
			b = pad(b, int64(t.Hour()%12), n)
		case 'm':
			b = pad(b, int64(t.Minute()), n)
		case 's':
			b = pad(b, int64(t.Second()), n)
		case 'S':
			frac := pad(nil, int64(t.Nanosecond()), 9)
			b = append(b, frac[:n]...)
		case 'a':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'E':
			wd := t.Weekday()
			switch {
			case n <= 3:
				b = append(b, shortDays[wd]...)
			case n == 4:
				b = append(b, wd.String()...)
			default:
				b = append(b, wd.String()[0])
			}
		case 'w':
			b = pad(b, int64(usWeekOfYear(t)), n)
		case 'Z', 'X', 'x':
			_, off := t.Zone()
			b = appendOffset(b, it.letter, n, off)
		}
	}
	return b
}

// Format returns t formatted by f.
func (f *TimeFormat) Format(t time.Time) string { return string(f.AppendFormat(nil, t)) }

func digits(v int64) int { return len(strconv.FormatInt(v, 10)) }

func pad(b []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// usWeekOfYear is java.time's week-of-week-based-year for
// WeekFields.of(Locale.US): weeks start on Sunday and week 1 is the week that
// contains January 1st, so the last days of December may be in week 1 of the
// next year.
func usWeekOfYear(t time.Time) int {
	y, m, d := t.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	weekStart := day.AddDate(0, 0, -int(day.Weekday())) // Sunday of this week
	// The week belongs to the year of its Saturday if that is a later year
	// (minimal days in first week = 1).
	sat := weekStart.AddDate(0, 0, 6)
	wy := sat.Year()
	jan1 := time.Date(wy, 1, 1, 0, 0, 0, 0, time.UTC)
	firstStart := jan1.AddDate(0, 0, -int(jan1.Weekday()))
	return int(weekStart.Sub(firstStart).Hours()/24)/7 + 1
}

func appendOffset(b []byte, letter byte, n int, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	hh, mm, ss := off/3600, off/60%60, off%60
	if letter == 'Z' {
		switch {
		case n <= 3:
			return pad(append(b, sign), int64(hh*100+mm), 4)
		case n == 4:
			b = append(b, "GMT"...)
			if off == 0 {
				return b
			}
			b = pad(append(b, sign), int64(hh), 2)
			b = pad(append(b, ':'), int64(mm), 2)
			if ss != 0 {
				b = pad(append(b, ':'), int64(ss), 2)
			}
			return b
		default:
			letter, n = 'X', 5
		}
	}
	if off == 0 && letter == 'X' {
		return append(b, 'Z')
	}
	b = pad(append(b, sign), int64(hh), 2)
	colon := n == 3 || n == 5
	switch n {
	case 1:
		if mm != 0 {
			b = pad(b, int64(mm), 2)
		}
	case 2, 3:
		if colon {
			b = append(b, ':')
		}
		b = pad(b, int64(mm), 2)
	case 4, 5:
		if colon {
			b = append(b, ':')
		}
		b = pad(b, int64(mm), 2)
		if ss != 0 {
			if colon {
				b = append(b, ':')
			}
			b = pad(b, int64(ss), 2)
		}
	}
	return b
}
