package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// rawOptions are Flink's raw format options.
var rawOptions = []string{"charset", "endianness"}

// rawCodec is Flink's raw format: the record is the value of the table's
// single physical column. Strings are encoded in raw.charset; BYTES as
// they are; BOOLEAN as one byte; TINYINT, SMALLINT, INT, BIGINT, FLOAT and
// DOUBLE as 1, 2, 4, 8, 4 and 8 bytes in raw.endianness. A nil record is
// NULL, and NULL encodes as no bytes.
type rawCodec struct {
	l       *row.Layout
	t       types.Type
	charset string
	order   byteOrder
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

var rawCharsets = []string{"UTF-8", "US-ASCII", "ISO-8859-1", "UTF-16BE", "UTF-16LE"}

func newRaw(o *opts, l *row.Layout) (Codec, error) {
	if l.Len() != 1 {
		return nil, fmt.Errorf("The 'raw' format only supports single physical column. However the table has %d physical columns", l.Len())
	}
	c := &rawCodec{l: l, t: l.Type(0)}
	switch c.t.Kind {
	case types.Char, types.VarChar, types.Binary, types.VarBinary, types.Boolean, types.TinyInt, types.SmallInt,
		types.Int, types.BigInt, types.Float, types.Double:
	default:
		return nil, fmt.Errorf("The 'raw' format doesn't supports '%s' as column type.", c.t)
	}
	var err error
	if c.charset, err = o.oneOf("charset", "UTF-8", rawCharsets...); err != nil {
		return nil, err
	}
	e, err := o.oneOf("endianness", "big-endian", "big-endian", "little-endian")
	if err != nil {
		return nil, err
	}
	c.order = binary.BigEndian
	if e == "little-endian" {
		c.order = binary.LittleEndian
	}
	return c, nil
}

var rawWidth = map[types.Kind]int{types.Boolean: 1, types.TinyInt: 1, types.SmallInt: 2, types.Int: 4,
	types.BigInt: 8, types.Float: 4, types.Double: 8}

// Decode implements Codec.
func (c *rawCodec) Decode(data []byte) (*row.Row, error) {
	r := c.l.New()
	if data == nil {
		return r, nil
	}
	switch c.t.Kind {
	case types.Char, types.VarChar:
		r.SetStr(0, c.decodeString(data))
		return r, nil
	case types.Binary, types.VarBinary:
		r.SetStr(0, string(data))
		return r, nil
	}
	if w := rawWidth[c.t.Kind]; len(data) != w {
		return nil, &DecodeError{Format: "raw", Field: c.l.Name(0),
			Reason: fmt.Sprintf("a %s needs %d bytes, the record has %d", c.t, w, len(data))}
	}
	switch c.t.Kind {
	case types.Boolean:
		r.SetBool(0, data[0] != 0)
	case types.TinyInt:
		r.SetInt(0, int64(int8(data[0])))
	case types.SmallInt:
		r.SetInt(0, int64(int16(c.order.Uint16(data))))
	case types.Int:
		r.SetInt(0, int64(int32(c.order.Uint32(data))))
	case types.BigInt:
		r.SetInt(0, int64(c.order.Uint64(data)))
	case types.Float:
		r.SetFloat(0, float64(math.Float32frombits(c.order.Uint32(data))))
	case types.Double:
		r.SetFloat(0, math.Float64frombits(c.order.Uint64(data)))
	}
	return r, nil
}

// decodeString decodes as Java's new String(bytes, charset): malformed
// input becomes U+FFFD.
func (c *rawCodec) decodeString(data []byte) string {
	switch c.charset {
	case "US-ASCII":
		var b strings.Builder
		for _, x := range data {
			if x < 0x80 {
				b.WriteByte(x)
			} else {
				b.WriteRune(utf8.RuneError)
			}
		}
		return b.String()
	case "ISO-8859-1":
		var b strings.Builder
		for _, x := range data {
			b.WriteRune(rune(x))
		}
		return b.String()
	case "UTF-16BE", "UTF-16LE":
		var order byteOrder = binary.BigEndian
		if c.charset == "UTF-16LE" {
			order = binary.LittleEndian
		}
		us := make([]uint16, 0, len(data)/2)
		for i := 0; i+1 < len(data); i += 2 {
			us = append(us, order.Uint16(data[i:]))
		}
		s := string(utf16.Decode(us))
		if len(data)%2 == 1 {
			s += string(utf8.RuneError)
		}
		return s
	}
	return strings.ToValidUTF8(string(data), string(utf8.RuneError))
}

// Encode implements Codec.
func (c *rawCodec) Encode(dst []byte, r *row.Row) ([]byte, error) {
	if r.L.Len() != 1 {
		return dst, fmt.Errorf("raw: row has %d fields, the table 1", r.L.Len())
	}
	if r.IsNull(0) {
		return dst, nil
	}
	switch c.t.Kind {
	case types.Char, types.VarChar:
		return c.encodeString(dst, r.Str(0)), nil
	case types.Binary, types.VarBinary:
		return append(dst, r.Str(0)...), nil
	case types.Boolean:
		if r.Bool(0) {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case types.TinyInt:
		return append(dst, byte(r.Int(0))), nil
	case types.SmallInt:
		return c.order.AppendUint16(dst, uint16(r.Int(0))), nil
	case types.Int:
		return c.order.AppendUint32(dst, uint32(r.Int(0))), nil
	case types.BigInt:
		return c.order.AppendUint64(dst, uint64(r.Int(0))), nil
	case types.Float:
		return c.order.AppendUint32(dst, math.Float32bits(float32(r.Float(0)))), nil
	case types.Double:
		return c.order.AppendUint64(dst, math.Float64bits(r.Float(0))), nil
	}
	return dst, fmt.Errorf("raw: type %s", c.t)
}

// encodeString encodes as Java's String.getBytes(charset): a character
// the charset lacks becomes '?'.
func (c *rawCodec) encodeString(dst []byte, s string) []byte {
	switch c.charset {
	case "US-ASCII", "ISO-8859-1":
		limit := rune(0x7f)
		if c.charset == "ISO-8859-1" {
			limit = 0xff
		}
		for _, x := range s {
			if x > limit {
				x = '?'
			}
			dst = append(dst, byte(x))
		}
		return dst
	case "UTF-16BE", "UTF-16LE":
		var order byteOrder = binary.BigEndian
		if c.charset == "UTF-16LE" {
			order = binary.LittleEndian
		}
		for _, u := range utf16.Encode([]rune(s)) {
			dst = order.AppendUint16(dst, u)
		}
		return dst
	}
	return append(dst, s...)
}
