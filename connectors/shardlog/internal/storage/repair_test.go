package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
)

// TestRandomDamageRepairs damages a shard at random — bytes flipped in
// sealed segments (headers included), sealed segments cut short, and for a
// closed shard its last segment too — and checks: the shard opens; every
// read ends cleanly or in a DamageError; Repair converges; then every
// record reads in offset order, with skip each one exactly as written, the
// shard's next offset (or a closed shard's end) is where it was, and a
// reopen finds no damage.
func TestRandomDamageRepairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	const batches, per = 60, 3
	for iter := 0; iter < 40; iter++ {
		sealed := iter%2 == 1
		mode := RepairSkip
		if iter%4 >= 2 {
			mode = RepairSalvage
		}
		dir := t.TempDir()
		opts := Options{SegmentBytes: 4 << 10, IndexInterval: 256}
		want := map[uint64]string{}
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < batches; b++ {
			es := make([]Entry, per)
			for j := range es {
				es[j] = Entry{Key: []byte(fmt.Sprint(j)), Data: []byte(fmt.Sprintf("%d/%d %x", b, j, rng.Uint64()))}
			}
			base, err := s.Append(int64(1000+b), es)
			if err != nil {
				t.Fatal(err)
			}
			for j, e := range es {
				want[base+uint64(j)] = string(e.Data)
			}
		}
		s.Close()
		names, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
		sort.Strings(names)
		damageable := names[:len(names)-1]
		if sealed {
			damageable = names
			opts.Sealed, opts.End = true, batches*per
		}
		what := ""
		for k := 1 + rng.IntN(3); k > 0; k-- {
			p := damageable[rng.IntN(len(damageable))]
			b, _ := os.ReadFile(p)
			switch rng.IntN(3) {
			case 0, 1:
				i := rng.IntN(len(b))
				b[i] ^= byte(1 << rng.IntN(8))
				what += fmt.Sprintf(" flip %s@%d", filepath.Base(p), i)
			case 2:
				n := segHeaderSize + rng.IntN(len(b)-segHeaderSize)
				b = b[:n]
				what += fmt.Sprintf(" cut %s@%d", filepath.Base(p), n)
			}
			os.WriteFile(p, b, 0o644)
		}
		t.Logf("iteration %d (sealed %v, mode %d):%s", iter, sealed, mode, what)

		s, err = Open(dir, opts)
		if err != nil {
			t.Fatalf("iteration %d:%s: open: %v", iter, what, err)
		}
		for _, from := range []uint64{0, uint64(rng.IntN(batches * per))} {
			if _, _, err := readUntil(s, from); err != nil {
				var de *DamageError
				if !errors.As(err, &de) {
					t.Fatalf("iteration %d:%s: a read failed with %v, not a DamageError", iter, what, err)
				}
			}
		}
		if _, err := s.Repair(mode); err != nil {
			t.Fatalf("iteration %d:%s: repair: %v", iter, what, err)
		}
		check := func(s *Shard) {
			t.Helper()
			recs, at, err := readUntil(s, 0)
			if err != nil {
				t.Fatalf("iteration %d:%s: read after repair: %v", iter, what, err)
			}
			if at != batches*per || (!sealed && s.Next() != batches*per) {
				t.Fatalf("iteration %d:%s: reads end at %d, next %d; want %d", iter, what, at, s.Next(), batches*per)
			}
			for i, r := range recs {
				if i > 0 && r.Offset <= recs[i-1].Offset {
					t.Fatalf("iteration %d:%s: offsets out of order: %d after %d", iter, what, r.Offset, recs[i-1].Offset)
				}
				if w, ok := want[r.Offset]; !ok || (mode == RepairSkip && w != string(r.Data)) {
					t.Fatalf("iteration %d:%s: offset %d reads %q, was written %q", iter, what, r.Offset, r.Data, w)
				}
			}
		}
		check(s)
		s.Close()
		if s, err = Open(dir, opts); err != nil {
			t.Fatalf("iteration %d:%s: reopen: %v", iter, what, err)
		}
		check(s)
		if ds, err := s.Verify(); err != nil || len(ds) != 0 {
			t.Fatalf("iteration %d:%s: damage after repair: %v %v", iter, what, ds, err)
		}
		if !sealed {
			if off, err := s.Append(1, []Entry{{Data: []byte("x")}}); err != nil || off != batches*per {
				t.Fatalf("iteration %d:%s: append after repair: %d %v", iter, what, off, err)
			}
		}
		s.Close()
	}
}
