package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// events collects what recovery reports.
type events struct {
	mu  sync.Mutex
	evs []Event
}

func (e *events) report(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *events) of(k EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// readUntil reads from from on until the end or an error, returning the
// records and the error.
func readUntil(s *Shard, from uint64) ([]Record, uint64, error) {
	var out []Record
	var rb ReadBuf
	for {
		next, err := s.Read(from, 7, 1<<20, 0, &rb)
		for _, r := range rb.Records {
			r.Key, r.Data = bytes.Clone(r.Key), bytes.Clone(r.Data)
			out = append(out, r)
		}
		if err != nil || next == from {
			return out, from, err
		}
		from = next
	}
}

// writeShard writes batches of 3 records (20 with segments of 4 KiB make
// several segments) and returns the file size after each batch of the
// first segment.
func writeShard(t *testing.T, dir string, batches int, opts Options) {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < batches; b++ {
		if _, err := s.Append(int64(1000+b), entries("b", 3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func damageFile(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveryReportsWhatItCuts: a torn tail cut and a segment recreated
// are each reported with the segment, position, offset and bytes dropped.
func TestRecoveryReportsWhatItCuts(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, dir, 4, Options{})
	seg := filepath.Join(dir, segName(0))
	st, _ := os.Stat(seg)
	size := st.Size()
	damageFile(t, seg, func(b []byte) []byte { return append(b, 0xde, 0xad, 0xbe, 0xef, 9, 9, 9) })
	// A next segment whose header a crash left incomplete.
	if err := os.WriteFile(filepath.Join(dir, segName(12)), []byte("SLUICE"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Its predecessor is sealed now: the garbage after its last batch
	// would be damage, so put it in the last segment instead.
	damageFile(t, seg, func(b []byte) []byte { return b[:size] })
	damageFile(t, filepath.Join(dir, segName(12)), func(b []byte) []byte { return b })
	var ev events
	s, err := Open(dir, Options{Report: ev.report})
	if err != nil {
		t.Fatal(err)
	}
	rec := ev.of(EventSegmentRecreated)
	if len(rec) != 1 || rec[0].Segment != filepath.Join(dir, segName(12)) || rec[0].Offset != 12 || rec[0].Bytes != 6 {
		t.Fatalf("recreated segment reported as %+v", ev.evs)
	}
	if _, err := s.Append(5000, entries("c", 2)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	last := filepath.Join(dir, segName(12))
	st, _ = os.Stat(last)
	damageFile(t, last, func(b []byte) []byte { return append(b, 1, 2, 3, 4, 5) })
	ev = events{}
	s, err = Open(dir, Options{Report: ev.report})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cut := ev.of(EventTailCut)
	if len(cut) != 1 || cut[0].Segment != last || cut[0].FilePos != st.Size() || cut[0].Offset != 14 || cut[0].Bytes != 5 {
		t.Fatalf("tail cut reported as %+v, want %s at %d, offset 14, 5 bytes", ev.evs, last, st.Size())
	}
	if s.Next() != 14 || len(s.Damage()) != 0 {
		t.Fatalf("next %d damage %v", s.Next(), s.Damage())
	}
}

// TestClosedShardDamagedEndIsDamage: the last segment of a closed shard
// that lost its end (or whose last batch fails its checksum) is not cut:
// reads return the records before the damage and then a DamageError naming
// it; the file is untouched; Repair with skip lets reads reach the shard's
// end, with salvage keeps the records it can.
func TestClosedShardDamagedEndIsDamage(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func([]byte) []byte
		mode   RepairMode
		after  int // records readable after the repair
	}{
		{"truncated, skip", func(b []byte) []byte { return b[:len(b)-7] }, RepairSkip, 12},
		{"truncated, salvage", func(b []byte) []byte { return b[:len(b)-7] }, RepairSalvage, 12},
		{"bit flip, salvage", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }, RepairSalvage, 15},
		{"bit flip, skip", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }, RepairSkip, 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeShard(t, dir, 5, Options{})
			seg := filepath.Join(dir, segName(0))
			damageFile(t, seg, c.damage)
			before, _ := os.ReadFile(seg)
			var ev events
			opts := Options{Sealed: true, End: 15, Report: ev.report}
			s, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := os.ReadFile(seg); !bytes.Equal(before, after) {
				t.Fatal("recovery changed the closed shard's segment")
			}
			ds := s.Damage()
			if len(ds) != 1 || ds[0].Offset != 12 || ds[0].End != 15 || ds[0].Segment != seg {
				t.Fatalf("damage %+v, want offsets 12..14 of %s", ds, seg)
			}
			if d := ev.of(EventDamage); len(d) != 1 || d[0].Offset != 12 || d[0].FilePos != ds[0].FilePos {
				t.Fatalf("reported %+v", ev.evs)
			}
			recs, at, err := readUntil(s, 0)
			var de *DamageError
			if len(recs) != 12 || at != 12 || !errors.As(err, &de) || !errors.Is(err, ErrCorrupt) || de.Damage.Offset != 12 {
				t.Fatalf("read %d records, stopped at %d with %v", len(recs), at, err)
			}
			if _, _, err := readUntil(s, 13); !errors.As(err, &de) {
				t.Fatalf("a read inside the damage: %v", err)
			}
			evs, err := s.Repair(c.mode)
			if err != nil || len(evs) == 0 {
				t.Fatalf("repair: %v %v", evs, err)
			}
			check := func(s *Shard) {
				t.Helper()
				recs, at, err := readUntil(s, 0)
				if err != nil || len(recs) != c.after || (at != 15 && c.after < 15) {
					t.Fatalf("after repair: %d records, at %d, %v", len(recs), at, err)
				}
				for i, r := range recs {
					if r.Offset != uint64(i) {
						t.Fatalf("record %d has offset %d", i, r.Offset)
					}
				}
				if ds := s.Damage(); len(ds) != 0 {
					t.Fatalf("damage left: %v", ds)
				}
			}
			check(s)
			s.Close()
			s, err = Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			check(s)
			if ds, err := s.Verify(); err != nil || len(ds) != 0 {
				t.Fatalf("verify after repair: %v %v", ds, err)
			}
		})
	}
}

// TestSealedSegmentDamage: a batch of a sealed segment that fails its
// checksum is found by the read that reaches it (the records before it are
// returned first), reported once with its segment, position and offset,
// and listed by Damage; Verify finds where intact data resumes; salvage
// keeps its records, skip drops them and leaves the offsets after intact.
func TestSealedSegmentDamage(t *testing.T) {
	for _, mode := range []RepairMode{RepairSalvage, RepairSkip} {
		dir := t.TempDir()
		opts := Options{SegmentBytes: 4 << 10, IndexInterval: 256}
		writeShard(t, dir, 40, opts)
		seg := filepath.Join(dir, segName(0))
		var batchPos int64
		damageFile(t, seg, func(b []byte) []byte {
			// The fourth batch: offsets 9..11; flip a byte of its data.
			p := int64(segHeaderSize)
			for i := 0; i < 3; i++ {
				p += 8 + int64(uint32(b[p])|uint32(b[p+1])<<8|uint32(b[p+2])<<16|uint32(b[p+3])<<24)
			}
			batchPos = p
			b[p+60] ^= 0x10
			return b
		})
		var ev events
		opts.Report = ev.report
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Damage()) != 0 {
			t.Fatalf("damage before any read: %v", s.Damage())
		}
		for range 2 {
			recs, at, err := readUntil(s, 0)
			var de *DamageError
			if len(recs) != 9 || at != 9 || !errors.As(err, &de) || de.Damage.Offset != 9 || de.Damage.FilePos != batchPos || de.Damage.Segment != seg {
				t.Fatalf("read %d records, stopped at %d: %v (want offset 9 at %s position %d)", len(recs), at, err, seg, batchPos)
			}
		}
		if d := ev.of(EventDamage); len(d) != 1 || d[0].Offset != 9 || d[0].FilePos != batchPos {
			t.Fatalf("reported %+v, want the damage once", ev.evs)
		}
		ds, err := s.Verify()
		if err != nil || len(ds) != 1 || ds[0].Offset != 9 || ds[0].End != 12 {
			t.Fatalf("verify: %+v %v", ds, err)
		}
		if _, err := s.Repair(mode); err != nil {
			t.Fatal(err)
		}
		recs, _, err := readUntil(s, 0)
		want := 120
		if mode == RepairSkip {
			want = 117
		}
		if err != nil || len(recs) != want {
			t.Fatalf("mode %d: %d records after repair, %v; want %d", mode, len(recs), err, want)
		}
		if mode == RepairSkip && (recs[8].Offset != 8 || recs[9].Offset != 12) {
			t.Fatalf("skip: offsets %d, %d around the gap", recs[8].Offset, recs[9].Offset)
		}
		if off, err := s.Append(1, entries("after", 1)); err != nil || off != 120 {
			t.Fatalf("append after repair: %d %v", off, err)
		}
		s.Close()
		if s, err = Open(dir, opts); err != nil {
			t.Fatal(err)
		}
		if recs, _, err := readUntil(s, 0); err != nil || len(recs) != want+1 {
			t.Fatalf("after reopen: %d %v", len(recs), err)
		}
		s.Close()
	}
}

// TestSealedSegmentBadLengthIsDamage: a sealed segment whose batch length
// is damaged opens (it used to fail the whole log) with the damage up to
// the next segment named; reads from the next segment on work; skip
// repairs it.
func TestSealedSegmentBadLengthIsDamage(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10}
	writeShard(t, dir, 40, opts)
	seg := filepath.Join(dir, segName(0))
	damageFile(t, seg, func(b []byte) []byte { b[segHeaderSize+2] ^= 0x40; return b })
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ds := s.Damage()
	if len(ds) != 1 || ds[0].Offset != 0 || ds[0].End == 0 || ds[0].FilePos != segHeaderSize {
		t.Fatalf("damage %+v", ds)
	}
	next := ds[0].End
	if _, _, err := readUntil(s, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read at the damage: %v", err)
	}
	if recs, _, err := readUntil(s, next); err != nil || len(recs) != int(120-next) {
		t.Fatalf("read after the damaged segment: %d %v", len(recs), err)
	}
	// Salvage cannot frame a batch with a bad length: it skips.
	evs, err := s.Repair(RepairSalvage)
	if err != nil || len(evs) == 0 {
		t.Fatalf("repair: %v %v", evs, err)
	}
	recs, _, err := readUntil(s, 0)
	if err != nil || len(recs) < int(120-next) || recs[0].Offset == 0 {
		t.Fatalf("after repair: %d records, %v", len(recs), err)
	}
	s.Close()
}

// TestTrimKeepsDamagedSegments: retention does not delete a segment with
// damage in it (its damaged records' times are unknown); once repaired, it
// expires as any other.
func TestTrimKeepsDamagedSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10}
	writeShard(t, dir, 40, opts)
	damageFile(t, filepath.Join(dir, segName(0)), func(b []byte) []byte { b[segHeaderSize+2] ^= 0x40; return b })
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	segs := s.Segments()
	if n, err := s.Trim(1 << 40); err != nil || n != 0 || s.First() != 0 {
		t.Fatalf("trim deleted %d segments of %d (%v) with the first damaged", n, segs, err)
	}
	if _, err := s.Repair(RepairSkip); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Trim(1 << 40); err != nil || n != segs {
		t.Fatalf("after repair trim deleted %d of %d: %v", n, segs, err)
	}
}

// TestDamagedSegmentHeader: a sealed segment whose header is damaged is
// damage over its whole range (the log still opens); repair rewrites the
// header from what is known (its name), and its records read again.
func TestDamagedSegmentHeader(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10}
	writeShard(t, dir, 40, opts)
	damageFile(t, filepath.Join(dir, segName(0)), func(b []byte) []byte { b[3] ^= 1; return b })
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ds, err := s.Verify()
	if err != nil || len(ds) != 1 || ds[0].FilePos != 0 || ds[0].Offset != 0 || ds[0].End == 0 {
		t.Fatalf("verify: %+v %v", ds, err)
	}
	if _, _, err := readUntil(s, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read: %v", err)
	}
	if _, err := s.Repair(RepairSkip); err != nil {
		t.Fatal(err)
	}
	if recs, _, err := readUntil(s, 0); err != nil || len(recs) != 120 {
		t.Fatalf("after repair: %d records, %v", len(recs), err)
	}
}

// TestDamagedActiveSegmentHeader: the active segment of an open shard
// with a damaged header (not a crash's empty one): appends are refused
// (where its records end is unknown) until repair, then go on after its
// records.
func TestDamagedActiveSegmentHeader(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, dir, 5, Options{})
	damageFile(t, filepath.Join(dir, segName(0)), func(b []byte) []byte { b[0] = 'X'; return b })
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(1, entries("x", 1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("append into a segment with a damaged header: %v", err)
	}
	if _, err := s.Repair(RepairSalvage); err != nil {
		t.Fatal(err)
	}
	if off, err := s.Append(1, entries("x", 1)); err != nil || off != 15 {
		t.Fatalf("append after repair: %d %v", off, err)
	}
	if recs, _, err := readUntil(s, 0); err != nil || len(recs) != 16 {
		t.Fatalf("after repair: %d records, %v", len(recs), err)
	}
}
