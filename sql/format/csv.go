package format

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// csvOptions are Flink's csv format options Sluice takes.
var csvOptions = []string{"field-delimiter", "disable-quote-character", "quote-character", "allow-comments",
	"ignore-parse-errors", "array-element-delimiter", "escape-character", "null-literal"}

// csvCodec is Flink's csv format: one record is one line of fields in
// column order. Values are written as in Flink's csv: numbers and
// booleans as text, BYTES base64, DATE yyyy-MM-dd, TIME HH:mm:ss[.f],
// TIMESTAMP yyyy-MM-dd HH:mm:ss[.f] (TIMESTAMP_LTZ with a trailing 'Z'),
// ARRAY elements joined by csv.array-element-delimiter.
//
// An empty unquoted field reads as NULL for a non-string column and as
// ” for a string column; an empty string, byte string or array is written
// quoted (""). NULL is written as csv.null-literal, or as an empty field
// when there is none (so without a null literal a NULL string reads back
// as ”). A field equal to the null literal reads as NULL. An array
// element holding csv.array-element-delimiter does not survive a round
// trip (Flink's csv has no escape for it either). The record is one line:
// a value holding a line break is quoted, which a line-oriented reader
// must keep together.
type csvCodec struct {
	l            *row.Layout
	delim        rune
	quote        rune // 0: quoting disabled
	escape       rune // 0: none
	comments     bool
	ignoreErrors bool
	arrayDelim   string
	nullLiteral  string
	hasNull      bool
}

func newCSV(o *opts, l *row.Layout) (Codec, error) {
	c := &csvCodec{l: l}
	var err error
	if c.delim, _, err = o.char("field-delimiter", ',', true); err != nil {
		return nil, err
	}
	disable, err := o.bool("disable-quote-character", false)
	if err != nil {
		return nil, err
	}
	q, setQ, err := o.char("quote-character", '"', false)
	if err != nil {
		return nil, err
	}
	if disable && setQ {
		return nil, &OptionError{Key: o.key("quote-character"),
			Msg: "Format cannot define a quote character and disabled quote character at the same time."}
	}
	if !disable {
		c.quote = q
	}
	if e, set, err := o.char("escape-character", 0, false); err != nil {
		return nil, err
	} else if set {
		c.escape = e
	}
	if c.comments, err = o.bool("allow-comments", false); err != nil {
		return nil, err
	}
	if c.ignoreErrors, err = o.bool("ignore-parse-errors", false); err != nil {
		return nil, err
	}
	c.arrayDelim = ";"
	if v, ok := o.str("array-element-delimiter"); ok {
		c.arrayDelim = v
		if c.arrayDelim == "" {
			return nil, &OptionError{Key: o.key("array-element-delimiter"), Msg: fmt.Sprintf("option '%s' must not be empty", o.key("array-element-delimiter"))}
		}
	}
	c.nullLiteral, c.hasNull = o.str("null-literal")
	if c.delim == c.quote || (c.escape != 0 && (c.escape == c.delim || c.escape == c.quote)) {
		return nil, &OptionError{Key: o.key("field-delimiter"),
			Msg: "Format 'csv': the field delimiter, quote character and escape character must differ"}
	}
	for i := 0; i < l.Len(); i++ {
		if err := csvSupports(l.Type(i)); err != nil {
			return nil, fmt.Errorf("csv: column '%s' of type %s: %w", l.Name(i), l.Type(i), err)
		}
	}
	return c, nil
}

func csvSupports(t types.Type) error {
	switch t.Kind {
	case types.Map, types.Multiset, types.Row, types.Null, types.IntervalDayTime, types.IntervalYearMonth:
		return errors.New("the csv format does not support this type")
	case types.Array:
		if t.Elem.IsConstructed() {
			return errors.New("the csv format supports arrays of scalar values only")
		}
		return csvSupports(*t.Elem)
	}
	return nil
}

// emptyIsNull reports whether an empty unquoted field of type t reads as
// NULL: every type but strings (Flink reads ”).
func (c *csvCodec) emptyIsNull(t types.Type) bool { return !t.IsCharString() }

// quoteEmpty reports whether an empty value of type t is written quoted
// (""), told apart from NULL: strings, byte strings and arrays.
func (c *csvCodec) quoteEmpty(t types.Type) bool {
	return t.IsCharString() || t.IsBinaryString() || t.Kind == types.Array
}

type csvField struct {
	s      string
	quoted bool
}

func (c *csvCodec) fail(field, format string, args ...any) error {
	return &DecodeError{Format: "csv", Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Decode implements Codec.
func (c *csvCodec) Decode(data []byte) (*row.Row, error) {
	line := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if c.comments && strings.HasPrefix(line, "#") {
		return nil, nil
	}
	fields, err := c.split(line)
	if err == nil && len(fields) != c.l.Len() {
		err = c.fail("", "expected %d fields, got %d", c.l.Len(), len(fields))
	}
	if err != nil {
		if c.ignoreErrors {
			return nil, nil
		}
		return nil, err
	}
	r := c.l.New()
	for i, f := range fields {
		if err := c.field(r, i, f); err != nil {
			if c.ignoreErrors {
				r.SetNull(i)
				continue
			}
			return nil, err
		}
	}
	return r, nil
}

// split cuts a line into fields: quoted fields may hold the delimiter,
// a doubled quote and escaped characters.
func (c *csvCodec) split(line string) ([]csvField, error) {
	var fields []csvField
	var b strings.Builder
	i := 0
	for {
		b.Reset()
		f := csvField{}
		if c.quote != 0 && strings.HasPrefix(line[i:], string(c.quote)) {
			f.quoted = true
			i += utf8.RuneLen(c.quote)
			closed := false
			for i < len(line) {
				r, n := utf8.DecodeRuneInString(line[i:])
				switch {
				case c.escape != 0 && r == c.escape:
					if i+n >= len(line) {
						return nil, c.fail("", "escape character at the end of the line (field %d)", len(fields)+1)
					}
					r2, n2 := utf8.DecodeRuneInString(line[i+n:])
					b.WriteRune(r2)
					i += n + n2
					continue
				case r == c.quote:
					if strings.HasPrefix(line[i+n:], string(c.quote)) {
						b.WriteRune(r)
						i += 2 * n
						continue
					}
					i += n
					closed = true
				default:
					b.WriteRune(r)
					i += n
					continue
				}
				break
			}
			if !closed {
				return nil, c.fail("", "unterminated quoted field (field %d)", len(fields)+1)
			}
			if i < len(line) {
				r, n := utf8.DecodeRuneInString(line[i:])
				if r != c.delim {
					return nil, c.fail("", "unexpected character %q after the closing quote of field %d", r, len(fields)+1)
				}
				f.s = b.String()
				fields = append(fields, f)
				i += n
				continue
			}
			f.s = b.String()
			return append(fields, f), nil
		}
		for i < len(line) {
			r, n := utf8.DecodeRuneInString(line[i:])
			if c.escape != 0 && r == c.escape {
				if i+n >= len(line) {
					return nil, c.fail("", "escape character at the end of the line (field %d)", len(fields)+1)
				}
				r2, n2 := utf8.DecodeRuneInString(line[i+n:])
				b.WriteRune(r2)
				i += n + n2
				continue
			}
			if r == c.delim {
				break
			}
			b.WriteRune(r)
			i += n
		}
		f.s = b.String()
		fields = append(fields, f)
		if i >= len(line) {
			return fields, nil
		}
		i += utf8.RuneLen(c.delim)
	}
}

func (c *csvCodec) field(r *row.Row, i int, f csvField) error {
	name, t := c.l.Name(i), c.l.Type(i)
	if c.hasNull && f.s == c.nullLiteral {
		return nil // NULL
	}
	if f.s == "" && !f.quoted && c.emptyIsNull(t) {
		return nil
	}
	v, err := c.value(t, f.s, name)
	if err != nil {
		return err
	}
	if err := r.Set(i, v); err != nil {
		return c.fail(name, "%v", err)
	}
	if _, isDec := v.(row.Decimal); isDec && r.IsNull(i) {
		return c.fail(name, "%s does not fit %s", f.s, t)
	}
	return nil
}

func (c *csvCodec) value(t types.Type, s, path string) (any, error) {
	if t.Kind == types.Array {
		if s == "" {
			return []any{}, nil
		}
		parts := strings.Split(s, c.arrayDelim)
		out := make([]any, len(parts))
		for j, p := range parts {
			if c.hasNull && p == c.nullLiteral {
				continue
			}
			v, err := c.value(*t.Elem, p, fmt.Sprintf("%s[%d]", path, j))
			if err != nil {
				return nil, err
			}
			out[j] = v
		}
		return out, nil
	}
	// A CSV value converts as the same text in a JSON string would.
	v, err := row.ValueFromJSON(t, s, path)
	if err != nil {
		var fe *row.FieldError
		if errors.As(err, &fe) {
			return nil, c.fail(fe.Path, "%s (type %s)", fe.Msg, fe.Type)
		}
		return nil, c.fail(path, "%v", err)
	}
	return v, nil
}

// Encode implements Codec.
func (c *csvCodec) Encode(dst []byte, r *row.Row) ([]byte, error) {
	if r.L.Len() != c.l.Len() {
		return dst, fmt.Errorf("csv: row has %d fields, the table %d", r.L.Len(), c.l.Len())
	}
	var buf []byte
	for i := 0; i < c.l.Len(); i++ {
		if i > 0 {
			dst = utf8.AppendRune(dst, c.delim)
		}
		v := r.Get(i)
		if v == nil {
			if c.hasNull {
				dst = c.appendField(dst, c.nullLiteral, false)
			}
			continue
		}
		buf = c.appendText(buf[:0], c.l.Type(i), v)
		var err error
		if dst, err = c.appendQuoted(dst, string(buf), len(buf) == 0 && c.quoteEmpty(c.l.Type(i)), c.l.Name(i)); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// appendText is v's csv text, unquoted.
func (c *csvCodec) appendText(dst []byte, t types.Type, v any) []byte {
	switch t.Kind {
	case types.Char, types.VarChar:
		return append(dst, v.(string)...)
	case types.Array:
		for j, e := range v.([]any) {
			if j > 0 {
				dst = append(dst, c.arrayDelim...)
			}
			if e == nil {
				dst = append(dst, c.nullLiteral...)
				continue
			}
			dst = c.appendText(dst, *t.Elem, e)
		}
		return dst
	}
	start := len(dst)
	dst = row.AppendJSONValue(dst, t, v)
	if n := len(dst) - start; n >= 2 && dst[start] == '"' && dst[len(dst)-1] == '"' {
		// Dates, times, timestamps, base64 and NaN/Infinity come as JSON
		// strings with nothing to escape: drop the quotes.
		copy(dst[start:], dst[start+1:len(dst)-1])
		dst = dst[:len(dst)-2]
	}
	return dst
}

func (c *csvCodec) appendField(dst []byte, s string, forceQuote bool) []byte {
	out, _ := c.appendQuoted(dst, s, forceQuote, "")
	return out
}

// appendQuoted writes s quoted when it holds the delimiter, the quote,
// the escape character or a line break (or when forceQuote: an empty
// string, told apart from NULL).
func (c *csvCodec) appendQuoted(dst []byte, s string, forceQuote bool, name string) ([]byte, error) {
	special := strings.ContainsRune(s, c.delim) || strings.ContainsAny(s, "\r\n") ||
		(c.quote != 0 && strings.ContainsRune(s, c.quote)) || (c.escape != 0 && strings.ContainsRune(s, c.escape)) ||
		(c.comments && strings.HasPrefix(s, "#"))
	if !special && !forceQuote {
		return append(dst, s...), nil
	}
	if c.quote == 0 {
		if c.escape == 0 {
			if !special {
				return append(dst, s...), nil
			}
			return dst, fmt.Errorf("csv: field '%s': value %q holds the delimiter or a line break, and csv.disable-quote-character is set with no csv.escape-character", name, s)
		}
		for _, r := range s {
			if r == c.delim || r == c.escape || r == '\n' || r == '\r' {
				dst = utf8.AppendRune(dst, c.escape)
			}
			dst = utf8.AppendRune(dst, r)
		}
		return dst, nil
	}
	dst = utf8.AppendRune(dst, c.quote)
	for _, r := range s {
		switch {
		case r == c.quote && c.escape != 0:
			dst = utf8.AppendRune(dst, c.escape)
		case r == c.quote:
			dst = utf8.AppendRune(dst, c.quote)
		case c.escape != 0 && r == c.escape:
			dst = utf8.AppendRune(dst, c.escape)
		}
		dst = utf8.AppendRune(dst, r)
	}
	return utf8.AppendRune(dst, c.quote), nil
}
