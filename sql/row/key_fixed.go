package row

import "github.com/sluicehq/sluice/sql/types"

// MaxFixedKey is the most fields a FixedKey holds.
const MaxFixedKey = 4

// FixedKey is a key of one to MaxFixedKey fields of fixed width (BOOLEAN,
// integers, DATE, TIME, intervals, DECIMAL(p ≤ 18), TIMESTAMP(p ≤ 3) and
// TIMESTAMP_LTZ(p ≤ 3)) as a comparable value, so that a GROUP BY or
// window over such columns keys its stream without building a string per
// row. A KeyEncoder whose Fixed is true turns rows into FixedKeys and
// encodes them as exactly the bytes Append gives the same row: the state
// and the key groups of a job keyed either way are the same.
type FixedKey struct {
	V     [MaxFixedKey]int64 // each field's word (0 when NULL)
	Nulls uint8              // bit j: field j is NULL
}

// Fixed reports whether the encoder's fields fit a FixedKey.
func (e *KeyEncoder) Fixed() bool {
	if len(e.fields) == 0 || len(e.fields) > MaxFixedKey {
		return false
	}
	for _, s := range e.slots {
		if s.cls != clsWord && s.cls != clsDecimal && s.cls != clsTS {
			return false
		}
	}
	return true
}

// FixedKey is the key of r; the encoder must be Fixed.
func (e *KeyEncoder) FixedKey(r *Row) FixedKey {
	var k FixedKey
	for j, f := range e.fields {
		if r.W[f>>6]&(1<<(uint(f)&63)) != 0 {
			k.Nulls |= 1 << j
			continue
		}
		k.V[j] = int64(r.W[e.nw+int(e.slots[j].idx)])
	}
	return k
}

// AppendFixed appends k's encoding: the bytes Append gives a row with k's
// values.
func (e *KeyEncoder) AppendFixed(dst []byte, k FixedKey) []byte {
	for j := range e.fields {
		if k.Nulls&(1<<j) != 0 {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		if e.types[j].Kind == types.Boolean {
			dst = append(dst, byte(k.V[j]))
		} else {
			dst = appendKeyInt(dst, k.V[j])
		}
	}
	return dst
}

// DecodeFixed reads a key that AppendFixed (or Append) wrote; src must
// hold exactly one key.
func (e *KeyEncoder) DecodeFixed(src []byte) (FixedKey, error) {
	var k FixedKey
	for j := range e.fields {
		if len(src) < 1 {
			return FixedKey{}, ErrCorrupt
		}
		m := src[0]
		src = src[1:]
		switch {
		case m == 0:
			k.Nulls |= 1 << j
		case m != 1:
			return FixedKey{}, ErrCorrupt
		case e.types[j].Kind == types.Boolean:
			if len(src) < 1 || src[0] > 1 {
				return FixedKey{}, ErrCorrupt
			}
			k.V[j], src = int64(src[0]), src[1:]
		default:
			v, rest, err := keyInt(src)
			if err != nil {
				return FixedKey{}, err
			}
			k.V[j], src = v, rest
		}
	}
	if len(src) != 0 {
		return FixedKey{}, ErrCorrupt
	}
	return k, nil
}

// SetFixed writes k's fields into dst, a row of the key fields' layout
// (see Layout.Project).
func (e *KeyEncoder) SetFixed(k FixedKey, dst *Row) {
	for j := range e.fields {
		if k.Nulls&(1<<j) != 0 {
			dst.SetNull(j)
			continue
		}
		*dst.w(j) = uint64(k.V[j])
		dst.setNotNull(j)
	}
}
