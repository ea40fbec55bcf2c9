package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func entries(prefix string, n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Key: []byte(fmt.Sprintf("k%d", i)), Data: []byte(fmt.Sprintf("%s-%d-%s", prefix, i, strings.Repeat("p", 40)))}
	}
	return es
}

func readAll(t *testing.T, s *Shard, from uint64, minTs int64) []Record {
	t.Helper()
	var out []Record
	var rb ReadBuf
	for {
		next, err := s.Read(from, 7, 1<<20, minTs, &rb)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rb.Records {
			r.Key = bytes.Clone(r.Key)
			r.Data = bytes.Clone(r.Data)
			out = append(out, r)
		}
		if next == from {
			return out
		}
		from = next
	}
}

func TestAppendReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 4 << 10, IndexInterval: 256})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for b := 0; b < 60; b++ {
		es := entries(fmt.Sprintf("b%d", b), 1+b%5)
		base, err := s.Append(int64(1000+b), es)
		if err != nil {
			t.Fatal(err)
		}
		if base != uint64(len(want)) {
			t.Fatalf("batch %d base %d, want %d", b, base, len(want))
		}
		for _, e := range es {
			want = append(want, string(e.Data))
		}
	}
	if s.Segments() < 3 {
		t.Fatalf("expected several segments, got %d", s.Segments())
	}
	check := func(s *Shard) {
		got := readAll(t, s, 0, 0)
		if len(got) != len(want) {
			t.Fatalf("read %d records, want %d", len(got), len(want))
		}
		for i, r := range got {
			if r.Offset != uint64(i) || string(r.Data) != want[i] {
				t.Fatalf("record %d: offset %d data %q, want %q", i, r.Offset, r.Data, want[i])
			}
		}
		// Reads from every offset start exactly there.
		for from := uint64(0); from < uint64(len(want)); from += 13 {
			var rb ReadBuf
			if _, err := s.Read(from, 1, 1<<20, 0, &rb); err != nil || len(rb.Records) != 1 || rb.Records[0].Offset != from {
				t.Fatalf("read at %d: %v %+v", from, err, rb.Records)
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{SegmentBytes: 4 << 10, IndexInterval: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2)
	if s2.Next() != uint64(len(want)) {
		t.Fatalf("next after reopen %d, want %d", s2.Next(), len(want))
	}
}

func TestReadLimits(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := bytes.Repeat([]byte("x"), 1000)
	for i := 0; i < 10; i++ {
		if _, err := s.Append(1, []Entry{{Key: []byte("k"), Data: big}, {Key: []byte("k"), Data: big}}); err != nil {
			t.Fatal(err)
		}
	}
	var rb ReadBuf
	next, err := s.Read(0, 100, 3500, 0, &rb)
	if err != nil {
		t.Fatal(err)
	}
	if len(rb.Records) != 3 || next != 3 || rb.Bytes != 3003 {
		t.Fatalf("byte limit: %d records, next %d, bytes %d", len(rb.Records), next, rb.Bytes)
	}
	// A single record larger than maxBytes is still returned.
	if _, err := s.Read(0, 100, 10, 0, &rb); err != nil || len(rb.Records) != 1 {
		t.Fatalf("oversize single record: %v %d", err, len(rb.Records))
	}
	next, _ = s.Read(5, 4, 1<<20, 0, &rb)
	if len(rb.Records) != 4 || next != 9 || rb.Records[0].Offset != 5 {
		t.Fatalf("record limit: %d records next %d", len(rb.Records), next)
	}
	// Reading at the end returns nothing and the same offset.
	if next, _ := s.Read(20, 4, 1<<20, 0, &rb); next != 20 || len(rb.Records) != 0 {
		t.Fatalf("read at end: next %d, %d records", next, len(rb.Records))
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	const writers, per = 8, 50
	var wg sync.WaitGroup
	bases := make([][]uint64, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				b, err := s.Append(int64(i), []Entry{{Key: []byte{byte(w)}, Data: []byte(fmt.Sprintf("%d/%d", w, i))}})
				if err != nil {
					t.Error(err)
					return
				}
				bases[w] = append(bases[w], b)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for w := range bases {
		for i := 1; i < len(bases[w]); i++ {
			if bases[w][i] <= bases[w][i-1] {
				t.Fatalf("writer %d offsets not increasing", w)
			}
		}
		for _, b := range bases[w] {
			if seen[b] {
				t.Fatalf("offset %d given twice", b)
			}
			seen[b] = true
		}
	}
	s.Close()
	s2, err := Open(dir, Options{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := readAll(t, s2, 0, 0)
	if len(got) != writers*per {
		t.Fatalf("got %d records after reopen, want %d", len(got), writers*per)
	}
	// Arrival times never decrease within the shard.
	for i := 1; i < len(got); i++ {
		if got[i].Timestamp < got[i-1].Timestamp {
			t.Fatalf("timestamp went back at %d", i)
		}
	}
}

// TestRecoveryTornTail cuts the last segment at every length inside its last
// batches and appends garbage: recovery must keep every whole batch and
// drop the rest, and appends must continue at the right offset.
func TestRecoveryTornTail(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	s, err := Open(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for b := 0; b < 5; b++ {
		if _, err := s.Append(int64(b), entries(fmt.Sprint(b), 3)); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(src, segName(0)))
		sizes = append(sizes, st.Size())
	}
	s.Close()
	full, err := os.ReadFile(filepath.Join(src, segName(0)))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for cut := sizes[2] - 5; cut <= int64(len(full)); cut += 3 {
		for _, garbage := range [][]byte{nil, {0xff, 0xff, 0xff, 0xff, 1, 2, 3}, randBytes(rng, 50)} {
			dir := filepath.Join(base, fmt.Sprintf("c%d-%d", cut, len(garbage)))
			os.MkdirAll(dir, 0o755)
			data := append(append([]byte(nil), full[:cut]...), garbage...)
			os.WriteFile(filepath.Join(dir, segName(0)), data, 0o644)
			r, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			wantBatches := 0
			for _, sz := range sizes {
				if sz <= cut {
					wantBatches++
				}
			}
			if r.Next() != uint64(3*wantBatches) {
				t.Fatalf("cut %d garbage %d: next %d, want %d", cut, len(garbage), r.Next(), 3*wantBatches)
			}
			if got := readAll(t, r, 0, 0); len(got) != 3*wantBatches {
				t.Fatalf("cut %d: read %d", cut, len(got))
			}
			if off, err := r.Append(99, entries("after", 2)); err != nil || off != uint64(3*wantBatches) {
				t.Fatalf("append after recovery: %d %v", off, err)
			}
			r.Close()
			os.RemoveAll(dir)
		}
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

func TestReadDetectsChecksumMismatch(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{})
	s.Append(1, entries("x", 3))
	s.Close()
	p := filepath.Join(dir, segName(0))
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	// Recovery cuts the bad (last) batch.
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Next() != 0 {
		t.Fatalf("bad batch kept: next %d", s.Next())
	}
}

func TestSeekTimeAndTrim(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10, IndexInterval: 128}
	s, _ := Open(dir, opts)
	for ts := int64(0); ts < 100; ts++ {
		if _, err := s.Append(ts*10, entries("t", 4)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		ts   int64
		want uint64
	}{{0, 0}, {-5, 0}, {10, 4}, {11, 8}, {555, 224}, {990, 396}, {991, 400}, {5000, 400}} {
		got, err := s.SeekTime(c.ts)
		if err != nil || got != c.want {
			t.Fatalf("SeekTime(%d) = %d, %v; want %d", c.ts, got, err, c.want)
		}
	}
	// minTs filters records of older batches.
	got := readAll(t, s, 0, 500)
	if len(got) != 200 || got[0].Offset != 200 {
		t.Fatalf("minTs read: %d records from %d", len(got), got[0].Offset)
	}
	segs := s.Segments()
	n, err := s.Trim(500)
	if err != nil || n == 0 || s.Segments() != segs-n {
		t.Fatalf("trim: %d %v", n, err)
	}
	if s.First() > 200 {
		t.Fatalf("trim removed a live record: first %d", s.First())
	}
	// Trim everything: the next offset survives a restart.
	if _, err := s.Trim(1 << 40); err != nil {
		t.Fatal(err)
	}
	if s.Segments() != 1 || s.First() != 400 {
		t.Fatalf("after full trim: %d segments, first %d", s.Segments(), s.First())
	}
	s.Close()
	s, _ = Open(dir, opts)
	defer s.Close()
	if s.Next() != 400 {
		t.Fatalf("next after trim+reopen = %d", s.Next())
	}
	if off, _ := s.Append(2000, entries("z", 1)); off != 400 {
		t.Fatalf("append after trim at %d", off)
	}
	if got := readAll(t, s, 0, 0); len(got) != 1 || got[0].Offset != 400 {
		t.Fatalf("read after trim: %+v", got)
	}
}

func TestWait(t *testing.T) {
	s, _ := Open(t.TempDir(), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Wait(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on empty: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), 0) }()
	s.Append(1, entries("w", 1))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	go func() { done <- s.Wait(context.Background(), 5) }()
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("wait after close: %v", err)
	}
	if _, err := s.Append(1, entries("w", 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

func TestReadDoesNotAllocate(t *testing.T) {
	s, _ := Open(t.TempDir(), Options{Sync: SyncNone})
	defer s.Close()
	es := entries("a", 100)
	for i := 0; i < 20; i++ {
		s.Append(1, es)
	}
	var rb ReadBuf
	s.Read(0, 500, 1<<20, 0, &rb)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := s.Read(0, 500, 1<<20, 0, &rb); err != nil || len(rb.Records) != 500 {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("Read allocated %.1f times per call", allocs)
	}
	allocs = testing.AllocsPerRun(50, func() {
		if _, err := s.Append(1, es); err != nil {
			t.Fatal(err)
		}
	})
	// One allocation per commit is the broadcast channel that wakes
	// waiting readers; nothing is allocated per record.
	if allocs > 1 {
		t.Fatalf("Append allocated %.1f times per call", allocs)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{SegmentBytes: 10}); err == nil {
		t.Fatal("tiny SegmentBytes accepted")
	}
	if _, err := Open(t.TempDir(), Options{Sync: 7}); err == nil {
		t.Fatal("unknown sync mode accepted")
	}
}

func benchAppend(b *testing.B, sync SyncMode, batch int) {
	s, err := Open(b.TempDir(), Options{Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	es := make([]Entry, batch)
	for i := range es {
		es[i] = Entry{Key: []byte("partition-key"), Data: bytes.Repeat([]byte{'x'}, 100)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(int64(i), es); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*batch)/sec, "records/s")
	b.ReportMetric(float64(b.N*batch*100)/sec, "bytes/s")
}

func BenchmarkAppend500NoSync(b *testing.B) { benchAppend(b, SyncNone, 500) }
func BenchmarkAppend500Sync(b *testing.B)   { benchAppend(b, SyncAlways, 500) }

func BenchmarkRead(b *testing.B) {
	s, _ := Open(b.TempDir(), Options{Sync: SyncNone})
	defer s.Close()
	es := make([]Entry, 500)
	for i := range es {
		es[i] = Entry{Key: []byte("partition-key"), Data: bytes.Repeat([]byte{'x'}, 100)}
	}
	for i := 0; i < 200; i++ {
		s.Append(1, es)
	}
	var rb ReadBuf
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if _, err := s.Read(uint64(i%100)*1000, 1000, 10<<20, 0, &rb); err != nil {
			b.Fatal(err)
		}
		n += len(rb.Records)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "records/s")
	b.ReportMetric(float64(n*100)/sec, "bytes/s")
}
