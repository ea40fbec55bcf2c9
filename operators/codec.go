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

// appendSized appends v encoded by c after its length, a uvarint of exactly
// 5 bytes (lengths up to 32 GiB), so that v is encoded in place.
func appendSized[A any](dst []byte, c state.Codec[A], v A) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	dst = c.Append(dst, v)
	putUvarint5(dst[at:at+5], uint64(len(dst)-at-5))
	return dst
}

// putUvarint5 writes v as a uvarint of exactly 5 bytes.
func putUvarint5(b []byte, v uint64) {
	for i := 0; i < 4; i++ {
		b[i] = byte(v) | 0x80
		v >>= 7
	}
	b[4] = byte(v)
}

// cutSized splits a uvarint length and the bytes it counts off the front
// of src; ok is false when src is too short for either.
func cutSized(src []byte) (payload, rest []byte, ok bool) {
	sz, k := binary.Uvarint(src)
	if k <= 0 || sz > uint64(len(src)-k) {
		return nil, src, false
	}
	return src[k : k+int(sz)], src[k+int(sz):], true
}

// appendTimes appends a count and then each time as a varint: the timer
// list at the end of a slice or session set.
func appendTimes(dst []byte, ts []int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	for _, t := range ts {
		dst = binary.AppendVarint(dst, t)
	}
	return dst
}

// decodeTimes appends to dst the times appendTimes wrote at the start of
// src, which must hold nothing after them; what names the encoding in
// errors.
func decodeTimes(dst []int64, src []byte, what string) ([]int64, error) {
	m, k := binary.Uvarint(src)
	if k <= 0 || m > uint64(len(src)) {
		return dst, fmt.Errorf("operators: %s timers: %w", what, state.ErrCorrupt)
	}
	src = src[k:]
	for i := uint64(0); i < m; i++ {
		t, k := binary.Varint(src)
		if k <= 0 {
			return dst, fmt.Errorf("operators: %s timer %d: %w", what, i, state.ErrCorrupt)
		}
		dst = append(dst, t)
		src = src[k:]
	}
	if len(src) != 0 {
		return dst, fmt.Errorf("operators: %d bytes after the %s: %w", len(src), what, state.ErrCorrupt)
	}
	return dst, nil
}

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
		b, rest, ok := cutSized(src)
		if !ok {
			return nil, fmt.Errorf("operators: record %d length: %w", i, state.ErrCorrupt)
		}
		v, err := rc.c.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("operators: record %d: %w", i, err)
		}
		rs = append(rs, engine.Record[T]{Value: v, Time: ts})
		src = rest
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
