package parquet

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	pq "github.com/parquet-go/parquet-go"
)

// converter turns JSON text into rows of Parquet values without building
// an intermediate tree: it scans each object once and parses each value by
// the type of its column.
type converter struct {
	s    *Schema
	seen []bool
	buf  []byte
}

type scanErr struct{ col, msg string }

// appendRows appends one row of len(cols) values per JSON object in rec.
// It returns the number of rows and their approximate uncompressed size.
func (c *converter) appendRows(vals *[]pq.Value, rec []byte) (rows int, size int64, err error) {
	ncol := len(c.s.cols)
	if cap(c.seen) < ncol {
		c.seen = make([]bool, ncol)
	}
	seen := c.seen[:ncol]
	sc := scanner{b: rec}
	for {
		sc.ws()
		if sc.i >= len(sc.b) {
			break
		}
		if sc.b[sc.i] != '{' {
			if sc.b[sc.i] == '[' {
				return 0, 0, &ConversionError{Msg: "a JSON array is not a valid record; send one object per record (several concatenated objects are allowed)"}
			}
			return 0, 0, &ConversionError{Msg: "record is not a JSON object"}
		}
		sc.i++
		base := len(*vals)
		for i := 0; i < ncol; i++ {
			*vals = append(*vals, pq.Value{})
			seen[i] = false
		}
		row := (*vals)[base:]
		first := true
		for {
			sc.ws()
			if sc.i >= len(sc.b) {
				return 0, 0, &ConversionError{Msg: "unexpected end of JSON object"}
			}
			if sc.b[sc.i] == '}' {
				sc.i++
				break
			}
			if !first {
				if sc.b[sc.i] != ',' {
					return 0, 0, &ConversionError{Msg: "malformed JSON: expected ',' or '}' at offset " + strconv.Itoa(sc.i)}
				}
				sc.i++
				sc.ws()
			}
			first = false
			key, ok := sc.str(&c.buf)
			if !ok {
				return 0, 0, &ConversionError{Msg: "malformed JSON: bad object key at offset " + strconv.Itoa(sc.i)}
			}
			sc.ws()
			if sc.i >= len(sc.b) || sc.b[sc.i] != ':' {
				return 0, 0, &ConversionError{Msg: "malformed JSON: expected ':' at offset " + strconv.Itoa(sc.i)}
			}
			sc.i++
			sc.ws()
			idx, ok := c.s.exact[string(key)]
			if !ok {
				idx, ok = c.s.folded[strings.ToLower(string(key))]
			}
			if !ok {
				if !sc.skip() {
					return 0, 0, &ConversionError{Msg: "malformed JSON value for key " + strconv.Quote(string(key))}
				}
				continue
			}
			v, n, cerr := c.value(&sc, idx)
			if cerr != nil {
				return 0, 0, cerr
			}
			row[idx] = v
			seen[idx] = true
			size += int64(n)
		}
		for i, col := range c.s.cols {
			def := 0
			if col.nullable {
				def = 1
			}
			if !seen[i] || row[i].IsNull() {
				if !col.nullable {
					return 0, 0, &ConversionError{Column: col.name, Msg: "missing value for a non-nullable column"}
				}
				row[i] = pq.Value{}.Level(0, 0, i)
				continue
			}
			row[i] = row[i].Level(0, def, i)
		}
		rows++
	}
	if rows == 0 {
		return 0, 0, &ConversionError{Msg: "empty record"}
	}
	return rows, size, nil
}

func (c *converter) value(sc *scanner, idx int) (pq.Value, int, error) {
	col := &c.s.cols[idx]
	fail := func(msg string) (pq.Value, int, error) {
		return pq.Value{}, 0, &ConversionError{Column: col.name, Msg: msg}
	}
	ch := sc.b[sc.i]
	if ch == 'n' {
		if !sc.lit("null") {
			return fail("malformed JSON")
		}
		return pq.Value{}, 0, nil
	}
	switch col.kind {
	case kString, kBinary:
		switch ch {
		case '"':
			s, ok := sc.str(&c.buf)
			if !ok {
				return fail("malformed JSON string")
			}
			return pq.ByteArrayValue(s), len(s), nil
		default:
			// Numbers, booleans, objects and arrays keep their JSON text.
			start := sc.i
			if !sc.skip() {
				return fail("malformed JSON value")
			}
			return pq.ByteArrayValue(sc.b[start:sc.i]), sc.i - start, nil
		}
	case kBool:
		switch {
		case sc.lit("true"):
			return pq.BooleanValue(true), 1, nil
		case sc.lit("false"):
			return pq.BooleanValue(false), 1, nil
		case ch == '"':
			s, ok := sc.str(&c.buf)
			if ok {
				switch strings.ToLower(string(s)) {
				case "true":
					return pq.BooleanValue(true), 1, nil
				case "false":
					return pq.BooleanValue(false), 1, nil
				}
			}
		}
		return fail("not a boolean")
	case kInt, kUint:
		num, ok := sc.numberOrQuoted(&c.buf)
		if !ok {
			return fail("not a number")
		}
		if col.kind == kInt {
			v, err := strconv.ParseInt(unsafeString(num), 10, col.bits)
			if err != nil {
				return fail("not an integer of " + strconv.Itoa(col.bits) + " bits: " + string(num))
			}
			if col.bits == 64 {
				return pq.Int64Value(v), 8, nil
			}
			return pq.Int32Value(int32(v)), 4, nil
		}
		v, err := strconv.ParseUint(unsafeString(num), 10, col.bits)
		if err != nil {
			return fail("not an unsigned integer of " + strconv.Itoa(col.bits) + " bits: " + string(num))
		}
		if col.bits == 64 {
			return pq.Int64Value(int64(v)), 8, nil
		}
		return pq.Int32Value(int32(uint32(v))), 4, nil
	case kFloat32, kFloat64:
		num, ok := sc.numberOrQuoted(&c.buf)
		if !ok {
			return fail("not a number")
		}
		bits := 64
		if col.kind == kFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(unsafeString(num), bits)
		if err != nil {
			return fail("not a number: " + string(num))
		}
		if bits == 32 {
			return pq.FloatValue(float32(f)), 4, nil
		}
		return pq.DoubleValue(f), 8, nil
	case kDate:
		if ch == '"' {
			s, ok := sc.str(&c.buf)
			if !ok {
				return fail("malformed JSON string")
			}
			if d, err := time.Parse(time.DateOnly, string(s)); err == nil {
				return pq.Int32Value(int32(d.Unix() / 86400)), 4, nil
			}
			if n, err := strconv.ParseInt(string(s), 10, 32); err == nil {
				return pq.Int32Value(int32(n)), 4, nil
			}
			return fail("not a date (yyyy-MM-dd): " + string(s))
		}
		num, ok := sc.number()
		if !ok {
			return fail("not a date")
		}
		n, err := strconv.ParseInt(unsafeString(num), 10, 32)
		if err != nil {
			return fail("not a day number: " + string(num))
		}
		return pq.Int32Value(int32(n)), 4, nil
	case kTimestamp:
		var t time.Time
		if ch == '"' {
			s, ok := sc.str(&c.buf)
			if !ok {
				return fail("malformed JSON string")
			}
			var err error
			if t, err = parseTimestamp(string(s)); err != nil {
				return fail(err.Error())
			}
		} else {
			num, ok := sc.number()
			if !ok {
				return fail("not a timestamp")
			}
			var err error
			if t, err = epochTime(string(num)); err != nil {
				return fail(err.Error())
			}
		}
		var v int64
		switch col.unit {
		case time.Millisecond:
			v = t.UnixMilli()
		case time.Microsecond:
			v = t.UnixMicro()
		default:
			v = t.UnixNano()
		}
		return pq.Int64Value(v), 8, nil
	}
	return fail("unsupported column")
}

type timestampError string

func (e timestampError) Error() string { return string(e) }

// parseTimestamp accepts RFC 3339, "yyyy-MM-dd HH:mm:ss[.f]" (UTC) and
// epoch numbers written as strings.
func parseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, nil
	}
	if t, err := epochTime(s); err == nil {
		return t, nil
	}
	return time.Time{}, timestampError("not a timestamp (RFC 3339, yyyy-MM-dd HH:mm:ss[.f] or epoch): " + strconv.Quote(s))
}

// epochTime reads epoch seconds (|v| < 1e11, fraction allowed) or
// milliseconds.
func epochTime(s string) (time.Time, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i > -1e11 && i < 1e11 {
			return time.Unix(i, 0).UTC(), nil
		}
		return time.UnixMilli(i).UTC(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) >= 1e11 {
		return time.Time{}, timestampError("not an epoch timestamp: " + s)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// scanner is a minimal JSON tokenizer over one record.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// str reads a JSON string. Without escapes it returns a slice of the
// record; with escapes it decodes into *scratch and returns that.
func (s *scanner) str(scratch *[]byte) ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	escaped := false
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '\\':
			escaped = true
			j++
		case c == '"':
			s.i = j + 1
			if !escaped {
				return s.b[start:j], true
			}
			var out string
			if err := json.Unmarshal(s.b[start-1:j+1], &out); err != nil {
				return nil, false
			}
			// Escapes are rare: a fresh copy keeps aliasing simple.
			return []byte(out), true
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) number() ([]byte, bool) {
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			s.i++
		default:
			return s.b[start:s.i], s.i > start
		}
	}
	return s.b[start:s.i], s.i > start
}

func (s *scanner) numberOrQuoted(scratch *[]byte) ([]byte, bool) {
	if s.i < len(s.b) && s.b[s.i] == '"' {
		v, ok := s.str(scratch)
		return bytes.TrimSpace(v), ok && len(v) > 0
	}
	return s.number()
}

// skip passes over one JSON value of any type.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		var scratch []byte
		_, ok := s.str(&scratch)
		return ok
	case c == '{' || c == '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			case '"':
				var scratch []byte
				if _, ok := s.str(&scratch); !ok {
					return false
				}
				continue
			}
			s.i++
		}
		return false
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	default:
		_, ok := s.number()
		return ok
	}
}
