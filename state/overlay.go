package state

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
)

// An overlay holds the writes (sets and deletes) that a Backend's cache
// holds but its store does not have yet: the dirty cache entries, encoded
// at a checkpoint. A checkpoint of keyed state is then a store snapshot plus
// an overlay, and the synchronous pause of a checkpoint costs an encoding of
// the dirty entries instead of writing them all into the store first. A
// restore applies the overlay over the restored store.
//
// Encoding (version 1):
//
//	"SLOV" | u16 version | entries... | u64 count | u32 CRC-32C
//	entry: uvarint(len key) key | u8 op (1 set, 0 delete) | [uvarint(len value) value]
//
// where the CRC covers every byte before it. Keys are full store keys, so
// they start with their key group.

// OverlayVersion is the version of the overlay encoding.
const OverlayVersion = 1

const overlayMagic = "SLOV"

// OverlayWriter accumulates overlay entries in chunks (no copying of what
// was written as it grows: the encoding runs during a checkpoint's pause).
type OverlayWriter struct {
	chunks [][]byte
	cur    []byte
	n      uint64
	crc    uint32
}

const overlayChunk = 1 << 20

// chunkPool recycles overlay chunks between checkpoints: touching fresh
// memory (page faults, zeroing) would cost more than encoding.
var chunkPool = sync.Pool{New: func() any { return make([]byte, 0, overlayChunk) }}

// NewOverlayWriter returns an empty overlay.
func NewOverlayWriter() *OverlayWriter {
	w := &OverlayWriter{cur: chunkPool.Get().([]byte)[:0]}
	w.cur = append(w.cur, overlayMagic...)
	w.cur = binary.BigEndian.AppendUint16(w.cur, OverlayVersion)
	return w
}

// room makes sure n more bytes fit in the current chunk.
func (w *OverlayWriter) room(n int) {
	if len(w.cur)+n <= cap(w.cur) {
		return
	}
	if len(w.cur) > 0 {
		w.crc = crc32.Update(w.crc, crcTable, w.cur)
		w.chunks = append(w.chunks, w.cur)
	}
	if n <= overlayChunk {
		w.cur = chunkPool.Get().([]byte)[:0]
	} else {
		w.cur = make([]byte, 0, n)
	}
}

// ReleaseOverlay returns the chunks of a finished overlay for reuse, once
// they have been written.
func ReleaseOverlay(chunks [][]byte) {
	for _, c := range chunks {
		if cap(c) == overlayChunk {
			chunkPool.Put(c[:0])
		}
	}
}

// Set records that key has value.
func (w *OverlayWriter) Set(key, value []byte) {
	w.room(2*binary.MaxVarintLen64 + 1 + len(key) + len(value))
	w.cur = binary.AppendUvarint(w.cur, uint64(len(key)))
	w.cur = append(w.cur, key...)
	w.cur = append(w.cur, 1)
	w.cur = binary.AppendUvarint(w.cur, uint64(len(value)))
	w.cur = append(w.cur, value...)
	w.n++
}

// Delete records that key has no value.
func (w *OverlayWriter) Delete(key []byte) {
	w.room(binary.MaxVarintLen64 + 1 + len(key))
	w.cur = binary.AppendUvarint(w.cur, uint64(len(key)))
	w.cur = append(w.cur, key...)
	w.cur = append(w.cur, 0)
	w.n++
}

// Len returns the number of entries.
func (w *OverlayWriter) Len() int { return int(w.n) }

// Finish returns the encoded overlay, in chunks to be written in order;
// the writer must not be used after.
func (w *OverlayWriter) Finish() [][]byte {
	w.room(12)
	w.cur = binary.BigEndian.AppendUint64(w.cur, w.n)
	w.crc = crc32.Update(w.crc, crcTable, w.cur)
	w.cur = binary.BigEndian.AppendUint32(w.cur, w.crc)
	return append(w.chunks, w.cur)
}

// WriteOverlayFile writes an encoded overlay to path and syncs it.
func WriteOverlayFile(path string, chunks [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AppendDirty encodes every dirty cached entry of the backend's states into
// w, leaving the cache as it is: the entries stay dirty (the store still
// lacks them) and are written to the store when evicted or flushed.
func (b *Backend) AppendDirty(w *OverlayWriter) error {
	for _, c := range b.caches {
		if err := c.appendDirty(w); err != nil {
			return err
		}
	}
	return nil
}

// FreezeDirty captures the dirty cache entries of every state for a
// checkpoint's overlay, cheaply: the entries of states whose values hold no
// mutable references (numbers, strings, structs and arrays of them) are not
// encoded now but frozen — the cache copies such an entry before it next
// changes — and the returned function encodes them. It may run on another
// goroutine while the backend goes on being used; it returns the finished
// overlay (nil if there was nothing dirty). Values of other types (slices,
// maps, pointers) are encoded before FreezeDirty returns, since the
// operator may change them in place. Codecs' Append must therefore be safe
// to call from a goroutine other than the operator's.
func (b *Backend) FreezeDirty() func() [][]byte {
	w := NewOverlayWriter()
	var later []func(*OverlayWriter)
	for _, c := range b.caches {
		if f := c.freeze(w); f != nil {
			later = append(later, f)
		}
	}
	return func() [][]byte {
		for _, f := range later {
			f(w)
		}
		if w.Len() == 0 {
			ReleaseOverlay(w.Finish())
			return nil
		}
		return w.Finish()
	}
}

// CheckOverlay verifies an encoded overlay's framing and checksum; path
// names it in errors.
func CheckOverlay(path string, data []byte) error {
	_, err := overlayEntries(path, data)
	return err
}

func overlayEntries(path string, data []byte) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return &SnapshotError{Path: path, Offset: -1, Reason: fmt.Sprintf(format, args...)}
	}
	if len(data) < len(overlayMagic)+2+12 || string(data[:4]) != overlayMagic {
		return nil, bad("not a state overlay (%d bytes)", len(data))
	}
	if v := binary.BigEndian.Uint16(data[4:]); v != OverlayVersion {
		return nil, bad("overlay version %d, this Sluice reads %d", v, OverlayVersion)
	}
	body := data[:len(data)-4]
	if got, want := crc32.Checksum(body, crcTable), binary.BigEndian.Uint32(data[len(data)-4:]); got != want {
		return nil, bad("checksum %08x, recorded %08x (truncated or damaged)", got, want)
	}
	return body[6 : len(body)-8], nil
}

// ApplyOverlay writes the entries of an encoded overlay whose key groups are
// in want into s, and flushes s. path names the overlay in errors.
func ApplyOverlay(s Store, path string, data []byte, want KeyGroupRange) error {
	ents, err := overlayEntries(path, data)
	if err != nil {
		return err
	}
	for len(ents) > 0 {
		kl, n := binary.Uvarint(ents)
		if n <= 0 || kl > uint64(len(ents)-n) || kl < 2 {
			return &SnapshotError{Path: path, Offset: -1, Reason: "bad overlay key length"}
		}
		key := ents[n : n+int(kl)]
		ents = ents[n+int(kl):]
		if len(ents) == 0 {
			return &SnapshotError{Path: path, Offset: -1, Reason: "overlay entry without op"}
		}
		op := ents[0]
		ents = ents[1:]
		var value []byte
		if op == 1 {
			vl, n := binary.Uvarint(ents)
			if n <= 0 || vl > uint64(len(ents)-n) {
				return &SnapshotError{Path: path, Offset: -1, Reason: "bad overlay value length"}
			}
			value = ents[n : n+int(vl)]
			ents = ents[n+int(vl):]
		} else if op != 0 {
			return &SnapshotError{Path: path, Offset: -1, Reason: fmt.Sprintf("bad overlay op %d", op)}
		}
		if !want.Contains(int(binary.BigEndian.Uint16(key))) {
			continue
		}
		if op == 1 {
			err = s.Set(key, value)
		} else {
			err = s.Delete(key)
		}
		if err != nil {
			return fmt.Errorf("state: apply overlay %s: %w", path, err)
		}
	}
	return s.Flush()
}

// ReadOverlayFile reads and checks an overlay file.
func ReadOverlayFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &SnapshotError{Path: path, Offset: -1, Reason: err.Error()}
	}
	if err := CheckOverlay(path, data); err != nil {
		return nil, err
	}
	return data, nil
}
