package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	for i := 0; i < l.Len(); i++ {
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

// Decode implements Codec.
func (c *jsonCodec) Decode(data []byte) (*row.Row, error) {
	obj, err := c.object(data)
	if err != nil {
		if c.ignoreErrors {
			return nil, nil
		}
		return nil, err
	}
	r := c.l.New()
	for i := 0; i < c.l.Len(); i++ {
		name, t := c.l.Name(i), c.l.Type(i)
		jv, ok := obj[name]
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
