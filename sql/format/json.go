package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// jsonOptions are Flink's json format options Sluice takes.
var jsonOptions = []string{"fail-on-missing-field", "ignore-parse-errors", "timestamp-format.standard", "encode.ignore-null-fields"}

// jsonCodec is Flink's json format: one JSON object per record, fields
// matched by column name (unknown ones ignored), conversions as
// row.ValueFromJSON.
type jsonCodec struct {
	l             *row.Layout
	failOnMissing bool
	ignoreErrors  bool
	iso           bool // timestamp-format.standard 'ISO-8601'
	skipNulls     bool // encode.ignore-null-fields
	names         [][]byte
	index         map[string]int // column by name
}

func newJSON(o *opts, l *row.Layout) (Codec, error) {
	c := &jsonCodec{l: l}
	var err error
	if c.failOnMissing, err = o.bool("fail-on-missing-field", false); err != nil {
		return nil, err
	}
	if c.ignoreErrors, err = o.bool("ignore-parse-errors", false); err != nil {
		return nil, err
	}
	if c.failOnMissing && c.ignoreErrors {
		return nil, &OptionError{Key: o.key("ignore-parse-errors"),
			Msg: fmt.Sprintf("%s and %s shouldn't both be true.", o.key("fail-on-missing-field"), o.key("ignore-parse-errors"))}
	}
	std, err := o.oneOf("timestamp-format.standard", "SQL", "SQL", "ISO-8601")
	if err != nil {
		return nil, err
	}
	c.iso = std == "ISO-8601"
	if c.skipNulls, err = o.bool("encode.ignore-null-fields", false); err != nil {
		return nil, err
	}
	c.index = map[string]int{}
	for i := 0; i < l.Len(); i++ {
		c.index[l.Name(i)] = i
		b, err := json.Marshal(l.Name(i))
		if err != nil {
			return nil, fmt.Errorf("json: field name %q: %w", l.Name(i), err)
		}
		c.names = append(c.names, b)
	}
	return c, nil
}

func (c *jsonCodec) fail(field, format string, args ...any) error {
	return &DecodeError{Format: "json", Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Decode implements Codec. A valid JSON object is read by a scanner that
// finds each column's value without building a map; anything else (and
// keys with escapes or invalid UTF-8) takes the general path, which also
// words the errors. Both convert values with row.ValueFromJSON, so they
// agree (FuzzJSONFastPath checks it).
func (c *jsonCodec) Decode(data []byte) (*row.Row, error) {
	spans := make([][2]int, c.l.Len())
	if c.scan(data, spans) {
		return c.fill(func(i int) (any, bool, error) {
			sp := spans[i]
			if sp[1] == 0 {
				return nil, false, nil
			}
			v, err := spanValue(data[sp[0]:sp[1]])
			return v, true, err
		})
	}
	return c.decodeSlow(data)
}

// decodeSlow decodes with encoding/json into a map.
func (c *jsonCodec) decodeSlow(data []byte) (*row.Row, error) {
	obj, err := c.object(data)
	if err != nil {
		if c.ignoreErrors {
			return nil, nil
		}
		return nil, err
	}
	return c.fill(func(i int) (any, bool, error) {
		v, ok := obj[c.l.Name(i)]
		return v, ok, nil
	})
}

// fill builds the row from each column's JSON value (get: the value as
// encoding/json gives it with UseNumber, and whether the key is there).
func (c *jsonCodec) fill(get func(i int) (any, bool, error)) (*row.Row, error) {
	r := c.l.New()
	for i := 0; i < c.l.Len(); i++ {
		name, t := c.l.Name(i), c.l.Type(i)
		jv, ok, err := get(i)
		if err != nil {
			if c.ignoreErrors {
				return nil, nil
			}
			return nil, c.fail(name, "%v", err)
		}
		if !ok {
			if c.failOnMissing {
				return nil, c.fail(name, "Could not find field with name '%s'.", name)
			}
			continue
		}
		if jv == nil {
			continue
		}
		if err := c.field(r, i, t, name, jv); err != nil {
			if c.ignoreErrors {
				// Flink: a field with a parse error is NULL.
				r.SetNull(i)
				continue
			}
			return nil, err
		}
	}
	return r, nil
}

// scan finds the value of each column in data, a JSON object, into spans
// (the last of duplicate keys, as encoding/json's map keeps it; absent
// keys leave {0, 0}). It reports false when data is not a valid JSON
// object or has a key it does not read byte for byte.
func (c *jsonCodec) scan(data []byte, spans [][2]int) bool {
	if !json.Valid(data) {
		return false
	}
	i := skipWS(data, 0)
	if data[i] != '{' {
		return false
	}
	i = skipWS(data, i+1)
	if data[i] == '}' {
		return true
	}
	for {
		ke := skipString(data, i)
		key := data[i+1 : ke-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			return false
		}
		i = skipWS(data, ke)
		i = skipWS(data, i+1) // ':'
		ve := skipValue(data, i)
		if idx, ok := c.index[string(key)]; ok {
			spans[idx] = [2]int{i, ve}
		}
		i = skipWS(data, ve)
		if data[i] != ',' {
			return true // '}'
		}
		i = skipWS(data, i+1)
	}
}

// spanValue is one valid JSON value as encoding/json decodes it with
// UseNumber.
func spanValue(b []byte) (any, error) {
	switch b[0] {
	case 'n':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case '"':
		if s := b[1 : len(b)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			return string(s), nil
		}
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	case '{', '[':
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	return json.Number(b), nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the valid JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	}
	j := i
	for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
		j++
	}
	return j
}

func (c *jsonCodec) object(data []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, c.fail("", "empty record")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, c.fail("", "malformed JSON: %v", err)
	}
	if d.More() {
		return nil, c.fail("", "malformed JSON: data after the top-level value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, c.fail("", "expected a JSON object, got %s", jsonKind(v))
	}
	return obj, nil
}

func (c *jsonCodec) field(r *row.Row, i int, t types.Type, name string, jv any) error {
	if t.IsTimestamp() {
		if s, ok := jv.(string); ok {
			if err := c.checkTimestamp(s, t); err != nil {
				return c.fail(name, "%v", err)
			}
		}
	}
	v, err := row.ValueFromJSON(t, jv, name)
	if err != nil {
		var fe *row.FieldError
		if errors.As(err, &fe) {
			return c.fail(fe.Path, "%s (type %s)", fe.Msg, fe.Type)
		}
		return c.fail(name, "%v", err)
	}
	if err := r.Set(i, v); err != nil {
		return c.fail(name, "%v", err)
	}
	if _, isDec := v.(row.Decimal); isDec && r.IsNull(i) {
		return c.fail(name, "%s does not fit %s", v, t)
	}
	return nil
}

// checkTimestamp holds a top-level timestamp to the chosen standard:
// 'yyyy-MM-dd HH:mm:ss[.f]' (SQL) or 'yyyy-MM-ddTHH:mm:ss[.f]' (ISO-8601),
// with a trailing 'Z' for TIMESTAMP_LTZ.
func (c *jsonCodec) checkTimestamp(s string, t types.Type) error {
	want, std := " ", "SQL"
	if c.iso {
		want, std = "T", "ISO-8601"
	}
	i := strings.IndexAny(s, " T")
	if i < 0 || s[i:i+1] != want {
		form := "yyyy-MM-dd" + want + "HH:mm:ss"
		if t.Kind == types.TimestampLTZ {
			form += "Z"
		}
		return fmt.Errorf("cannot parse %q as %s: expected '%s' (json.timestamp-format.standard '%s')", s, t, form, std)
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "null"
}

// Encode implements Codec.
func (c *jsonCodec) Encode(dst []byte, r *row.Row) ([]byte, error) {
	if r.L.Len() != c.l.Len() {
		return dst, fmt.Errorf("json: row has %d fields, the table %d", r.L.Len(), c.l.Len())
	}
	dst = append(dst, '{')
	first := true
	for i := 0; i < c.l.Len(); i++ {
		if c.skipNulls && r.IsNull(i) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, c.names[i]...)
		dst = append(dst, ':')
		t := c.l.Type(i)
		start := len(dst)
		dst = row.AppendJSONValue(dst, t, r.Get(i))
		if c.iso && t.IsTimestamp() && !r.IsNull(i) {
			// row writes the SQL form "yyyy-MM-dd HH:mm:ss"; the date has
			// no space, so the first one is the separator.
			if j := bytes.IndexByte(dst[start:], ' '); j >= 0 {
				dst[start+j] = 'T'
			}
		}
	}
	return append(dst, '}'), nil
}
