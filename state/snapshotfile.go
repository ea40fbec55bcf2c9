package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
)

// The portable snapshot file: a versioned, checksummed dump of key/value
// pairs in key order, readable into any Store. MemStore checkpoints and
// savepoints use it; it does not depend on Pebble's on-disk format.
//
//	header (32 bytes):
//	  magic "SLCSNAP\x00" | version u16 | layout version u16 | flags u16 (0) |
//	  first key group u16 | last key group u16 | 10 reserved zero bytes |
//	  crc32c of the 28 bytes before it, u32
//	blocks, each:
//	  payload length u32 (< 0xffffffff) | crc32c of the payload u32 |
//	  payload: entries, each uvarint(len key) key uvarint(len value) value
//	trailer (40 bytes):
//	  0xffffffff u32 | entries u64 | blocks u64 | payload bytes u64 |
//	  crc32c of every byte of the file before this field, u32 |
//	  magic "SLCSEND\x00"
//
// All integers are big-endian; CRCs are CRC-32C (Castagnoli). Keys are
// strictly increasing and each starts with a key group in the header's
// range. Nothing may follow the trailer.

// SnapshotFileName is the name of the snapshot file in a snapshot directory
// of format SnapshotFormatFile.
const SnapshotFileName = "state.snap"

// SnapshotFileVersion is the version of the snapshot file format.
const SnapshotFileVersion = 1

const (
	snapFileMagic    = "SLCSNAP\x00"
	snapFileEndMagic = "SLCSEND\x00"
	snapHeaderLen    = 32
	snapTrailerLen   = 40
	snapTrailerMark  = 0xffffffff
	// snapBlockTarget is the payload size after which a block is closed.
	snapBlockTarget = 64 << 10
	// snapMaxBlock bounds a block's payload, so that a corrupt length
	// cannot make a reader allocate without limit. One entry (a key and
	// its value) must fit in a block.
	snapMaxBlock = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot is wrapped by the errors of snapshots that fail their
// checks: a bad checksum, a truncated or missing file, a wrong size.
var ErrCorruptSnapshot = errors.New("state: corrupt snapshot")

// SnapshotError describes a snapshot file or directory that failed its
// checks. It wraps ErrCorruptSnapshot.
type SnapshotError struct {
	Path   string // the file (or directory) at fault
	Offset int64  // the byte offset of the problem, -1 if not applicable
	Reason string // what is wrong
}

func (e *SnapshotError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("state: corrupt snapshot %s at offset %d: %s", e.Path, e.Offset, e.Reason)
	}
	return fmt.Sprintf("state: corrupt snapshot %s: %s", e.Path, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorruptSnapshot) hold.
func (e *SnapshotError) Unwrap() error { return ErrCorruptSnapshot }

// SnapshotFileStats counts what a snapshot file holds.
type SnapshotFileStats struct {
	KeyGroups    KeyGroupRange // the key groups the file covers
	Entries      int64
	Blocks       int64
	PayloadBytes int64
	FileBytes    int64
}

// SnapshotFileWriter writes a snapshot file. Entries must be added in
// strictly increasing key order, and each key must start with a key group
// in the writer's range. It is not safe for concurrent use.
type SnapshotFileWriter struct {
	w     io.Writer
	crc   hash.Hash32 // running CRC of every byte written
	r     KeyGroupRange
	block []byte
	last  []byte
	stats SnapshotFileStats
	err   error
}

// NewSnapshotFileWriter starts a snapshot file on w covering key groups r.
func NewSnapshotFileWriter(w io.Writer, r KeyGroupRange) (*SnapshotFileWriter, error) {
	if r.Start < 0 || r.End >= MaxMaxParallelism || r.Len() == 0 {
		return nil, fmt.Errorf("state: snapshot file: key-group range %v invalid", r)
	}
	sw := &SnapshotFileWriter{w: w, crc: crc32.New(crcTable), r: r, block: make([]byte, 0, snapBlockTarget+1024)}
	sw.stats.KeyGroups = r
	h := make([]byte, 0, snapHeaderLen)
	h = append(h, snapFileMagic...)
	h = binary.BigEndian.AppendUint16(h, SnapshotFileVersion)
	h = binary.BigEndian.AppendUint16(h, LayoutVersion)
	h = binary.BigEndian.AppendUint16(h, 0)
	h = binary.BigEndian.AppendUint16(h, uint16(r.Start))
	h = binary.BigEndian.AppendUint16(h, uint16(r.End))
	h = append(h, make([]byte, 10)...)
	h = binary.BigEndian.AppendUint32(h, crc32.Checksum(h, crcTable))
	sw.write(h)
	return sw, sw.err
}

func (sw *SnapshotFileWriter) write(p []byte) {
	if sw.err != nil {
		return
	}
	if _, err := sw.w.Write(p); err != nil {
		sw.err = fmt.Errorf("state: snapshot file: %w", err)
		return
	}
	sw.crc.Write(p)
	sw.stats.FileBytes += int64(len(p))
}

// Add appends one entry. The writer copies key and value.
func (sw *SnapshotFileWriter) Add(key, value []byte) error {
	if sw.err != nil {
		return sw.err
	}
	if len(key) < 2 {
		return fmt.Errorf("state: snapshot file: key %x has no key group", key)
	}
	if kg := int(binary.BigEndian.Uint16(key)); !sw.r.Contains(kg) {
		return fmt.Errorf("state: snapshot file: key %x in key group %d outside %v", key, kg, sw.r)
	}
	if sw.stats.Entries > 0 && bytes.Compare(key, sw.last) <= 0 {
		return fmt.Errorf("state: snapshot file: key %x added after %x", key, sw.last)
	}
	size := 2*binary.MaxVarintLen64 + len(key) + len(value)
	if size > snapMaxBlock {
		return fmt.Errorf("state: snapshot file: entry of %d bytes exceeds the limit of %d", size, snapMaxBlock)
	}
	if len(sw.block) > 0 && len(sw.block)+size > snapBlockTarget {
		sw.flushBlock()
	}
	sw.block = binary.AppendUvarint(sw.block, uint64(len(key)))
	sw.block = append(sw.block, key...)
	sw.block = binary.AppendUvarint(sw.block, uint64(len(value)))
	sw.block = append(sw.block, value...)
	sw.last = append(sw.last[:0], key...)
	sw.stats.Entries++
	if len(sw.block) >= snapBlockTarget {
		sw.flushBlock()
	}
	return sw.err
}

func (sw *SnapshotFileWriter) flushBlock() {
	if len(sw.block) == 0 {
		return
	}
	var h [8]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(sw.block)))
	binary.BigEndian.PutUint32(h[4:], crc32.Checksum(sw.block, crcTable))
	sw.write(h[:])
	sw.write(sw.block)
	sw.stats.Blocks++
	sw.stats.PayloadBytes += int64(len(sw.block))
	sw.block = sw.block[:0]
}

// Close writes the last block and the trailer and returns what the file
// holds. It does not close or sync the underlying writer.
func (sw *SnapshotFileWriter) Close() (SnapshotFileStats, error) {
	sw.flushBlock()
	t := make([]byte, 0, snapTrailerLen)
	t = binary.BigEndian.AppendUint32(t, snapTrailerMark)
	t = binary.BigEndian.AppendUint64(t, uint64(sw.stats.Entries))
	t = binary.BigEndian.AppendUint64(t, uint64(sw.stats.Blocks))
	t = binary.BigEndian.AppendUint64(t, uint64(sw.stats.PayloadBytes))
	sw.write(t)
	var tail [12]byte
	binary.BigEndian.PutUint32(tail[:4], sw.crc.Sum32())
	copy(tail[4:], snapFileEndMagic)
	sw.write(tail[:])
	if sw.err == nil {
		sw.err = errors.New("state: snapshot file: writer closed")
		return sw.stats, nil
	}
	return sw.stats, sw.err
}

// kgKey returns the two-byte key prefix of key group kg.
func kgKey(kg int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(kg)) }

// WriteSnapshotFile writes the keys of s in key groups r into a new
// snapshot file at path (which must not exist) and syncs it. s must not be
// written to meanwhile (a MemStore snapshot clone, or a store whose task is
// paused).
func WriteSnapshotFile(path string, s Store, r KeyGroupRange) (SnapshotFileStats, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return SnapshotFileStats{}, fmt.Errorf("state: snapshot file: %w", err)
	}
	stats, err := writeSnapshotFileScan(f, s, r, kgKey(r.Start), kgKey(r.End+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return stats, fmt.Errorf("state: write snapshot file %s: %w", path, err)
	}
	return stats, nil
}

// writeSnapshotFileScan writes the keys of s in [lower, upper) to f as a
// snapshot file covering r.
func writeSnapshotFileScan(f io.Writer, s Store, r KeyGroupRange, lower, upper []byte) (SnapshotFileStats, error) {
	bw := bufio.NewWriterSize(f, 256<<10)
	sw, err := NewSnapshotFileWriter(bw, r)
	if err != nil {
		return SnapshotFileStats{}, err
	}
	var aerr error
	err = s.Scan(lower, upper, func(k, v []byte) bool {
		aerr = sw.Add(k, v)
		return aerr == nil
	})
	if err == nil {
		err = aerr
	}
	if err != nil {
		return SnapshotFileStats{}, err
	}
	stats, err := sw.Close()
	if err != nil {
		return stats, err
	}
	return stats, bw.Flush()
}

// ReadSnapshotFile reads the snapshot file at path and calls fn for each
// entry whose key group is in want, in key order. Every block is checked,
// including those outside want, and the trailer's counts and checksum are
// verified at the end; a file that fails a check returns a *SnapshotError
// naming the file and the problem. Since fn sees entries before the end of
// the file is verified, a caller must discard what it built when
// ReadSnapshotFile returns an error. fn must not retain key or value.
func ReadSnapshotFile(path string, want KeyGroupRange, fn func(key, value []byte) error) (SnapshotFileStats, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return SnapshotFileStats{}, &SnapshotError{Path: path, Offset: -1, Reason: "file is missing"}
		}
		return SnapshotFileStats{}, fmt.Errorf("state: read snapshot file: %w", err)
	}
	defer f.Close()
	size := int64(-1)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return readSnapshotFile(path, bufio.NewReaderSize(f, 256<<10), size, want, fn)
}

// snapReader tracks the offset and running CRC of a snapshot file read.
type snapReader struct {
	path string
	r    io.Reader
	crc  hash.Hash32
	off  int64
	size int64 // the file's size if known, else -1
}

func (sr *snapReader) corrupt(off int64, format string, args ...any) error {
	return &SnapshotError{Path: sr.path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// read fills p, reporting a short file as truncation.
func (sr *snapReader) read(p []byte, what string) error {
	n, err := io.ReadFull(sr.r, p)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return sr.corrupt(sr.off+int64(n), "truncated: the file ends inside the %s (%d of %d bytes)", what, n, len(p))
		}
		return fmt.Errorf("state: read snapshot file %s: %w", sr.path, err)
	}
	sr.crc.Write(p)
	sr.off += int64(n)
	return nil
}

func readSnapshotFile(path string, r io.Reader, size int64, want KeyGroupRange, fn func(key, value []byte) error) (SnapshotFileStats, error) {
	sr := &snapReader{path: path, r: r, crc: crc32.New(crcTable), size: size}
	var stats SnapshotFileStats
	h := make([]byte, snapHeaderLen)
	if err := sr.read(h, "header"); err != nil {
		return stats, err
	}
	if string(h[:8]) != snapFileMagic {
		return stats, sr.corrupt(0, "not a snapshot file (bad magic %q)", h[:8])
	}
	if got, want := binary.BigEndian.Uint32(h[28:]), crc32.Checksum(h[:28], crcTable); got != want {
		return stats, sr.corrupt(0, "header checksum mismatch (stored %08x, computed %08x)", got, want)
	}
	if v := binary.BigEndian.Uint16(h[8:]); v != SnapshotFileVersion {
		return stats, sr.corrupt(8, "file format version %d, this build reads version %d", v, SnapshotFileVersion)
	}
	if v := binary.BigEndian.Uint16(h[10:]); v != LayoutVersion {
		return stats, sr.corrupt(10, "state layout version %d, this build reads version %d", v, LayoutVersion)
	}
	stats.KeyGroups = KeyGroupRange{Start: int(binary.BigEndian.Uint16(h[14:])), End: int(binary.BigEndian.Uint16(h[16:]))}
	if stats.KeyGroups.Len() == 0 || stats.KeyGroups.End >= MaxMaxParallelism {
		return stats, sr.corrupt(14, "key-group range %v invalid", stats.KeyGroups)
	}
	var last []byte
	var bh [8]byte
	block := make([]byte, 0, snapBlockTarget+1024)
	for {
		boff := sr.off
		if err := sr.read(bh[:4], "block header (or the trailer is missing)"); err != nil {
			return stats, err
		}
		n := binary.BigEndian.Uint32(bh[:4])
		if n == snapTrailerMark {
			break
		}
		if err := sr.read(bh[4:], "block header"); err != nil {
			return stats, err
		}
		if n == 0 || n > snapMaxBlock {
			return stats, sr.corrupt(boff, "block length %d out of range", n)
		}
		if sr.size >= 0 && sr.off+int64(n) > sr.size {
			return stats, sr.corrupt(boff, "truncated: block %d of %d bytes runs past the end of the file (%d bytes)", stats.Blocks, n, sr.size)
		}
		if cap(block) < int(n) {
			block = make([]byte, n)
		}
		block = block[:n]
		if err := sr.read(block, fmt.Sprintf("block %d", stats.Blocks)); err != nil {
			return stats, err
		}
		if got, want := binary.BigEndian.Uint32(bh[4:]), crc32.Checksum(block, crcTable); got != want {
			return stats, sr.corrupt(boff, "block %d checksum mismatch (stored %08x, computed %08x)", stats.Blocks, got, want)
		}
		stats.Blocks++
		stats.PayloadBytes += int64(n)
		for p := block; len(p) > 0; {
			kl, k1 := binary.Uvarint(p)
			if k1 <= 0 || kl > uint64(len(p)-k1) {
				return stats, sr.corrupt(boff, "block %d: bad key length", stats.Blocks-1)
			}
			key := p[k1 : k1+int(kl)]
			p = p[k1+int(kl):]
			vl, k2 := binary.Uvarint(p)
			if k2 <= 0 || vl > uint64(len(p)-k2) {
				return stats, sr.corrupt(boff, "block %d: bad value length", stats.Blocks-1)
			}
			value := p[k2 : k2+int(vl)]
			p = p[k2+int(vl):]
			if len(key) < 2 {
				return stats, sr.corrupt(boff, "block %d: key %x has no key group", stats.Blocks-1, key)
			}
			kg := int(binary.BigEndian.Uint16(key))
			if !stats.KeyGroups.Contains(kg) {
				return stats, sr.corrupt(boff, "block %d: key in key group %d outside the file's range %v", stats.Blocks-1, kg, stats.KeyGroups)
			}
			if stats.Entries > 0 && bytes.Compare(key, last) <= 0 {
				return stats, sr.corrupt(boff, "block %d: keys out of order", stats.Blocks-1)
			}
			last = append(last[:0], key...)
			stats.Entries++
			if want.Contains(kg) {
				if err := fn(key, value); err != nil {
					return stats, err
				}
			}
		}
	}
	toff := sr.off - 4
	t := make([]byte, snapTrailerLen-4)
	if err := sr.read(t[:24], "trailer"); err != nil {
		return stats, err
	}
	fileCRC := sr.crc.Sum32()
	if err := sr.read(t[24:], "trailer"); err != nil {
		return stats, err
	}
	if string(t[28:]) != snapFileEndMagic {
		return stats, sr.corrupt(toff, "bad trailer magic %q", t[28:])
	}
	if got := binary.BigEndian.Uint32(t[24:]); got != fileCRC {
		return stats, sr.corrupt(toff, "file checksum mismatch (stored %08x, computed %08x)", got, fileCRC)
	}
	if e, b, pb := int64(binary.BigEndian.Uint64(t)), int64(binary.BigEndian.Uint64(t[8:])), int64(binary.BigEndian.Uint64(t[16:])); e != stats.Entries || b != stats.Blocks || pb != stats.PayloadBytes {
		return stats, sr.corrupt(toff, "trailer counts %d entries in %d blocks (%d bytes), the file holds %d in %d (%d bytes)",
			e, b, pb, stats.Entries, stats.Blocks, stats.PayloadBytes)
	}
	var one [1]byte
	if n, _ := io.ReadFull(sr.r, one[:]); n > 0 {
		return stats, sr.corrupt(sr.off, "unexpected bytes after the trailer")
	}
	stats.FileBytes = sr.off
	return stats, nil
}
