package functions

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicehq/sluice/sql/types"
)

// The functions between strings and bytes, as Flink has them: ENCODE and
// DECODE with a character set named by the second argument.

func registerBytes(r *Registry) {
	str, bytes := types.StringType(), types.BytesType()
	r.simple("ENCODE", []param{pString, pString}, bytes, false, func(a []Value) (Value, error) {
		b, err := encodeCharset(a[0].S, a[1].S)
		if err != nil {
			return Value{}, err
		}
		return Str(string(b)), nil
	})
	r.simple("DECODE", []param{pBytes, pString}, str, false, func(a []Value) (Value, error) {
		s, err := decodeCharset([]byte(a[0].S), a[1].S)
		if err != nil {
			return Value{}, err
		}
		return Str(s), nil
	})
}

// charsets are those Flink's ENCODE and DECODE document.
const charsets = "'US-ASCII', 'ISO-8859-1', 'UTF-8', 'UTF-16BE', 'UTF-16LE', 'UTF-16'"

func encodeCharset(s, charset string) ([]byte, error) {
	switch strings.ToUpper(charset) {
	case "UTF-8", "UTF8":
		return []byte(strings.ToValidUTF8(s, "\uFFFD")), nil
	case "US-ASCII", "ASCII":
		return narrow(s, 0x80), nil
	case "ISO-8859-1", "LATIN1":
		return narrow(s, 0x100), nil
	case "UTF-16BE", "UTF-16LE", "UTF-16":
		units := utf16.Encode([]rune(s))
		var order binary.AppendByteOrder = binary.BigEndian
		out := make([]byte, 0, 2*len(units)+2)
		switch strings.ToUpper(charset) {
		case "UTF-16LE":
			order = binary.LittleEndian
		case "UTF-16":
			out = append(out, 0xFE, 0xFF) // Java writes a big-endian byte-order mark
		}
		for _, u := range units {
			out = order.AppendUint16(out, u)
		}
		return out, nil
	}
	return nil, fmt.Errorf("ENCODE: unsupported character set '%s' (one of %s)", charset, charsets)
}

func decodeCharset(b []byte, charset string) (string, error) {
	switch strings.ToUpper(charset) {
	case "UTF-8", "UTF8":
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	case "US-ASCII", "ASCII":
		var sb strings.Builder
		for _, c := range b {
			if c >= 0x80 {
				sb.WriteRune(utf8.RuneError)
				continue
			}
			sb.WriteByte(c)
		}
		return sb.String(), nil
	case "ISO-8859-1", "LATIN1":
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		return sb.String(), nil
	case "UTF-16BE", "UTF-16LE", "UTF-16":
		var order binary.ByteOrder = binary.BigEndian
		switch strings.ToUpper(charset) {
		case "UTF-16LE":
			order = binary.LittleEndian
		case "UTF-16":
			if len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE {
				order, b = binary.LittleEndian, b[2:]
			} else if len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF {
				b = b[2:]
			}
		}
		units := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			units = append(units, order.Uint16(b[i:]))
		}
		s := string(utf16.Decode(units))
		if len(b)%2 == 1 {
			s += string(utf8.RuneError)
		}
		return s, nil
	}
	return "", fmt.Errorf("DECODE: unsupported character set '%s' (one of %s)", charset, charsets)
}

// narrow encodes each character of s as one byte, '?' for those at or
// above limit (as Java's encoders replace unmappable characters).
func narrow(s string, limit rune) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= limit {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}
