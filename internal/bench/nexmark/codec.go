package nexmark

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/state"
)

// Small fixed-layout codecs for the queries' state and keys: a struct of
// int64 fields encoded as varints, in field order.

// int64sCodec encodes a value through its int64 fields: get lists them
// into a slice, set rebuilds the value.
func int64sCodec[T any](n int, get func(v *T, dst []int64), set func(src []int64) T) state.Codec[T] {
	return state.FuncCodec[T]{
		AppendFunc: func(dst []byte, v T) []byte {
			var buf [16]int64
			get(&v, buf[:n])
			for _, x := range buf[:n] {
				dst = binary.AppendVarint(dst, x)
			}
			return dst
		},
		DecodeFunc: func(src []byte) (T, error) {
			var buf [16]int64
			for i := range n {
				x, k := binary.Varint(src)
				if k <= 0 {
					var zero T
					return zero, fmt.Errorf("%w: field %d of %d", state.ErrCorrupt, i+1, n)
				}
				buf[i], src = x, src[k:]
			}
			if len(src) != 0 {
				var zero T
				return zero, fmt.Errorf("%w: %d bytes after %d fields", state.ErrCorrupt, len(src), n)
			}
			return set(buf[:n]), nil
		},
	}
}

// pairKey is a key of two integers (bidder and auction, auction and day).
type pairKey struct{ A, B int64 }

// pairKeyCodec is order-preserving big-endian, as keys need determinism.
var pairKeyCodec = state.FuncCodec[pairKey]{
	AppendFunc: func(dst []byte, k pairKey) []byte {
		dst = binary.BigEndian.AppendUint64(dst, uint64(k.A))
		return binary.BigEndian.AppendUint64(dst, uint64(k.B))
	},
	DecodeFunc: func(src []byte) (pairKey, error) {
		if len(src) != 16 {
			return pairKey{}, fmt.Errorf("%w: pair key of %d bytes", state.ErrCorrupt, len(src))
		}
		return pairKey{int64(binary.BigEndian.Uint64(src)), int64(binary.BigEndian.Uint64(src[8:]))}, nil
	},
}

// chanDay is q16's key: a channel and a day.
type chanDay struct {
	Channel string
	Day     int64
}

var chanDayCodec = state.FuncCodec[chanDay]{
	AppendFunc: func(dst []byte, k chanDay) []byte {
		dst = binary.BigEndian.AppendUint64(dst, uint64(k.Day))
		return append(dst, k.Channel...)
	},
	DecodeFunc: func(src []byte) (chanDay, error) {
		if len(src) < 8 {
			return chanDay{}, fmt.Errorf("%w: channel-day key of %d bytes", state.ErrCorrupt, len(src))
		}
		return chanDay{Day: int64(binary.BigEndian.Uint64(src)), Channel: string(src[8:])}, nil
	},
}
