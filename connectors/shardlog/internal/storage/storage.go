package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/durable"
)

// FormatVersion is the segment format this package writes. It also reads
// gapVersion, the format of a segment Repair has put a gap into.
const FormatVersion = 1

const (
	// gapVersion is version 1 plus gap batches (flags flagGap): a range of
	// offsets Repair skipped, with no records. Only repaired segments are
	// written in it, so a build that knows only version 1 refuses them
	// rather than reading a gap as empty records.
	gapVersion = 2
	flagGap    = 1
)

const (
	segMagic      = "SLUICESG"
	segHeaderSize = 32
	// batchHeaderSize is the fixed part of a batch: length, crc, base
	// offset, timestamp, count, flags.
	batchHeaderSize = 32
	// maxBatchBody bounds a batch so that a corrupt length cannot make
	// recovery or a reader allocate without limit.
	maxBatchBody = 64 << 20
	segSuffix    = ".log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors.
var (
	ErrClosed  = errors.New("storage: shard closed")
	ErrCorrupt = errors.New("storage: corrupt segment")
	ErrTooBig  = errors.New("storage: batch too large")
)

// SyncMode says when an append is acknowledged.
type SyncMode int

const (
	// SyncAlways acknowledges an append only after fsync (the default).
	SyncAlways SyncMode = iota
	// SyncNone acknowledges once the data is written to the OS: faster, but
	// a machine crash (not a process crash) can lose acknowledged records.
	SyncNone
)

// Options configure a shard log. The zero value is valid: see each field's
// default.
type Options struct {
	// SegmentBytes is the size at which the active segment is sealed and a
	// new one begun. Default 64 MiB.
	SegmentBytes int64
	// IndexInterval is the number of bytes between sparse index entries:
	// a read from an arbitrary offset or time scans at most this much
	// before it finds its record, and the index of a 64 MiB segment takes
	// 24 B per interval in memory. Default 64 KiB.
	IndexInterval int64
	// Sync says when appends are acknowledged. Default SyncAlways.
	Sync SyncMode
	// Sealed says the shard is closed and its records end at End: its
	// last segment holds acknowledged records only, so a bad batch in it
	// (or records missing before End) is damage, never a torn tail.
	Sealed bool
	End    uint64
	// Report, if set, is told of what recovery does (a torn tail cut, an
	// empty segment recreated) and of damage found, at open or later.
	Report func(Event)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.SegmentBytes == 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.IndexInterval == 0 {
		o.IndexInterval = 64 << 10
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.SegmentBytes < 4<<10 {
		return fmt.Errorf("storage: SegmentBytes %d is below 4 KiB", o.SegmentBytes)
	}
	if o.IndexInterval <= 0 {
		return fmt.Errorf("storage: IndexInterval %d must be positive", o.IndexInterval)
	}
	if o.Sync != SyncAlways && o.Sync != SyncNone {
		return fmt.Errorf("storage: unknown SyncMode %d", o.Sync)
	}
	return nil
}

// Entry is one record to append.
type Entry struct {
	Key  []byte // the partition key
	Data []byte
}

// Record is one record read back. Key and Data alias the ReadBuf.
type Record struct {
	Offset    uint64
	Timestamp int64 // arrival time, Unix milliseconds
	Key       []byte
	Data      []byte
}

// ReadBuf holds what one Read returned; reuse it to read without allocating.
type ReadBuf struct {
	data    []byte
	Records []Record
	// Bytes is the sum of len(Key)+len(Data) over Records.
	Bytes int
}

type indexEntry struct {
	offset uint64
	pos    int64
	ts     int64
}

// segment is one file. Fields other than the atomics are guarded by the
// shard's segMu; the committed size grows while readers read.
type segment struct {
	base  uint64
	path  string
	f     *os.File
	index []indexEntry // sparse, by offset and ts; first entry at the first batch
	// size is the committed file size; next the offset after the last
	// committed record; firstTs/lastTs the arrival times of its first and
	// last batch (0 when empty).
	size    atomic.Int64
	next    atomic.Uint64
	firstTs atomic.Int64
	lastTs  atomic.Int64
	// lastIndexed is the position of the last index entry (writer only).
	lastIndexed int64
}

// Shard is the log of one shard.
type Shard struct {
	dir  string
	opts Options

	mu struct {
		sync.Mutex
		closed  bool
		err     error // sticky write error
		pending []byte
		spare   []byte
		next    uint64 // next offset to assign
		lastTs  int64
		seq     uint64 // group-commit epoch of pending
	}

	// wmu serialises the write+fsync leader and segment rolls.
	wmu     sync.Mutex
	durable atomic.Uint64 // last group-commit epoch made durable (+1)

	segMu sync.RWMutex
	segs  []*segment // ascending base; last is active

	committed atomic.Uint64 // offsets below are readable

	nmu    sync.Mutex
	notify chan struct{} // closed and replaced on every commit

	dmu       sync.Mutex
	damage    []Damage // known damage, in the order found
	hasDamage atomic.Bool
}

// Open opens (creating if needed) the shard log in dir and recovers it:
// a torn or corrupt tail of the last segment is cut off.
func Open(dir string, opts Options) (*Shard, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if os.IsNotExist(statErr) {
		// Make the new directory's own entry durable, not just the files
		// that will go in it.
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	s := &Shard{dir: dir, opts: opts, notify: make(chan struct{})}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	var bases []uint64
	for _, e := range names {
		n := e.Name()
		if !strings.HasSuffix(n, segSuffix) {
			continue
		}
		b, err := strconv.ParseUint(strings.TrimSuffix(n, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	for i, b := range bases {
		seg, err := s.openSegment(b, i == len(bases)-1, false)
		if err != nil {
			s.closeFiles()
			return nil, err
		}
		if n := len(s.segs); n > 0 && s.segs[n-1].next.Load() != seg.base {
			prev := s.segs[n-1]
			if prev.next.Load() > seg.base {
				// A damaged record count the header walk believed: check
				// the previous segment in full to find where it is.
				prev.f.Close()
				s.forgetDamage(prev.path)
				full, err := s.openSegment(prev.base, false, true)
				if err != nil {
					s.segs = s.segs[:n-1]
					s.closeFiles()
					seg.f.Close()
					return nil, err
				}
				s.segs[n-1], prev = full, full
			}
			if prev.next.Load() > seg.base {
				s.closeFiles()
				seg.f.Close()
				return nil, fmt.Errorf("%w: segment %s starts at %d, previous ends at %d", ErrCorrupt, seg.path, seg.base, prev.next.Load())
			}
			// Records missing between two segments: damage up to the
			// next segment's first offset.
			s.extendDamage(prev, seg.base, fmt.Sprintf("records %d to %d missing before segment %s", prev.next.Load(), seg.base-1, seg.path))
		}
		s.segs = append(s.segs, seg)
	}
	if len(s.segs) == 0 {
		seg, err := s.createSegment(0)
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, seg)
	}
	last := s.segs[len(s.segs)-1]
	if opts.Sealed && last.next.Load() < opts.End {
		s.extendDamage(last, opts.End, fmt.Sprintf("the closed shard ends at offset %d, its records at %d", opts.End, last.next.Load()))
	}
	if !opts.Sealed && last.size.Load() == 0 {
		// The active segment's header is damaged (and it holds more than
		// a crash while creating it could leave): where its records end
		// is not known, so nothing may be appended until it is repaired.
		if d := s.damageAt(last.base); d != nil {
			s.mu.err = &DamageError{Damage: *d}
		}
	}
	s.mu.next = last.next.Load()
	for i := len(s.segs) - 1; i >= 0; i-- {
		if ts := s.segs[i].lastTs.Load(); ts != 0 {
			s.mu.lastTs = ts
			break
		}
	}
	s.committed.Store(s.mu.next)
	return s, nil
}

func segName(base uint64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

func (s *Shard) createSegment(base uint64) (*segment, error) {
	path := filepath.Join(s.dir, segName(base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := writeSegHeader(f, base, FormatVersion); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return nil, err
	}
	seg := &segment{base: base, path: path, f: f}
	seg.size.Store(segHeaderSize)
	seg.next.Store(base)
	return seg, nil
}

func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

// openSegment opens an existing segment and rebuilds its index from the
// batch headers. In the last segment of an open shard every batch's
// checksum is verified and the file is cut at the first bad one: that is
// the torn tail of a crash, which held nothing acknowledged. Anywhere else
// (an earlier segment, sealed after an fsync, or the last segment of a
// closed shard, whose end is known) a bad batch is damage: it is recorded
// and reported, the segment is read up to it, and reads that reach it fail
// until an operator repairs it (Repair).
func (s *Shard) openSegment(base uint64, last, full bool) (*segment, error) {
	path := filepath.Join(s.dir, segName(base))
	cut := last && !s.opts.Sealed
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	fileSize := st.Size()
	var h [segHeaderSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || string(h[:8]) != segMagic ||
		binary.LittleEndian.Uint32(h[24:]) != crc32.Checksum(h[:24], castagnoli) ||
		binary.LittleEndian.Uint64(h[16:]) != base {
		if last && fileSize < segHeaderSize+batchHeaderSize && (cut || s.opts.End <= base) {
			// A crash while creating the segment: nothing was ever
			// acknowledged in it. Recreate it.
			f.Close()
			seg, err := s.createSegment(base)
			if err == nil {
				s.report(Event{Kind: EventSegmentRecreated, Segment: path, Offset: base, Bytes: fileSize, Detail: "incomplete segment header"})
			}
			return seg, err
		}
		// The whole segment is unreadable: damage from its first offset
		// (its end is the next segment's first offset, or the closed
		// shard's end).
		seg := &segment{base: base, path: path, f: f}
		seg.size.Store(0)
		seg.next.Store(base)
		s.noteDamage(Damage{Segment: path, FilePos: 0, Until: fileSize, Offset: base, Reason: "bad segment header"})
		return seg, nil
	}
	v := binary.LittleEndian.Uint32(h[8:])
	if v != FormatVersion && v != gapVersion {
		f.Close()
		return nil, fmt.Errorf("storage: %s: format version %d, this build reads %d and %d", path, v, FormatVersion, gapVersion)
	}
	seg := &segment{base: base, path: path, f: f}
	pos := int64(segHeaderSize)
	next := base
	var body []byte
	var prevTs int64
	for pos < fileSize {
		// The last segment is checked in full (checksums, framing): the
		// only one a crash can have left a partial batch in.
		b, bad := checkBatch(f, pos, fileSize, last || full, v == gapVersion, &body)
		if bad == "" && b.base != next {
			bad = fmt.Sprintf("batch begins at offset %d, expected %d", b.base, next)
		}
		if bad != "" {
			if !cut {
				d := Damage{Segment: path, FilePos: pos, Until: fileSize, Offset: next, Reason: bad, prevTs: prevTs}
				if last && s.opts.End > next {
					d.End = s.opts.End
				}
				s.noteDamage(d)
				break
			}
			// Torn tail: cut it.
			if err := f.Truncate(pos); err != nil {
				f.Close()
				return nil, fmt.Errorf("storage: truncate torn tail: %w", err)
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return nil, fmt.Errorf("storage: %w", err)
			}
			s.report(Event{Kind: EventTailCut, Segment: path, FilePos: pos, Offset: next, Bytes: fileSize - pos, Detail: bad})
			break
		}
		seg.addIndex(next, pos, b.ts, s.opts.IndexInterval)
		prevTs = b.ts
		next += uint64(b.count)
		pos += 8 + b.n
	}
	seg.size.Store(pos)
	seg.next.Store(next)
	return seg, nil
}

// extendDamage records that the records from seg's end up to end are
// missing: the damage found at seg's end gets that end, or new damage is
// recorded there.
func (s *Shard) extendDamage(seg *segment, end uint64, reason string) {
	s.dmu.Lock()
	for i := range s.damage {
		if d := &s.damage[i]; d.Segment == seg.path && d.Offset == seg.next.Load() {
			if d.End == 0 || d.End > end {
				d.End = end
			}
			s.dmu.Unlock()
			return
		}
	}
	s.dmu.Unlock()
	size := seg.size.Load()
	if st, err := seg.f.Stat(); err == nil {
		size = st.Size()
	}
	s.noteDamage(Damage{Segment: seg.path, FilePos: max(seg.size.Load(), segHeaderSize), Until: size, Offset: seg.next.Load(), End: end, Reason: reason, prevTs: seg.lastTs.Load()})
}

func (seg *segment) addIndex(offset uint64, pos, ts int64, interval int64) {
	if len(seg.index) == 0 {
		seg.firstTs.Store(ts)
	}
	seg.lastTs.Store(ts)
	if len(seg.index) == 0 || pos-seg.lastIndexed >= interval {
		seg.index = append(seg.index, indexEntry{offset: offset, pos: pos, ts: ts})
		seg.lastIndexed = pos
	}
}

// countRecords checks that body holds exactly count well-formed records.
func countRecords(body []byte, count uint32) (int, error) {
	p := 0
	for i := uint32(0); i < count; i++ {
		for range 2 {
			l, n := binary.Uvarint(body[p:])
			if n <= 0 || l > uint64(len(body)-p-n) {
				return 0, ErrCorrupt
			}
			p += n + int(l)
		}
	}
	if p != len(body) {
		return 0, ErrCorrupt
	}
	return int(count), nil
}

func (s *Shard) closeFiles() {
	for _, seg := range s.segs {
		seg.f.Close()
	}
}

// Next returns the offset the next appended record will get, which is also
// the end of the committed (readable) log.
func (s *Shard) Next() uint64 { return s.committed.Load() }

// First returns the first offset still stored (retention deletes whole
// segments, so records below it are gone).
func (s *Shard) First() uint64 {
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	return s.segs[0].base
}

// Append appends entries as one batch with arrival time ts (Unix ms; raised
// to the previous batch's time if the clock went back, so that arrival times
// never decrease within a shard) and returns the offset of the first entry.
// It blocks until the batch is durable (see SyncMode). Entries' bytes are
// copied before Append returns.
func (s *Shard) Append(ts int64, entries []Entry) (uint64, error) {
	base, _, err := s.AppendAt(ts, entries)
	return base, err
}

// AppendAt is Append that also returns the arrival time the batch got
// (ts, or the previous batch's time if that is later).
func (s *Shard) AppendAt(ts int64, entries []Entry) (uint64, int64, error) {
	if len(entries) == 0 {
		return 0, 0, errors.New("storage: empty batch")
	}
	body := 0
	for _, e := range entries {
		body += len(e.Key) + len(e.Data) + 2*binary.MaxVarintLen32
	}
	if body > maxBatchBody-batchHeaderSize {
		return 0, 0, ErrTooBig
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return 0, 0, ErrClosed
	}
	if s.mu.err != nil {
		err := s.mu.err
		s.mu.Unlock()
		return 0, 0, err
	}
	if ts < s.mu.lastTs {
		ts = s.mu.lastTs
	}
	s.mu.lastTs = ts
	base := s.mu.next
	start := len(s.mu.pending)
	buf := append(s.mu.pending, make([]byte, batchHeaderSize)...)
	for _, e := range entries {
		buf = binary.AppendUvarint(buf, uint64(len(e.Key)))
		buf = append(buf, e.Key...)
		buf = binary.AppendUvarint(buf, uint64(len(e.Data)))
		buf = append(buf, e.Data...)
	}
	h := buf[start:]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(h)-8))
	binary.LittleEndian.PutUint64(h[8:], base)
	binary.LittleEndian.PutUint64(h[16:], uint64(ts))
	binary.LittleEndian.PutUint32(h[24:], uint32(len(entries)))
	binary.LittleEndian.PutUint32(h[28:], 0)
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(h[8:], castagnoli))
	s.mu.pending = buf
	s.mu.next += uint64(len(entries))
	my := s.mu.seq
	s.mu.Unlock()

	if err := s.commit(my); err != nil {
		return 0, 0, err
	}
	return base, ts, nil
}

// commit makes epoch my durable: the first waiter to get wmu writes every
// pending batch (its own and those of everyone who queued behind it) with
// one write and one fsync.
func (s *Shard) commit(my uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.durable.Load() > my {
		return s.stickyErr()
	}
	s.mu.Lock()
	if s.mu.err != nil {
		err := s.mu.err
		s.mu.Unlock()
		return err
	}
	buf := s.mu.pending
	s.mu.pending = s.mu.spare[:0]
	epoch := s.mu.seq
	s.mu.seq++
	end := s.mu.next
	s.mu.Unlock()

	err := s.writeLocked(buf, end)
	s.mu.Lock()
	if err != nil && s.mu.err == nil {
		s.mu.err = err
	}
	if cap(buf) <= 16<<20 {
		s.mu.spare = buf[:0]
	}
	s.mu.Unlock()
	s.durable.Store(epoch + 1)
	return err
}

func (s *Shard) stickyErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.err
}

// writeLocked writes buf (whole batches ending at offset end) to the active
// segment, syncs, indexes and publishes it. wmu is held.
func (s *Shard) writeLocked(buf []byte, end uint64) error {
	if len(buf) == 0 {
		return nil
	}
	s.segMu.RLock()
	seg := s.segs[len(s.segs)-1]
	s.segMu.RUnlock()
	if seg.size.Load() > segHeaderSize && seg.size.Load()+int64(len(buf)) > s.opts.SegmentBytes {
		var err error
		if seg, err = s.rollLocked(seg); err != nil {
			return err
		}
	}
	pos := seg.size.Load()
	if _, err := seg.f.WriteAt(buf, pos); err != nil {
		return fmt.Errorf("storage: write %s: %w", seg.path, err)
	}
	if s.opts.Sync == SyncAlways {
		if err := seg.f.Sync(); err != nil {
			return fmt.Errorf("storage: fsync %s: %w", seg.path, err)
		}
	}
	// Index the new batches. Readers find index entries under segMu.
	s.segMu.Lock()
	for p := 0; p < len(buf); {
		n := int(binary.LittleEndian.Uint32(buf[p:]))
		off := binary.LittleEndian.Uint64(buf[p+8:])
		ts := int64(binary.LittleEndian.Uint64(buf[p+16:]))
		seg.addIndex(off, pos+int64(p), ts, s.opts.IndexInterval)
		p += 8 + n
	}
	s.segMu.Unlock()
	seg.next.Store(end)
	seg.size.Store(pos + int64(len(buf)))
	s.committed.Store(end)
	s.nmu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.nmu.Unlock()
	return nil
}

// rollLocked seals seg and starts a new active segment. wmu is held.
func (s *Shard) rollLocked(seg *segment) (*segment, error) {
	if s.opts.Sync != SyncAlways {
		// Sealed segments must be whole: recovery treats a bad batch in
		// one as corruption, not as a torn tail.
		if err := seg.f.Sync(); err != nil {
			return nil, fmt.Errorf("storage: fsync %s: %w", seg.path, err)
		}
	}
	nseg, err := s.createSegment(seg.next.Load())
	if err != nil {
		return nil, err
	}
	s.segMu.Lock()
	s.segs = append(s.segs, nseg)
	s.segMu.Unlock()
	return nseg, nil
}

// Wait blocks until the committed end passes offset (Next() > offset), ctx
// ends (ctx.Err() is returned) or the shard is closed (ErrClosed).
func (s *Shard) Wait(ctx context.Context, offset uint64) error {
	for {
		s.nmu.Lock()
		ch := s.notify
		s.nmu.Unlock()
		if s.committed.Load() > offset {
			return nil
		}
		if s.isClosed() {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Notify returns a channel that is closed at the next commit (or Close).
func (s *Shard) Notify() <-chan struct{} {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	return s.notify
}

func (s *Shard) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// Read reads committed records from offset from on, skipping records whose
// arrival time is before minTs (retention), until maxRecords records or
// maxBytes of key+data would be exceeded (at least one record is returned
// if any is available). It returns the offset after the last record
// returned (or after the skipped ones), which is where the next read starts.
// Reading below First() starts at First().
func (s *Shard) Read(from uint64, maxRecords, maxBytes int, minTs int64, rb *ReadBuf) (uint64, error) {
	rb.data = rb.data[:0]
	rb.Records = rb.Records[:0]
	rb.Bytes = 0
	end := s.committed.Load()
	if s.opts.Sealed && s.hasDamage.Load() {
		end = max(end, s.opts.End) // so that a read reaches the missing end
	}
	s.segMu.RLock()
	segs := s.segs
	if from < segs[0].base {
		from = segs[0].base
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > from }) - 1
	if i < 0 {
		i = 0
	}
	var pos int64
	var posOff uint64
	if i < len(segs) {
		pos, posOff = segs[i].findPos(from)
	}
	s.segMu.RUnlock()
	next := from
	for ; i < len(segs) && next < end; i++ {
		seg := segs[i]
		if seg.base > next {
			break // records missing before this segment: damage
		}
		if seg.next.Load() <= next {
			pos = -1
			continue
		}
		if pos < 0 {
			s.segMu.RLock()
			pos, posOff = seg.findPos(next)
			s.segMu.RUnlock()
		}
		var full bool
		var err error
		next, full, err = s.readSegment(seg, pos, posOff, next, end, maxRecords, maxBytes, minTs, rb)
		if err != nil || full {
			return next, err
		}
		pos = -1
	}
	if len(rb.Records) == 0 && next < end {
		if d := s.damageAt(next); d != nil {
			return next, &DamageError{Damage: *d}
		}
	}
	return next, nil
}

// findPos returns the file position and first offset of the indexed batch
// at or before offset. segMu is held.
func (seg *segment) findPos(offset uint64) (int64, uint64) {
	idx := seg.index
	j := sort.Search(len(idx), func(j int) bool { return idx[j].offset > offset }) - 1
	if j < 0 {
		return segHeaderSize, seg.base
	}
	return idx[j].pos, idx[j].offset
}

const readChunk = 256 << 10

// readSegment reads seg from file position pos, where the batch with first
// offset posOff begins.
func (s *Shard) readSegment(seg *segment, pos int64, posOff, next, end uint64, maxRecords, maxBytes int, minTs int64, rb *ReadBuf) (uint64, bool, error) {
	limit := seg.size.Load()
	expect := posOff // the first offset of the batch at pos
	// damaged stops the read at a bad batch: with records read, they are
	// returned (the next read starts at the damage); without, the damage
	// is the answer.
	damaged := func(at int64, reason string) (uint64, bool, error) {
		d := Damage{Segment: seg.path, FilePos: at, Offset: expect, Reason: reason}
		s.noteDamage(d)
		if len(rb.Records) > 0 {
			return next, true, nil
		}
		if k := s.damageAt(expect); k != nil {
			d = *k
		}
		return expect, false, &DamageError{Damage: d}
	}
	for pos < limit {
		// Read a chunk appended to rb.data; records alias it, so the
		// buffer only ever grows within one Read (a reallocation leaves
		// earlier records pointing at the old, unchanged array).
		// Read what the remaining record budget probably needs (by the
		// average record size so far), at least a chunk, at most the
		// byte budget: a small read must not pull in megabytes.
		want := int64(readChunk)
		if n := len(rb.Records); n > 0 {
			avg := int64(len(rb.data)/n) + 1
			if est := avg * int64(maxRecords-n); est > want {
				want = est
			}
		}
		if rem := int64(maxBytes-rb.Bytes) + 4096; want > rem && rem > readChunk {
			want = rem
		}
		if want > limit-pos {
			want = limit - pos
		}
		chunkStart := len(rb.data)
		if cap(rb.data)-chunkStart < int(want) {
			nb := make([]byte, chunkStart, chunkStart+int(want)+readChunk)
			copy(nb, rb.data)
			rb.data = nb
		}
		chunk := rb.data[chunkStart : chunkStart+int(want)]
		if _, err := seg.f.ReadAt(chunk, pos); err != nil && !errors.Is(err, io.EOF) {
			return next, false, fmt.Errorf("storage: read %s: %w", seg.path, err)
		}
		p := 0
		for p+batchHeaderSize <= len(chunk) {
			n := int(binary.LittleEndian.Uint32(chunk[p:]))
			if n < batchHeaderSize-8 || n > maxBatchBody || pos+int64(p)+8+int64(n) > limit {
				return damaged(pos+int64(p), fmt.Sprintf("bad batch length %d", n))
			}
			if p+8+n > len(chunk) {
				if p == 0 {
					// A batch larger than the chunk: read it whole.
					want = int64(8 + n)
					if cap(rb.data)-chunkStart < int(want) {
						nb := make([]byte, chunkStart, chunkStart+int(want))
						copy(nb, rb.data)
						rb.data = nb
					}
					chunk = rb.data[chunkStart : chunkStart+int(want)]
					if _, err := seg.f.ReadAt(chunk, pos); err != nil && !errors.Is(err, io.EOF) {
						return next, false, fmt.Errorf("storage: read %s: %w", seg.path, err)
					}
					continue
				}
				break
			}
			b := chunk[p : p+8+n]
			if crc32.Checksum(b[8:], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
				return damaged(pos+int64(p), "checksum mismatch")
			}
			base := binary.LittleEndian.Uint64(b[8:])
			ts := int64(binary.LittleEndian.Uint64(b[16:]))
			count := int(binary.LittleEndian.Uint32(b[24:]))
			flags := binary.LittleEndian.Uint32(b[28:])
			if base != expect {
				return damaged(pos+int64(p), fmt.Sprintf("batch begins at offset %d, expected %d", base, expect))
			}
			batchPos := pos + int64(p)
			p += 8 + n
			expect = base + uint64(count)
			if base >= end {
				return next, true, nil
			}
			if base+uint64(count) <= next {
				continue
			}
			if ts < minTs || flags == flagGap {
				// Expired, or a range Repair skipped: no records.
				next = base + uint64(count)
				continue
			}
			if flags != 0 {
				return damaged(batchPos, fmt.Sprintf("bad batch flags %#x", flags))
			}
			rp := batchHeaderSize
			for k := 0; k < count; k++ {
				kl, m := binary.Uvarint(b[rp:])
				if m <= 0 || int(kl) > len(b)-rp-m {
					expect = base
					return damaged(batchPos, "bad record framing")
				}
				rp += m
				key := b[rp : rp+int(kl) : rp+int(kl)]
				rp += int(kl)
				dl, m := binary.Uvarint(b[rp:])
				if m <= 0 || int(dl) > len(b)-rp-m {
					expect = base
					return damaged(batchPos, "bad record framing")
				}
				rp += m
				data := b[rp : rp+int(dl) : rp+int(dl)]
				rp += int(dl)
				off := base + uint64(k)
				if off < next {
					continue
				}
				if off >= end {
					return next, true, nil
				}
				sz := len(key) + len(data)
				if len(rb.Records) >= maxRecords || (len(rb.Records) > 0 && rb.Bytes+sz > maxBytes) {
					return next, true, nil
				}
				rb.Records = append(rb.Records, Record{Offset: off, Timestamp: ts, Key: key, Data: data})
				rb.Bytes += sz
				next = off + 1
			}
		}
		// Keep only the bytes of whole batches consumed; the partial one
		// is read again at the start of the next chunk.
		rb.data = rb.data[:chunkStart+p]
		pos += int64(p)
		if p == 0 {
			break
		}
	}
	return next, false, nil
}

// SeekTime returns the first offset whose arrival time is at or after ts
// (Unix ms), or Next() if there is none.
func (s *Shard) SeekTime(ts int64) (uint64, error) {
	s.segMu.RLock()
	segs := s.segs
	var seg *segment
	for _, sg := range segs {
		if sg.next.Load() > sg.base && sg.lastTs.Load() >= ts {
			seg = sg
			break
		}
	}
	if seg == nil {
		s.segMu.RUnlock()
		return s.committed.Load(), nil
	}
	idx := seg.index
	j := sort.Search(len(idx), func(j int) bool { return idx[j].ts >= ts }) - 1
	pos := int64(segHeaderSize)
	if j >= 0 {
		pos = idx[j].pos
	}
	limit := seg.size.Load()
	s.segMu.RUnlock()
	var hdr [batchHeaderSize]byte
	for pos < limit {
		if _, err := seg.f.ReadAt(hdr[:], pos); err != nil {
			return 0, fmt.Errorf("storage: read %s: %w", seg.path, err)
		}
		if int64(binary.LittleEndian.Uint64(hdr[16:])) >= ts {
			return binary.LittleEndian.Uint64(hdr[8:]), nil
		}
		pos += 8 + int64(binary.LittleEndian.Uint32(hdr[0:]))
	}
	return seg.next.Load(), nil
}

// LastTimestamp returns the arrival time of the last committed batch (Unix
// ms), or 0 if the shard holds no record.
func (s *Shard) LastTimestamp() int64 {
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	for i := len(s.segs) - 1; i >= 0; i-- {
		if ts := s.segs[i].lastTs.Load(); ts != 0 {
			return ts
		}
	}
	return 0
}

// Trim deletes every segment whose records all arrived before cutoff (Unix
// ms). If that includes the active segment, a new empty one is begun first
// so that the next offset survives a restart. It returns how many segments
// it deleted.
func (s *Shard) Trim(cutoff int64) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.segMu.RLock()
	active := s.segs[len(s.segs)-1]
	s.segMu.RUnlock()
	if active.next.Load() > active.base && active.lastTs.Load() < cutoff {
		if _, err := s.rollLocked(active); err != nil {
			return 0, err
		}
	}
	s.segMu.Lock()
	var dead []*segment
	for len(s.segs) > 1 {
		sg := s.segs[0]
		if sg.next.Load() > sg.base && sg.lastTs.Load() >= cutoff {
			break
		}
		if s.damagedSegment(sg.path) {
			// Its damaged records' times are not known: it stays until
			// an operator repairs it, so damage never vanishes unseen.
			break
		}
		dead = append(dead, sg)
		s.segs = s.segs[1:]
	}
	s.segMu.Unlock()
	for _, sg := range dead {
		// The file is unlinked but not closed: a reader that took the
		// segment list before the trim may still be reading it (reads of
		// an unlinked file keep working), and closing would race with
		// it. The *os.File's finalizer closes it once nothing refers to
		// it.
		if err := os.Remove(sg.path); err != nil {
			return len(dead), fmt.Errorf("storage: %w", err)
		}
	}
	if len(dead) > 0 {
		if err := syncDir(s.dir); err != nil {
			return len(dead), err
		}
	}
	return len(dead), nil
}

// Segments returns how many segment files the shard has.
func (s *Shard) Segments() int {
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	return len(s.segs)
}

// Close flushes nothing (every acknowledged append is already written),
// wakes waiters and closes the files. Appends after Close fail with
// ErrClosed.
func (s *Shard) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	s.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.nmu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.nmu.Unlock()
	s.segMu.Lock()
	defer s.segMu.Unlock()
	var first error
	for _, seg := range s.segs {
		if err := seg.f.Close(); err != nil && first == nil {
			first = fmt.Errorf("storage: %w", err)
		}
	}
	return first
}

// Remove closes the shard and deletes its directory.
func (s *Shard) Remove() error {
	if err := s.Close(); err != nil {
		return err
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}
