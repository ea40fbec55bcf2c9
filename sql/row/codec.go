package row

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/sluicehq/sluice/sql/types"
)

// ErrCorrupt is returned when bytes do not decode as a row or value.
var ErrCorrupt = errors.New("row: corrupt encoding")

// FormatV1 is the first byte of every row encoding; a later format gets a
// new byte, and decoders keep reading the old ones.
const FormatV1 byte = 1

// Codec encodes rows of one layout for state and exchanges: a format
// byte, the row kind, the null bitmap, then each non-NULL field
// (fixed-width values in 8 little-endian bytes, strings as a uvarint length
// and their bytes, nested values recursively). It implements
// state.Codec[*Row] and is safe for concurrent use.
type Codec struct{ L *Layout }

// NewCodec is the codec of rows of l.
func NewCodec(l *Layout) Codec { return Codec{L: l} }

// Append appends r's encoding.
func (c Codec) Append(dst []byte, r *Row) []byte {
	l := c.L
	dst = append(dst, FormatV1, byte(r.Kind))
	n := len(l.types)
	for i := 0; i < n; i += 8 {
		var b byte
		for j := i; j < i+8 && j < n; j++ {
			if r.IsNull(j) {
				b |= 1 << (j - i)
			}
		}
		dst = append(dst, b)
	}
	for i := 0; i < n; i++ {
		if r.IsNull(i) {
			continue
		}
		s := l.slots[i]
		switch s.cls {
		case clsString:
			v := r.S[s.idx]
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		case clsRef:
			dst = AppendValue(dst, l.types[i], r.R[s.idx])
		case clsTS2:
			j := l.nullWords + int(s.idx)
			dst = binary.LittleEndian.AppendUint64(dst, r.W[j])
			dst = binary.LittleEndian.AppendUint32(dst, uint32(r.W[j+1]))
		default:
			dst = binary.LittleEndian.AppendUint64(dst, r.W[l.nullWords+int(s.idx)])
		}
	}
	return dst
}

// Decode decodes a row encoded by Append. It does not retain src.
func (c Codec) Decode(src []byte) (*Row, error) {
	r := c.L.New()
	rest, err := c.DecodeInto(src, r)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	return r, nil
}

// DecodeInto decodes one row into r (of the codec's layout) and returns
// the bytes after it.
func (c Codec) DecodeInto(src []byte, r *Row) ([]byte, error) {
	l := c.L
	n := len(l.types)
	nb := (n + 7) / 8
	if len(src) < 2+nb || src[0] != FormatV1 || src[1] > byte(Delete) {
		return nil, fmt.Errorf("%w: bad row header", ErrCorrupt)
	}
	r.Kind = Kind(src[1])
	bitmap := src[2 : 2+nb]
	src = src[2+nb:]
	for i := 0; i < n; i++ {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			r.SetNull(i)
			continue
		}
		s := l.slots[i]
		switch s.cls {
		case clsString:
			ln, k := binary.Uvarint(src)
			if k <= 0 || uint64(len(src)-k) < ln {
				return nil, fmt.Errorf("%w: string field %d", ErrCorrupt, i)
			}
			r.SetStr(i, string(src[k:k+int(ln)]))
			src = src[k+int(ln):]
		case clsRef:
			v, rest, err := DecodeValue(src, l.types[i])
			if err != nil {
				return nil, err
			}
			src = rest
			r.R[s.idx] = v
			r.setNotNull(i)
		case clsTS2:
			if len(src) < 12 {
				return nil, fmt.Errorf("%w: field %d", ErrCorrupt, i)
			}
			j := l.nullWords + int(s.idx)
			r.W[j] = binary.LittleEndian.Uint64(src)
			r.W[j+1] = uint64(binary.LittleEndian.Uint32(src[8:]))
			r.setNotNull(i)
			src = src[12:]
		default:
			if len(src) < 8 {
				return nil, fmt.Errorf("%w: field %d", ErrCorrupt, i)
			}
			r.W[l.nullWords+int(s.idx)] = binary.LittleEndian.Uint64(src)
			r.setNotNull(i)
			src = src[8:]
		}
	}
	return src, nil
}

// AppendValue appends a non-NULL-or-NULL canonical value v of type t (a
// presence byte, then the value).
func AppendValue(dst []byte, t types.Type, v any) []byte {
	if v == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	switch t.Kind {
	case types.Boolean:
		if v.(bool) {
			return append(dst, 1)
		}
		return append(dst, 0)
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
		types.IntervalYearMonth, types.IntervalDayTime:
		return binary.AppendVarint(dst, v.(int64))
	case types.Float, types.Double:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.(float64)))
	case types.Decimal:
		return appendDecimal(dst, v.(Decimal))
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		s := v.(string)
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		return append(dst, s...)
	case types.Timestamp, types.TimestampLTZ:
		ts := v.(Timestamp)
		dst = binary.AppendVarint(dst, ts.Millis)
		return binary.AppendUvarint(dst, uint64(ts.Nanos))
	case types.Array:
		a := v.([]any)
		dst = binary.AppendUvarint(dst, uint64(len(a)))
		for _, e := range a {
			dst = AppendValue(dst, *t.Elem, e)
		}
		return dst
	case types.Map, types.Multiset:
		m := v.(*MapValue)
		vt := types.BigIntType()
		if t.Kind == types.Map {
			vt = *t.Value
		}
		dst = binary.AppendUvarint(dst, uint64(len(m.Keys)))
		for i := range m.Keys {
			dst = AppendValue(dst, *t.Elem, m.Keys[i])
			dst = AppendValue(dst, vt, m.Values[i])
		}
		return dst
	case types.Row:
		nr := v.(*Row)
		return Codec{L: nr.L}.Append(dst, nr)
	}
	panic(fmt.Sprintf("row: cannot encode type %s", t))
}

func appendDecimal(dst []byte, d Decimal) []byte {
	dst = binary.AppendUvarint(dst, uint64(d.scale))
	if d.b == nil {
		dst = append(dst, 0)
		return binary.AppendVarint(dst, d.u)
	}
	dst = append(dst, 1)
	b := d.b.Bytes()
	if d.b.Sign() < 0 {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func decodeDecimal(src []byte) (Decimal, []byte, error) {
	sc, k := binary.Uvarint(src)
	if k <= 0 || len(src) <= k {
		return Decimal{}, nil, ErrCorrupt
	}
	src = src[k:]
	if src[0] == 0 {
		u, k := binary.Varint(src[1:])
		if k <= 0 {
			return Decimal{}, nil, ErrCorrupt
		}
		return Decimal{u: u, scale: int32(sc)}, src[1+k:], nil
	}
	if len(src) < 2 {
		return Decimal{}, nil, ErrCorrupt
	}
	neg := src[1] == 1
	ln, k := binary.Uvarint(src[2:])
	if k <= 0 || uint64(len(src)-2-k) < ln {
		return Decimal{}, nil, ErrCorrupt
	}
	b := new(big.Int).SetBytes(src[2+k : 2+k+int(ln)])
	if neg {
		b.Neg(b)
	}
	return mkBig(b, int32(sc)), src[2+k+int(ln):], nil
}

// DecodeValue decodes a value appended by AppendValue.
func DecodeValue(src []byte, t types.Type) (any, []byte, error) {
	if len(src) == 0 {
		return nil, nil, ErrCorrupt
	}
	if src[0] == 0 {
		return nil, src[1:], nil
	}
	src = src[1:]
	bad := fmt.Errorf("%w: value of type %s", ErrCorrupt, t)
	switch t.Kind {
	case types.Boolean:
		if len(src) < 1 {
			return nil, nil, bad
		}
		return src[0] == 1, src[1:], nil
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
		types.IntervalYearMonth, types.IntervalDayTime:
		v, k := binary.Varint(src)
		if k <= 0 {
			return nil, nil, bad
		}
		return v, src[k:], nil
	case types.Float, types.Double:
		if len(src) < 8 {
			return nil, nil, bad
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(src)), src[8:], nil
	case types.Decimal:
		d, rest, err := decodeDecimal(src)
		if err != nil {
			return nil, nil, bad
		}
		return d, rest, nil
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		ln, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < ln {
			return nil, nil, bad
		}
		return string(src[k : k+int(ln)]), src[k+int(ln):], nil
	case types.Timestamp, types.TimestampLTZ:
		ms, k := binary.Varint(src)
		if k <= 0 {
			return nil, nil, bad
		}
		ns, k2 := binary.Uvarint(src[k:])
		if k2 <= 0 || ns >= 1e6 {
			return nil, nil, bad
		}
		return Timestamp{Millis: ms, Nanos: int32(ns)}, src[k+k2:], nil
	case types.Array:
		n, k := binary.Uvarint(src)
		if k <= 0 || n > uint64(len(src)) {
			return nil, nil, bad
		}
		src = src[k:]
		a := make([]any, n)
		for i := range a {
			v, rest, err := DecodeValue(src, *t.Elem)
			if err != nil {
				return nil, nil, err
			}
			a[i], src = v, rest
		}
		return a, src, nil
	case types.Map, types.Multiset:
		n, k := binary.Uvarint(src)
		if k <= 0 || n > uint64(len(src)) {
			return nil, nil, bad
		}
		src = src[k:]
		vt := types.BigIntType()
		if t.Kind == types.Map {
			vt = *t.Value
		}
		m := &MapValue{Keys: make([]any, n), Values: make([]any, n)}
		for i := range m.Keys {
			kv, rest, err := DecodeValue(src, *t.Elem)
			if err != nil {
				return nil, nil, err
			}
			vv, rest, err := DecodeValue(rest, vt)
			if err != nil {
				return nil, nil, err
			}
			m.Keys[i], m.Values[i], src = kv, vv, rest
		}
		return m, src, nil
	case types.Row:
		l := NewRowLayout(t)
		r := l.New()
		rest, err := Codec{L: l}.DecodeInto(src, r)
		if err != nil {
			return nil, nil, err
		}
		return r, rest, nil
	}
	return nil, nil, bad
}
