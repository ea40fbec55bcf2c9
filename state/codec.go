package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Codec turns values of T into bytes and back. Implementations must not use
// reflection per value: state codecs run on every state access. Append and
// Decode must be safe to call from several goroutines at once: checkpoints
// encode state on a background goroutine.
//
// Encodings of keys must be deterministic (equal keys give equal bytes),
// because a key's bytes decide its key group and its place in the store.
// The built-in codecs of integer kinds are order-preserving (big-endian, sign
// bit flipped), so that byte order is numeric order; timers rely on that.
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended slice.
	Append(dst []byte, v T) []byte
	// Decode decodes a value encoded by Append. It must not retain src.
	Decode(src []byte) (T, error)
}

// ErrNoCodec is returned by CodecFor for a type without a built-in codec.
var ErrNoCodec = errors.New("state: no built-in codec for type")

// ErrCorrupt is returned when bytes cannot be decoded.
var ErrCorrupt = errors.New("state: corrupt encoding")

// CodecFor returns the built-in codec for T: any type whose underlying type
// is a string, []byte, bool, an integer or a float. For other types (structs,
// maps, slices of other elements) pass a Codec explicitly, or JSONCodec for
// convenience where speed does not matter. The type is inspected once, here;
// the returned codec does no reflection.
func CodecFor[T any]() (Codec[T], error) {
	t := reflect.TypeFor[T]()
	var c any
	switch t.Kind() {
	case reflect.String:
		c = stringCodec[T]{}
	case reflect.Bool:
		c = boolCodec[T]{}
	case reflect.Int, reflect.Int64:
		c = int64Codec[T]{}
	case reflect.Int32:
		c = int32Codec[T]{}
	case reflect.Int16:
		c = int16Codec[T]{}
	case reflect.Int8:
		c = int8Codec[T]{}
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		c = uint64Codec[T]{}
	case reflect.Uint32:
		c = uint32Codec[T]{}
	case reflect.Uint16:
		c = uint16Codec[T]{}
	case reflect.Uint8:
		c = uint8Codec[T]{}
	case reflect.Float64:
		c = float64Codec[T]{}
	case reflect.Float32:
		c = float32Codec[T]{}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			c = bytesCodec[T]{}
		}
	}
	if c == nil {
		return nil, fmt.Errorf("%w %s", ErrNoCodec, t)
	}
	return c.(Codec[T]), nil
}

// MustCodecFor is CodecFor for types known to have a built-in codec; it
// panics otherwise. Use it only with literal primitive types.
func MustCodecFor[T any]() Codec[T] {
	c, err := CodecFor[T]()
	if err != nil {
		panic(err)
	}
	return c
}

// The kind codecs convert through unsafe pointers: CodecFor has checked that
// T's underlying type is exactly the one converted to, so the conversion is
// a reinterpretation of identical memory layouts.

type stringCodec[T any] struct{}

func (stringCodec[T]) Append(dst []byte, v T) []byte {
	return append(dst, *(*string)(unsafe.Pointer(&v))...)
}
func (stringCodec[T]) Decode(src []byte) (T, error) {
	s := string(src)
	return *(*T)(unsafe.Pointer(&s)), nil
}

type bytesCodec[T any] struct{}

func (bytesCodec[T]) Append(dst []byte, v T) []byte {
	return append(dst, *(*[]byte)(unsafe.Pointer(&v))...)
}
func (bytesCodec[T]) Decode(src []byte) (T, error) {
	b := append([]byte(nil), src...)
	return *(*T)(unsafe.Pointer(&b)), nil
}

type boolCodec[T any] struct{}

func (boolCodec[T]) Append(dst []byte, v T) []byte {
	if *(*bool)(unsafe.Pointer(&v)) {
		return append(dst, 1)
	}
	return append(dst, 0)
}
func (boolCodec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 1 || src[0] > 1 {
		return v, fmt.Errorf("%w: bool of %d bytes", ErrCorrupt, len(src))
	}
	*(*bool)(unsafe.Pointer(&v)) = src[0] == 1
	return v, nil
}

const signBit = 1 << 63

type int64Codec[T any] struct{}

func (int64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(*(*int64)(unsafe.Pointer(&v)))^signBit)
}
func (int64Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 8 {
		return v, fmt.Errorf("%w: int64 of %d bytes", ErrCorrupt, len(src))
	}
	*(*int64)(unsafe.Pointer(&v)) = int64(binary.BigEndian.Uint64(src) ^ signBit)
	return v, nil
}

type int32Codec[T any] struct{}

func (int32Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(*(*int32)(unsafe.Pointer(&v)))^(1<<31))
}
func (int32Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 4 {
		return v, fmt.Errorf("%w: int32 of %d bytes", ErrCorrupt, len(src))
	}
	*(*int32)(unsafe.Pointer(&v)) = int32(binary.BigEndian.Uint32(src) ^ (1 << 31))
	return v, nil
}

type int16Codec[T any] struct{}

func (int16Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint16(dst, uint16(*(*int16)(unsafe.Pointer(&v)))^(1<<15))
}
func (int16Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 2 {
		return v, fmt.Errorf("%w: int16 of %d bytes", ErrCorrupt, len(src))
	}
	*(*int16)(unsafe.Pointer(&v)) = int16(binary.BigEndian.Uint16(src) ^ (1 << 15))
	return v, nil
}

type int8Codec[T any] struct{}

func (int8Codec[T]) Append(dst []byte, v T) []byte {
	return append(dst, uint8(*(*int8)(unsafe.Pointer(&v)))^(1<<7))
}
func (int8Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 1 {
		return v, fmt.Errorf("%w: int8 of %d bytes", ErrCorrupt, len(src))
	}
	*(*int8)(unsafe.Pointer(&v)) = int8(src[0] ^ (1 << 7))
	return v, nil
}

type uint64Codec[T any] struct{}

func (uint64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint64(dst, *(*uint64)(unsafe.Pointer(&v)))
}
func (uint64Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 8 {
		return v, fmt.Errorf("%w: uint64 of %d bytes", ErrCorrupt, len(src))
	}
	*(*uint64)(unsafe.Pointer(&v)) = binary.BigEndian.Uint64(src)
	return v, nil
}

type uint32Codec[T any] struct{}

func (uint32Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint32(dst, *(*uint32)(unsafe.Pointer(&v)))
}
func (uint32Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 4 {
		return v, fmt.Errorf("%w: uint32 of %d bytes", ErrCorrupt, len(src))
	}
	*(*uint32)(unsafe.Pointer(&v)) = binary.BigEndian.Uint32(src)
	return v, nil
}

type uint16Codec[T any] struct{}

func (uint16Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint16(dst, *(*uint16)(unsafe.Pointer(&v)))
}
func (uint16Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 2 {
		return v, fmt.Errorf("%w: uint16 of %d bytes", ErrCorrupt, len(src))
	}
	*(*uint16)(unsafe.Pointer(&v)) = binary.BigEndian.Uint16(src)
	return v, nil
}

type uint8Codec[T any] struct{}

func (uint8Codec[T]) Append(dst []byte, v T) []byte {
	return append(dst, *(*uint8)(unsafe.Pointer(&v)))
}
func (uint8Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 1 {
		return v, fmt.Errorf("%w: uint8 of %d bytes", ErrCorrupt, len(src))
	}
	*(*uint8)(unsafe.Pointer(&v)) = src[0]
	return v, nil
}

type float64Codec[T any] struct{}

func (float64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(*(*float64)(unsafe.Pointer(&v))))
}
func (float64Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 8 {
		return v, fmt.Errorf("%w: float64 of %d bytes", ErrCorrupt, len(src))
	}
	*(*float64)(unsafe.Pointer(&v)) = math.Float64frombits(binary.BigEndian.Uint64(src))
	return v, nil
}

type float32Codec[T any] struct{}

func (float32Codec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint32(dst, math.Float32bits(*(*float32)(unsafe.Pointer(&v))))
}
func (float32Codec[T]) Decode(src []byte) (T, error) {
	var v T
	if len(src) != 4 {
		return v, fmt.Errorf("%w: float32 of %d bytes", ErrCorrupt, len(src))
	}
	*(*float32)(unsafe.Pointer(&v)) = math.Float32frombits(binary.BigEndian.Uint32(src))
	return v, nil
}

// JSONCodec encodes values with encoding/json. It works for any
// JSON-serialisable type but reflects on every value; prefer a hand-written
// Codec on hot paths.
type JSONCodec[T any] struct{}

// Append implements Codec.
func (JSONCodec[T]) Append(dst []byte, v T) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Append cannot fail by contract; a value that cannot be marshalled
		// (a channel, a func) is a programming error caught on first use.
		panic(fmt.Sprintf("state: JSONCodec cannot encode %T: %v", v, err))
	}
	return append(dst, b...)
}

// Decode implements Codec.
func (JSONCodec[T]) Decode(src []byte) (T, error) {
	var v T
	if err := json.Unmarshal(src, &v); err != nil {
		return v, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return v, nil
}

// FuncCodec builds a Codec from two functions.
type FuncCodec[T any] struct {
	AppendFunc func(dst []byte, v T) []byte
	DecodeFunc func(src []byte) (T, error)
}

// Append implements Codec.
func (c FuncCodec[T]) Append(dst []byte, v T) []byte { return c.AppendFunc(dst, v) }

// Decode implements Codec.
func (c FuncCodec[T]) Decode(src []byte) (T, error) { return c.DecodeFunc(src) }
