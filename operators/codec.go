package operators

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// Encodings of what the operators keep in keyed state. They are part of
// the checkpoint format: a change needs a new state name or a version
// byte. Version 1 (this one) is:
//
//	records:  uvarint(n), then n times: varint(ts) uvarint(len) value
//	windows:  uvarint(n), then n times: window(16) stateWindow(16)
//	values with a time: varint(ts) value

// recordsCodec encodes a list of records with their timestamps.
type recordsCodec[T any] struct{ c state.Codec[T] }

func (rc recordsCodec[T]) Append(dst []byte, rs []engine.Record[T]) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	for i := range rs {
		dst = binary.AppendVarint(dst, rs[i].Time)
		// Reserve room for the length, encode, then fix it up: one pass, no
		// scratch buffer. Values up to 127 bytes take the common path.
		at := len(dst)
		dst = append(dst, 0)
		dst = rc.c.Append(dst, rs[i].Value)
		n := len(dst) - at - 1
		if n < 0x80 {
			dst[at] = byte(n)
			continue
		}
		var lb [binary.MaxVarintLen64]byte
		k := binary.PutUvarint(lb[:], uint64(n))
		dst = append(dst, lb[:k-1]...)
		copy(dst[at+k:], dst[at+1:at+1+n])
		copy(dst[at:], lb[:k])
	}
	return dst
}

func (rc recordsCodec[T]) Decode(src []byte) ([]engine.Record[T], error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return nil, fmt.Errorf("operators: records header: %w", state.ErrCorrupt)
	}
	src = src[k:]
	rs := make([]engine.Record[T], 0, n)
	for i := uint64(0); i < n; i++ {
		ts, k := binary.Varint(src)
		if k <= 0 {
			return nil, fmt.Errorf("operators: record %d time: %w", i, state.ErrCorrupt)
		}
		src = src[k:]
		sz, k := binary.Uvarint(src)
		if k <= 0 || sz > uint64(len(src)-k) {
			return nil, fmt.Errorf("operators: record %d length: %w", i, state.ErrCorrupt)
		}
		v, err := rc.c.Decode(src[k : k+int(sz)])
		if err != nil {
			return nil, fmt.Errorf("operators: record %d: %w", i, err)
		}
		rs = append(rs, engine.Record[T]{Value: v, Time: ts})
		src = src[k+int(sz):]
	}
	if len(src) != 0 {
		return nil, fmt.Errorf("operators: %d bytes after records: %w", len(src), state.ErrCorrupt)
	}
	return rs, nil
}

// timedCodec encodes a value with its timestamp.
type timedCodec[T any] struct{ c state.Codec[T] }

func (tc timedCodec[T]) Append(dst []byte, r engine.Record[T]) []byte {
	dst = binary.AppendVarint(dst, r.Time)
	return tc.c.Append(dst, r.Value)
}

func (tc timedCodec[T]) Decode(src []byte) (engine.Record[T], error) {
	ts, k := binary.Varint(src)
	if k <= 0 {
		return engine.Record[T]{}, fmt.Errorf("operators: timed value: %w", state.ErrCorrupt)
	}
	v, err := tc.c.Decode(src[k:])
	return engine.Record[T]{Value: v, Time: ts}, err
}

// mergedWindow maps a session window to the window under whose namespace
// its contents are kept; merging moves windows, not contents (as Flink's
// MergingWindowSet).
type mergedWindow struct {
	Window, State TimeWindow
}

type mergedWindowsCodec struct{}

func (mergedWindowsCodec) Append(dst []byte, ws []mergedWindow) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ws)))
	for _, w := range ws {
		dst = appendWindow(dst, w.Window)
		dst = appendWindow(dst, w.State)
	}
	return dst
}

func (mergedWindowsCodec) Decode(src []byte) ([]mergedWindow, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || uint64(len(src)-k) != n*2*windowNSLen {
		return nil, fmt.Errorf("operators: merging window set: %w", state.ErrCorrupt)
	}
	src = src[k:]
	ws := make([]mergedWindow, n)
	for i := range ws {
		var err error
		if ws[i].Window, err = decodeWindow(src[:windowNSLen]); err != nil {
			return nil, err
		}
		if ws[i].State, err = decodeWindow(src[windowNSLen : 2*windowNSLen]); err != nil {
			return nil, err
		}
		src = src[2*windowNSLen:]
	}
	return ws, nil
}

// codecOf returns c if set, else T's built-in codec, else an error that
// says how to give one.
func codecOf[T any](c state.Codec[T], what, how string) (state.Codec[T], error) {
	if c != nil {
		return c, nil
	}
	bc, err := state.CodecFor[T]()
	if err != nil {
		return nil, fmt.Errorf("operators: %s: %w; %s", what, err, how)
	}
	return bc, nil
}
