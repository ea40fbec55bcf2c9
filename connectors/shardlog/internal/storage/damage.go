package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Damage is a range of acknowledged records that cannot be read back: a
// batch that fails its checksum or framing inside a sealed segment, or the
// missing end of a closed shard. Recovery never cuts it (only the torn tail
// of the active segment of an open shard is cut): reads stop at it with a
// *DamageError until an operator repairs it (Repair).
type Damage struct {
	Segment string // the segment file
	FilePos int64  // where in the file the damage begins
	Until   int64  // where intact data resumes in the file (its size if none does); 0 if not known
	Offset  uint64 // the first record offset it covers
	End     uint64 // the offset after the last it covers; 0 if not known
	Reason  string
	prevTs  int64 // the arrival time of the batch before it
}

func (d Damage) String() string {
	r := fmt.Sprintf("offset %d", d.Offset)
	if d.End > d.Offset {
		r = fmt.Sprintf("offsets %d to %d", d.Offset, d.End-1)
	}
	return fmt.Sprintf("%s at %s position %d: %s", r, d.Segment, d.FilePos, d.Reason)
}

func (d Damage) covers(off uint64) bool {
	if d.End == 0 {
		return off == d.Offset
	}
	return off >= d.Offset && off < d.End
}

// DamageError is what a read that reaches damage returns; it wraps
// ErrCorrupt.
type DamageError struct{ Damage Damage }

func (e *DamageError) Error() string { return "storage: damaged log: " + e.Damage.String() }
func (e *DamageError) Unwrap() error { return ErrCorrupt }

// EventKind names what recovery did.
type EventKind string

// The events Options.Report is told of.
const (
	// EventTailCut: the active segment of an open shard ended in a torn
	// (partly written, never acknowledged) batch, which was cut off.
	EventTailCut EventKind = "cut a torn tail"
	// EventSegmentRecreated: the active segment's header was incomplete (a
	// crash while creating it); it was created again, empty.
	EventSegmentRecreated EventKind = "recreated an empty segment"
	// EventDamage: damage was found (at open, by a read or by Verify).
	EventDamage EventKind = "found damage"
	// EventRepaired: Repair skipped or salvaged a damaged range.
	EventRepaired EventKind = "repaired damage"
)

// Event is one thing recovery or repair did, or damage found.
type Event struct {
	Kind    EventKind
	Segment string
	FilePos int64
	Offset  uint64 // the first offset concerned (for a cut, the next offset, which no record had)
	Bytes   int64  // bytes dropped (a cut or recreated segment)
	Detail  string
}

func (e Event) String() string {
	s := fmt.Sprintf("%s in %s at position %d, offset %d", e.Kind, e.Segment, e.FilePos, e.Offset)
	if e.Bytes > 0 {
		s += fmt.Sprintf(", %d bytes dropped", e.Bytes)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (s *Shard) report(e Event) {
	if s.opts.Report != nil {
		s.opts.Report(e)
	}
}

// addDamage records d unless it is known; it reports whether it was new.
func (s *Shard) addDamage(d Damage) bool {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for i := range s.damage {
		if o := &s.damage[i]; o.Segment == d.Segment && o.FilePos == d.FilePos {
			// Known; a full scan knows more than the read that found it.
			if o.End == 0 && d.End != 0 {
				o.End, o.Until, o.prevTs = d.End, d.Until, d.prevTs
			}
			return false
		}
	}
	s.damage = append(s.damage, d)
	s.hasDamage.Store(true)
	return true
}

func (s *Shard) noteDamage(d Damage) {
	if s.addDamage(d) {
		s.report(Event{Kind: EventDamage, Segment: d.Segment, FilePos: d.FilePos, Offset: d.Offset, Detail: d.Reason})
	}
}

// damageAt returns the known damage covering offset off, if any.
func (s *Shard) damageAt(off uint64) *Damage {
	if !s.hasDamage.Load() {
		return nil
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for i := range s.damage {
		if s.damage[i].covers(off) {
			d := s.damage[i]
			return &d
		}
	}
	return nil
}

// Damage returns the damage known so far: found at open, or by reads or
// Verify since.
func (s *Shard) Damage() []Damage {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return append([]Damage(nil), s.damage...)
}

// batchInfo is a batch header that checked out.
type batchInfo struct {
	n     int64 // length after the length and CRC fields
	base  uint64
	count uint32
	ts    int64
	gap   bool
}

// checkBatch checks the batch at pos of f (whose data ends at size): a
// plausible length within the file, and with full its checksum and record
// framing. v2 allows gap batches. buf is scratch.
func checkBatch(f *os.File, pos, size int64, full, v2 bool, buf *[]byte) (batchInfo, string) {
	var hdr [batchHeaderSize]byte
	if size-pos < batchHeaderSize {
		return batchInfo{}, "incomplete batch header"
	}
	if _, err := f.ReadAt(hdr[:], pos); err != nil {
		return batchInfo{}, "unreadable: " + err.Error()
	}
	b := batchInfo{
		n:     int64(binary.LittleEndian.Uint32(hdr[0:])),
		base:  binary.LittleEndian.Uint64(hdr[8:]),
		ts:    int64(binary.LittleEndian.Uint64(hdr[16:])),
		count: binary.LittleEndian.Uint32(hdr[24:]),
	}
	flags := binary.LittleEndian.Uint32(hdr[28:])
	if b.n < batchHeaderSize-8 || b.n > maxBatchBody {
		return b, fmt.Sprintf("bad batch length %d", b.n)
	}
	if pos+8+b.n > size {
		return b, fmt.Sprintf("batch of %d bytes runs past the end of the data (%d)", 8+b.n, size)
	}
	switch {
	case flags == flagGap && v2:
		b.gap = true
	case flags != 0:
		return b, fmt.Sprintf("bad batch flags %#x", flags)
	}
	if !full {
		return b, ""
	}
	if int64(cap(*buf)) < b.n {
		*buf = make([]byte, b.n)
	}
	body := (*buf)[:b.n]
	if _, err := f.ReadAt(body, pos+8); err != nil && !errors.Is(err, io.EOF) {
		return b, "unreadable: " + err.Error()
	}
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		return b, "checksum mismatch"
	}
	if b.gap {
		return b, ""
	}
	if _, err := countRecords(body[batchHeaderSize-8:], b.count); err != nil {
		return b, "bad record framing"
	}
	return b, ""
}

// resync finds the first position after pos (and before size) where a
// whole valid batch with a first offset above after begins: where intact
// data resumes after damage. It returns size and no batch if none does.
func resync(f *os.File, pos, size int64, after uint64, v2 bool, buf *[]byte) (int64, *batchInfo) {
	for p := pos + 1; p+batchHeaderSize <= size; p++ {
		b, bad := checkBatch(f, p, size, false, v2, buf)
		if bad != "" || b.base <= after || b.count == 0 && !b.gap {
			continue
		}
		if b, bad = checkBatch(f, p, size, true, v2, buf); bad == "" {
			return p, &b
		}
	}
	return size, nil
}

// Verify reads every batch of every segment in full, checking checksums
// and framing, and returns all damage. What it finds replaces the damage
// known (so that reads name it exactly); new damage is reported. The shard
// must not be written meanwhile.
func (s *Shard) Verify() ([]Damage, error) {
	s.segMu.RLock()
	segs := append([]*segment(nil), s.segs...)
	s.segMu.RUnlock()
	var found []Damage
	var buf []byte
	var prevTs int64
	for i, seg := range segs {
		if bad := checkSegHeader(seg.f, seg.base); bad != "" {
			d := Damage{Segment: seg.path, FilePos: 0, Offset: seg.base, Reason: bad, prevTs: prevTs}
			if i < len(segs)-1 {
				d.End = segs[i+1].base
			} else if s.opts.Sealed && s.opts.End > seg.base {
				d.End = s.opts.End
			}
			if st, err := seg.f.Stat(); err == nil {
				d.Until = st.Size()
			}
			found = append(found, d)
			continue
		}
		v2, err := segVersion2(seg.f)
		if err != nil {
			return nil, err
		}
		// Every byte of the file, but for the active segment of an open
		// shard, which may be being appended to: its committed size.
		size := seg.size.Load()
		if i < len(segs)-1 || s.opts.Sealed {
			st, err := seg.f.Stat()
			if err != nil {
				return nil, fmt.Errorf("storage: %w", err)
			}
			size = st.Size()
		}
		next := seg.base
		damaged := false
		for pos := int64(segHeaderSize); pos < size; {
			b, bad := checkBatch(seg.f, pos, size, true, v2, &buf)
			if bad == "" && b.base != next {
				bad = fmt.Sprintf("batch begins at offset %d, expected %d", b.base, next)
			}
			if bad == "" {
				next = b.base + uint64(b.count)
				prevTs = b.ts
				pos += 8 + b.n
				continue
			}
			until, good := resync(seg.f, pos, size, next, v2, &buf)
			d := Damage{Segment: seg.path, FilePos: pos, Until: until, Offset: next, Reason: bad, prevTs: prevTs}
			switch {
			case good != nil:
				d.End = good.base
			case i < len(segs)-1:
				d.End = segs[i+1].base
			case s.opts.Sealed:
				d.End = s.opts.End
			default:
				// The active segment of an open shard: what was committed.
				d.End = s.committed.Load()
			}
			if d.End <= d.Offset {
				d.End = 0
			}
			found = append(found, d)
			damaged = true
			if good == nil {
				break
			}
			pos, next = until, good.base
		}
		if !damaged && i < len(segs)-1 && next < segs[i+1].base {
			found = append(found, Damage{Segment: seg.path, FilePos: size, Until: size, Offset: next, End: segs[i+1].base, prevTs: prevTs,
				Reason: fmt.Sprintf("records %d to %d missing before segment %s", next, segs[i+1].base-1, segs[i+1].path)})
		}
		if !damaged && i == len(segs)-1 && s.opts.Sealed && next < s.opts.End {
			found = append(found, Damage{Segment: seg.path, FilePos: size, Until: size, Offset: next, End: s.opts.End, prevTs: prevTs,
				Reason: fmt.Sprintf("the closed shard ends at offset %d, its records at %d", s.opts.End, next)})
		}
	}
	s.dmu.Lock()
	old := s.damage
	s.damage = found
	s.hasDamage.Store(len(found) > 0)
	s.dmu.Unlock()
	for _, d := range found {
		known := false
		for _, o := range old {
			known = known || o.Segment == d.Segment && o.FilePos == d.FilePos
		}
		if !known {
			s.report(Event{Kind: EventDamage, Segment: d.Segment, FilePos: d.FilePos, Offset: d.Offset, Detail: d.Reason})
		}
	}
	return append([]Damage(nil), found...), nil
}

func segVersion2(f *os.File) (bool, error) {
	var h [12]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return false, fmt.Errorf("storage: %s: %w", f.Name(), err)
	}
	return binary.LittleEndian.Uint32(h[8:]) == gapVersion, nil
}

// RepairMode says how Repair treats a damaged range.
type RepairMode int

const (
	// RepairSkip drops the damaged range: its offsets are left as a gap
	// that reads step over.
	RepairSkip RepairMode = iota + 1
	// RepairSalvage keeps the records of a damaged batch whose header
	// and record framing are intact (its bytes may be wrong: the checksum
	// is recomputed over them) and drops, as RepairSkip, what cannot be
	// framed.
	RepairSalvage
)

// Repair verifies the shard and repairs every damaged range it finds,
// rewriting segments in place, and returns what it did. The shard must
// not be in use: open it, Repair, close it.
func (s *Shard) Repair(mode RepairMode) ([]Event, error) {
	if mode != RepairSkip && mode != RepairSalvage {
		return nil, fmt.Errorf("storage: unknown repair mode %d", mode)
	}
	var done []Event
	for round := 0; ; round++ {
		ds, err := s.Verify()
		if err != nil {
			return done, err
		}
		if len(ds) == 0 {
			s.mu.Lock()
			var de *DamageError
			if errors.As(s.mu.err, &de) {
				s.mu.err = nil // appends may go on
			}
			s.mu.Unlock()
			return done, nil
		}
		if round > 10000 {
			return done, fmt.Errorf("storage: %s: repair does not converge: %s", s.dir, ds[0])
		}
		e, err := s.repairOne(ds[0], mode)
		if err != nil {
			return done, err
		}
		s.report(e)
		done = append(done, e)
	}
}

func (s *Shard) repairOne(d Damage, mode RepairMode) (Event, error) {
	var seg *segment
	s.segMu.RLock()
	for _, sg := range s.segs {
		if sg.path == d.Segment {
			seg = sg
		}
	}
	s.segMu.RUnlock()
	if seg == nil {
		return Event{}, fmt.Errorf("storage: %s: no such segment", d.Segment)
	}
	ev := Event{Kind: EventRepaired, Segment: d.Segment, FilePos: d.FilePos, Offset: d.Offset}
	st, err := seg.f.Stat()
	if err != nil {
		return ev, fmt.Errorf("storage: %w", err)
	}
	fileSize := st.Size()
	if d.FilePos < segHeaderSize {
		// The header: its fields are known (the base is the file's name).
		// Written as version 2, which reads every version 1 segment too.
		if err := writeSegHeader(seg.f, seg.base, gapVersion); err != nil {
			return ev, err
		}
		ev.Detail = fmt.Sprintf("rewrote the segment header (%s)", d.Reason)
		return ev, s.reindex(seg)
	}
	if mode == RepairSalvage {
		var buf []byte
		b, bad := checkBatch(seg.f, d.FilePos, fileSize, false, true, &buf)
		if bad == "" && b.base == d.Offset && !b.gap && (d.End == 0 || b.base+uint64(b.count) <= d.End) && d.FilePos+8+b.n <= d.Until {
			body := make([]byte, b.n)
			if _, err := seg.f.ReadAt(body, d.FilePos+8); err != nil {
				return ev, fmt.Errorf("storage: %w", err)
			}
			if _, err := countRecords(body[batchHeaderSize-8:], b.count); err == nil {
				var c [4]byte
				binary.LittleEndian.PutUint32(c[:], crc32.Checksum(body, castagnoli))
				if _, err := seg.f.WriteAt(c[:], d.FilePos+4); err != nil {
					return ev, fmt.Errorf("storage: %w", err)
				}
				if err := seg.f.Sync(); err != nil {
					return ev, fmt.Errorf("storage: %w", err)
				}
				ev.Detail = fmt.Sprintf("salvaged %d records at offsets %d to %d (%s; their bytes may be damaged)", b.count, b.base, b.base+uint64(b.count)-1, d.Reason)
				return ev, s.reindex(seg)
			}
		}
	}
	if d.End == 0 {
		return ev, fmt.Errorf("storage: %s: damage at position %d: where the damaged records end is not known (the active segment of an open shard); nothing repaired", d.Segment, d.FilePos)
	}
	// Skip: a gap batch over the damaged bytes, covering its offsets.
	if d.End-d.Offset > 1<<32-1 {
		return ev, fmt.Errorf("storage: %s: damaged range of %d offsets is too long for one gap", d.Segment, d.End-d.Offset)
	}
	until := d.Until
	switch {
	case until >= fileSize:
		// At the end of the file: cut the rest and append the gap.
		if err := seg.f.Truncate(d.FilePos); err != nil {
			return ev, fmt.Errorf("storage: %w", err)
		}
		until = d.FilePos + batchHeaderSize
	case until-d.FilePos < batchHeaderSize:
		return ev, fmt.Errorf("storage: %s: damage at position %d is %d bytes, too short for a gap; nothing repaired", d.Segment, d.FilePos, until-d.FilePos)
	}
	gap := make([]byte, until-d.FilePos)
	binary.LittleEndian.PutUint32(gap[0:], uint32(len(gap)-8))
	binary.LittleEndian.PutUint64(gap[8:], d.Offset)
	binary.LittleEndian.PutUint64(gap[16:], uint64(d.prevTs))
	binary.LittleEndian.PutUint32(gap[24:], uint32(d.End-d.Offset))
	binary.LittleEndian.PutUint32(gap[28:], flagGap)
	binary.LittleEndian.PutUint32(gap[4:], crc32.Checksum(gap[8:], castagnoli))
	if _, err := seg.f.WriteAt(gap, d.FilePos); err != nil {
		return ev, fmt.Errorf("storage: %w", err)
	}
	if err := seg.f.Sync(); err != nil {
		return ev, fmt.Errorf("storage: %w", err)
	}
	// Only then mark the segment as one that may hold gaps (a crash in
	// between leaves a gap that a version 1 reader refuses as damage,
	// and Repair finds and finishes it again).
	if err := writeSegHeader(seg.f, seg.base, gapVersion); err != nil {
		return ev, err
	}
	ev.Bytes = d.Until - d.FilePos
	if d.Until > fileSize {
		ev.Bytes = fileSize - d.FilePos
	}
	ev.Detail = fmt.Sprintf("skipped offsets %d to %d (%s)", d.Offset, d.End-1, d.Reason)
	// Bring the in-memory view up to date: reopen the segment's index.
	return ev, s.reindex(seg)
}

// writeSegHeader writes and syncs the header of a segment file.
func writeSegHeader(f *os.File, base uint64, version uint32) error {
	var h [segHeaderSize]byte
	copy(h[:8], segMagic)
	binary.LittleEndian.PutUint32(h[8:], version)
	binary.LittleEndian.PutUint64(h[16:], base)
	binary.LittleEndian.PutUint32(h[24:], crc32.Checksum(h[:24], castagnoli))
	if _, err := f.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

// reindex rebuilds seg's index, size and next offset from its batch headers
// after a repair, and the shard's next offset if seg is the last segment.
func (s *Shard) reindex(seg *segment) error {
	st, err := seg.f.Stat()
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	v2, err := segVersion2(seg.f)
	if err != nil {
		return err
	}
	s.segMu.Lock()
	defer s.segMu.Unlock()
	seg.index, seg.lastIndexed = nil, 0
	seg.firstTs.Store(0)
	seg.lastTs.Store(0)
	var buf []byte
	pos, next := int64(segHeaderSize), seg.base
	for pos < st.Size() {
		b, bad := checkBatch(seg.f, pos, st.Size(), false, v2, &buf)
		if bad != "" || b.base != next {
			break
		}
		seg.addIndex(next, pos, b.ts, s.opts.IndexInterval)
		next += uint64(b.count)
		pos += 8 + b.n
	}
	seg.size.Store(pos)
	seg.next.Store(next)
	if s.segs[len(s.segs)-1] == seg {
		s.mu.Lock()
		s.mu.next = next
		if b := seg.lastTs.Load(); b > s.mu.lastTs {
			s.mu.lastTs = b
		}
		s.mu.Unlock()
		s.committed.Store(next)
	}
	return nil
}

// damagedSegment reports whether damage is known in segment path.
func (s *Shard) damagedSegment(path string) bool {
	if !s.hasDamage.Load() {
		return false
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for _, d := range s.damage {
		if d.Segment == path {
			return true
		}
	}
	return false
}

// checkSegHeader says what is wrong with a segment's header ("" if
// nothing).
func checkSegHeader(f *os.File, base uint64) string {
	var h [segHeaderSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return "incomplete segment header"
	}
	switch {
	case string(h[:8]) != segMagic:
		return "bad segment magic"
	case binary.LittleEndian.Uint32(h[24:]) != crc32.Checksum(h[:24], castagnoli):
		return "bad segment header checksum"
	case binary.LittleEndian.Uint64(h[16:]) != base:
		return fmt.Sprintf("segment header names offset %d", binary.LittleEndian.Uint64(h[16:]))
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != FormatVersion && v != gapVersion {
		return fmt.Sprintf("segment format version %d", v)
	}
	return ""
}

// forgetDamage drops the damage recorded in segment path (before it is
// checked again).
func (s *Shard) forgetDamage(path string) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	kept := s.damage[:0]
	for _, d := range s.damage {
		if d.Segment != path {
			kept = append(kept, d)
		}
	}
	s.damage = kept
	s.hasDamage.Store(len(kept) > 0)
}
