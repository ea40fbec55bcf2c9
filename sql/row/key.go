package row

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/sluicehq/sluice/sql/types"
)

// KeyEncoder encodes chosen fields of rows as a byte string that sorts
// as the fields do (bytewise order of keys = SQL ascending order of the
// field tuple, NULLs first) and is deterministic (equal values give equal
// bytes, whatever their representation: 1.10 and 1.1 in one DECIMAL
// column, -0.0 and 0.0, maps with their entries in any order). It is the
// engine key of GROUP BY and windows, and the prefix of their Pebble state.
// Build it once per operator; Append is safe for concurrent use and does
// not allocate for fields of fixed width and strings.
//
// Each field is a marker byte (0x00 NULL, 0x01 a value) then:
//   - BOOLEAN one byte; integers, DATE, TIME, intervals and DECIMAL(p ≤ 18)
//     (the unscaled value at the column's scale) 8 big-endian bytes with
//     the sign bit flipped;
//   - FLOAT and DOUBLE their float64 bits, flipped so that negative
//     numbers sort first (NaN sorts last, as Flink orders it);
//   - DECIMAL(p > 18) 16 bytes of 128-bit two's complement, sign flipped;
//   - TIMESTAMP millis as an integer, then for p > 3 the nanos of the
//     millisecond in 4 bytes;
//   - strings and bytes with 0x00 escaped as 0x00 0xFF and ended by
//     0x00 0x01, so a prefix sorts before its extensions;
//   - ARRAY elements each after a 0x01, ended by 0x00; MAP and MULTISET the
//     same over their entries sorted by encoded key; ROW its fields.
type KeyEncoder struct {
	types  []types.Type
	fields []int
	slots  []slot
	nw     int
}

// NewKeyEncoder encodes fields of rows of l, in the given order.
func NewKeyEncoder(l *Layout, fields []int) *KeyEncoder {
	e := &KeyEncoder{fields: slices.Clone(fields), nw: l.nullWords}
	for _, f := range fields {
		e.types = append(e.types, l.types[f])
		e.slots = append(e.slots, l.slots[f])
	}
	return e
}

// Types are the key fields' types, in key order.
func (e *KeyEncoder) Types() []types.Type { return e.types }

// Append appends the key of r.
func (e *KeyEncoder) Append(dst []byte, r *Row) []byte {
	for j, f := range e.fields {
		if r.IsNull(f) {
			dst = append(dst, 0)
			continue
		}
		s := e.slots[j]
		t := e.types[j]
		if s.cls == clsRef {
			dst = appendKeyValue(dst, t, r.R[s.idx]) // with its marker
			continue
		}
		dst = append(dst, 1)
		switch s.cls {
		case clsWord, clsDecimal:
			if t.Kind == types.Boolean {
				dst = append(dst, byte(r.W[e.nw+int(s.idx)]))
			} else {
				dst = appendKeyInt(dst, int64(r.W[e.nw+int(s.idx)]))
			}
		case clsFloat:
			dst = appendKeyFloat(dst, math.Float64frombits(r.W[e.nw+int(s.idx)]))
		case clsTS:
			dst = appendKeyInt(dst, int64(r.W[e.nw+int(s.idx)]))
		case clsTS2:
			dst = appendKeyInt(dst, int64(r.W[e.nw+int(s.idx)]))
			dst = binary.BigEndian.AppendUint32(dst, uint32(r.W[e.nw+int(s.idx)+1]))
		case clsString:
			dst = appendKeyString(dst, r.S[s.idx])
		}
	}
	return dst
}

// Key is Append into a new slice, as a string (for map keys).
func (e *KeyEncoder) Key(r *Row) string {
	var buf [64]byte // most keys fit: the string is then the only allocation
	return string(e.Append(buf[:0], r))
}

// Decode decodes a key into a row of the key fields' layout (see
// Layout.Project) and returns the bytes after it.
func (e *KeyEncoder) Decode(src []byte, dst *Row) ([]byte, error) {
	for j, t := range e.types {
		v, rest, err := decodeKeyValue(src, t)
		if err != nil {
			return nil, fmt.Errorf("row: key field %d: %w", j, err)
		}
		src = rest
		if err := dst.Set(j, v); err != nil {
			return nil, err
		}
	}
	return src, nil
}

func appendKeyInt(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63))
}

func keyInt(src []byte) (int64, []byte, error) {
	if len(src) < 8 {
		return 0, nil, ErrCorrupt
	}
	return int64(binary.BigEndian.Uint64(src) ^ (1 << 63)), src[8:], nil
}

func appendKeyFloat(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0.0 and 0.0 are one key
	}
	if math.IsNaN(f) {
		f = math.NaN()
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

func keyFloat(src []byte) (float64, []byte, error) {
	if len(src) < 8 {
		return 0, nil, ErrCorrupt
	}
	u := binary.BigEndian.Uint64(src)
	if u&(1<<63) != 0 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	return math.Float64frombits(u), src[8:], nil
}

func appendKeyString(dst []byte, s string) []byte {
	for {
		i := indexZero(s)
		if i < 0 {
			dst = append(dst, s...)
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, 0, 0xFF)
		s = s[i+1:]
	}
	return append(dst, 0, 1)
}

func indexZero(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

func keyString(src []byte) (string, []byte, error) {
	var out []byte
	for {
		i := bytes.IndexByte(src, 0)
		if i < 0 || i+1 >= len(src) {
			return "", nil, ErrCorrupt
		}
		out = append(out, src[:i]...)
		switch src[i+1] {
		case 0xFF:
			out = append(out, 0)
			src = src[i+2:]
		case 1:
			return string(out), src[i+2:], nil
		default:
			return "", nil, ErrCorrupt
		}
	}
}

var (
	two127 = new(big.Int).Lsh(big.NewInt(1), 127)
)

// appendKeyWideDecimal appends an unscaled value of at most 38 digits as
// 128-bit two's complement with the sign bit flipped.
func appendKeyWideDecimal(dst []byte, d Decimal) []byte {
	if d.b == nil {
		hi := uint64(0)
		if d.u < 0 {
			hi = math.MaxUint64
		}
		dst = binary.BigEndian.AppendUint64(dst, hi^(1<<63))
		return binary.BigEndian.AppendUint64(dst, uint64(d.u))
	}
	// Offset binary: u + 2^127 is in [0, 2^128) for |u| < 2^127, which
	// holds for 38 digits (10^38 < 2^127).
	v := new(big.Int).Add(d.b, two127)
	var buf [16]byte
	v.FillBytes(buf[:])
	return append(dst, buf[:]...)
}

func keyWideDecimal(src []byte, scale int) (Decimal, []byte, error) {
	if len(src) < 16 {
		return Decimal{}, nil, ErrCorrupt
	}
	hi := binary.BigEndian.Uint64(src) ^ (1 << 63)
	lo := binary.BigEndian.Uint64(src[8:])
	if (hi == 0 && lo <= math.MaxInt64) || (hi == math.MaxUint64 && lo > math.MaxInt64) {
		return Decimal{u: int64(lo), scale: int32(scale)}, src[16:], nil
	}
	v := new(big.Int).SetBytes(src[:16])
	v.Sub(v, two127)
	return mkBig(v, int32(scale)), src[16:], nil
}

// appendKeyValue appends a canonical value (see Row.Get) of type t, with
// its marker byte.
func appendKeyValue(dst []byte, t types.Type, v any) []byte {
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
		return appendKeyInt(dst, v.(int64))
	case types.Float, types.Double:
		return appendKeyFloat(dst, v.(float64))
	case types.Decimal:
		d := v.(Decimal).Rescale(t.Scale)
		if t.Precision <= 18 {
			return appendKeyInt(dst, d.u)
		}
		return appendKeyWideDecimal(dst, d)
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		return appendKeyString(dst, v.(string))
	case types.Timestamp, types.TimestampLTZ:
		ts := v.(Timestamp)
		dst = appendKeyInt(dst, ts.Millis)
		if t.Precision > 3 {
			dst = binary.BigEndian.AppendUint32(dst, uint32(ts.Nanos))
		}
		return dst
	case types.Array:
		for _, e := range v.([]any) {
			dst = append(dst, 1)
			dst = appendKeyValue(dst, *t.Elem, e)
		}
		return append(dst, 0)
	case types.Map, types.Multiset:
		m := v.(*MapValue)
		vt := types.BigIntType()
		if t.Kind == types.Map {
			vt = *t.Value
		}
		entries := make([][]byte, len(m.Keys))
		for i := range m.Keys {
			b := appendKeyValue(nil, *t.Elem, m.Keys[i])
			entries[i] = appendKeyValue(b, vt, m.Values[i])
		}
		slices.SortFunc(entries, bytes.Compare)
		for _, b := range entries {
			dst = append(dst, 1)
			dst = append(dst, b...)
		}
		return append(dst, 0)
	case types.Row:
		nr := v.(*Row)
		all := make([]int, nr.Len())
		for i := range all {
			all[i] = i
		}
		return NewKeyEncoder(nr.L, all).Append(dst, nr)
	}
	panic(fmt.Sprintf("row: no key encoding for type %s", t))
}

func decodeKeyValue(src []byte, t types.Type) (any, []byte, error) {
	if len(src) == 0 {
		return nil, nil, ErrCorrupt
	}
	if src[0] == 0 {
		return nil, src[1:], nil
	}
	src = src[1:]
	switch t.Kind {
	case types.Boolean:
		if len(src) < 1 {
			return nil, nil, ErrCorrupt
		}
		return src[0] == 1, src[1:], nil
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
		types.IntervalYearMonth, types.IntervalDayTime:
		return keyIntAny(src)
	case types.Float, types.Double:
		f, rest, err := keyFloat(src)
		return f, rest, err
	case types.Decimal:
		if t.Precision <= 18 {
			u, rest, err := keyInt(src)
			return Decimal{u: u, scale: int32(t.Scale)}, rest, err
		}
		d, rest, err := keyWideDecimal(src, t.Scale)
		return d, rest, err
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		s, rest, err := keyString(src)
		return s, rest, err
	case types.Timestamp, types.TimestampLTZ:
		ms, rest, err := keyInt(src)
		if err != nil {
			return nil, nil, err
		}
		ts := Timestamp{Millis: ms}
		if t.Precision > 3 {
			if len(rest) < 4 {
				return nil, nil, ErrCorrupt
			}
			ts.Nanos = int32(binary.BigEndian.Uint32(rest))
			rest = rest[4:]
		}
		return ts, rest, nil
	case types.Array:
		var a []any
		for {
			if len(src) == 0 {
				return nil, nil, ErrCorrupt
			}
			if src[0] == 0 {
				if a == nil {
					a = []any{}
				}
				return a, src[1:], nil
			}
			v, rest, err := decodeKeyValue(src[1:], *t.Elem)
			if err != nil {
				return nil, nil, err
			}
			a, src = append(a, v), rest
		}
	case types.Map, types.Multiset:
		vt := types.BigIntType()
		if t.Kind == types.Map {
			vt = *t.Value
		}
		m := &MapValue{}
		for {
			if len(src) == 0 {
				return nil, nil, ErrCorrupt
			}
			if src[0] == 0 {
				return m, src[1:], nil
			}
			k, rest, err := decodeKeyValue(src[1:], *t.Elem)
			if err != nil {
				return nil, nil, err
			}
			v, rest, err := decodeKeyValue(rest, vt)
			if err != nil {
				return nil, nil, err
			}
			m.Keys, m.Values, src = append(m.Keys, k), append(m.Values, v), rest
		}
	case types.Row:
		l := NewRowLayout(t)
		nr := l.New()
		all := make([]int, l.Len())
		for i := range all {
			all[i] = i
		}
		rest, err := NewKeyEncoder(l, all).Decode(src, nr)
		if err != nil {
			return nil, nil, err
		}
		return nr, rest, nil
	}
	return nil, nil, fmt.Errorf("%w: no key encoding for type %s", ErrCorrupt, t)
}

func keyIntAny(src []byte) (any, []byte, error) {
	v, rest, err := keyInt(src)
	if err != nil {
		return nil, nil, err
	}
	return v, rest, nil
}
