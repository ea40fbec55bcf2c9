package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorruptSnapshot is returned (wrapped) by every UnmarshalBinary and
// Restore in this package when the bytes are not a valid snapshot: wrong
// magic, unknown version, truncated, or inconsistent contents. A refused
// snapshot leaves the receiver unchanged.
var ErrCorruptSnapshot = errors.New("anomaly: corrupt snapshot")

// enc appends little-endian values to a byte slice.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)    { e.b = append(e.b, v) }
func (e *enc) u16(v uint16)  { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32)  { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)  { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) i32(v int32)   { e.u32(uint32(v)) }
func (e *enc) i64(v int64)   { e.u64(uint64(v)) }
func (e *enc) f64(v float64) { e.u64(math.Float64bits(v)) }
func (e *enc) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *enc) bytes(v []byte) { e.u32(uint32(len(v))); e.b = append(e.b, v...) }
func (e *enc) str(v string)   { e.u32(uint32(len(v))); e.b = append(e.b, v...) }

// nested writes what fn encodes as a bytes field (u32 length, then the
// bytes) without an intermediate buffer.
func (e *enc) nested(fn func(*enc)) {
	at := len(e.b)
	e.u32(0)
	fn(e)
	binary.LittleEndian.PutUint32(e.b[at:], uint32(len(e.b)-at-4))
}

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *enc) f64s(v []float64) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.f64(x)
	}
}

func (e *enc) i32s(v []int32) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.i32(x)
	}
}

// dec reads what enc wrote. The first problem sticks: later reads return
// zero values and err says what went wrong, so decoders can read a whole
// structure and check once.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
	}
}

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *dec) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *dec) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *dec) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *dec) i32() int32   { return int32(d.u32()) }
func (d *dec) i64() int64   { return int64(d.u64()) }
func (d *dec) f64() float64 { return math.Float64frombits(d.u64()) }
func (d *dec) bool() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad boolean")
	return false
}

// uvarint reads what enc.uvarint wrote, which must not exceed limit.
func (d *dec) uvarint(limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	if v > limit {
		d.fail("value %d over limit %d", v, limit)
		return 0
	}
	return v
}

// length reads a count and checks it against limit before anything is
// allocated for it, so that a corrupt count cannot ask for gigabytes.
func (d *dec) length(limit int) int {
	n := d.u32()
	if d.err == nil && uint64(n) > uint64(limit) {
		d.fail("count %d over limit %d", n, limit)
		return 0
	}
	return int(n)
}

func (d *dec) bytes(limit int) []byte {
	n := d.length(limit)
	return append([]byte(nil), d.take(n)...)
}

func (d *dec) str(limit int) string { return string(d.take(d.length(limit))) }

func (d *dec) f64s(limit int) []float64 {
	n := d.length(limit)
	if d.err != nil || n*8 > len(d.b) {
		d.fail("truncated")
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = d.f64()
	}
	return v
}

func (d *dec) i32s(limit int) []int32 {
	n := d.length(limit)
	if d.err != nil || n*4 > len(d.b) {
		d.fail("truncated")
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = d.i32()
	}
	return v
}

// header writes a 4-byte magic and a format version.
func (e *enc) header(magic string, version uint16) {
	e.b = append(e.b, magic...)
	e.u16(version)
}

// header checks the magic and returns the version.
func (d *dec) header(magic string) uint16 {
	if string(d.take(len(magic))) != magic {
		d.fail("not a %s snapshot", magic)
		return 0
	}
	return d.u16()
}

// end checks that nothing is left over.
func (d *dec) end() {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
}
