package state_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/bench/statebench"
	"github.com/sluicehq/sluice/state"
)

// benchKeys is the number of distinct keys of the keyed benchmarks: four
// times the Backend's default cache.
const benchKeys = 1 << 20

func reportRate(b *testing.B, records, bytesPerRecord int) {
	s := b.Elapsed().Seconds()
	if s <= 0 {
		return
	}
	b.ReportMetric(float64(records)/s, "records/s")
	if bytesPerRecord > 0 {
		b.ReportMetric(float64(records*bytesPerRecord)/s, "bytes/s")
	}
}

// BenchmarkValueStateRMW is a keyed count through a Backend with its
// default cache (ValueState read, +1, write per record), on Pebble and on
// the in-memory store.
func BenchmarkValueStateRMW(b *testing.B) {
	for _, store := range []string{"pebble", "mem"} {
		for _, d := range []statebench.Distribution{statebench.Skewed, statebench.Uniform} {
			b.Run(fmt.Sprintf("%s/%s", store, d), func(b *testing.B) {
				seq, err := statebench.KeySequence(d, benchKeys, b.N, 1)
				if err != nil {
					b.Fatal(err)
				}
				var s state.Store = state.NewMemStore()
				if store == "pebble" {
					if s, err = state.OpenPebble(b.TempDir(), state.PebbleOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				defer s.Close()
				b.ResetTimer()
				if _, err := statebench.BackendRMW(s, seq, 0); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				reportRate(b, b.N, 16)
			})
		}
	}
}

// BenchmarkRawPebbleWrites is BenchmarkValueStateRMW's baseline: the same
// keys written straight into Pebble with batches, no reads.
func BenchmarkRawPebbleWrites(b *testing.B) {
	for _, d := range []statebench.Distribution{statebench.Skewed, statebench.Uniform} {
		b.Run(string(d), func(b *testing.B) {
			seq, err := statebench.KeySequence(d, benchKeys, b.N, 1)
			if err != nil {
				b.Fatal(err)
			}
			r, err := statebench.OpenRawPebble(b.TempDir(), state.PebbleOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.ResetTimer()
			if err := r.Write(seq); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			reportRate(b, b.N, 16)
		})
	}
}

// BenchmarkPebbleSnapshotPause times the synchronous part of a Pebble
// snapshot of 64 MiB of state after 8 MiB of updates (`sluice bench state
// --snapshot-bytes=1GiB` measures the headline figure).
func BenchmarkPebbleSnapshotPause(b *testing.B) {
	s, err := state.OpenPebble(filepath.Join(b.TempDir(), "s"), state.PebbleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const valueSize = 1000
	keys, err := statebench.Fill(s, 64<<20, valueSize, 1)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var pause time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := statebench.Update(s, keys, 8<<20, valueSize, uint64(i)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r, err := statebench.TimeSnapshot(s, filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			b.Fatal(err)
		}
		pause += r.Pause
	}
	b.StopTimer()
	b.ReportMetric(float64(pause.Microseconds())/1000/float64(b.N), "pause-ms/op")
}

// BenchmarkSnapshotFile writes and reads the portable snapshot file.
func BenchmarkSnapshotFile(b *testing.B) {
	m := state.NewMemStore()
	const n, valueSize = 100_000, 100
	if _, err := statebench.Fill(m, n*(valueSize+16), valueSize, 1); err != nil {
		b.Fatal(err)
	}
	all := state.KeyGroupRange{Start: 0, End: state.DefaultMaxParallelism - 1}
	dir := b.TempDir()
	var path string
	files := 0
	b.Run("write", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			files++
			path = filepath.Join(dir, fmt.Sprint(files))
			if _, err := state.WriteSnapshotFile(path, m, all); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N*m.Len(), valueSize+16)
	})
	b.Run("read", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := state.ReadSnapshotFile(path, all, func(k, v []byte) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N*m.Len(), valueSize+16)
	})
}

// BenchmarkStoreGet reads existing and missing keys from each store.
func BenchmarkStoreGet(b *testing.B) {
	for _, store := range []string{"pebble", "mem"} {
		for _, missing := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/missing=%v", store, missing), func(b *testing.B) {
				var s state.Store = state.NewMemStore()
				var err error
				if store == "pebble" {
					if s, err = state.OpenPebble(b.TempDir(), state.PebbleOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				defer s.Close()
				seq, _ := statebench.KeySequence(statebench.Uniform, benchKeys, benchKeys, 2)
				var key []byte
				for i, k := range seq {
					key = statebench.StoreKey(key[:0], k, state.DefaultMaxParallelism)
					if err := s.Set(key, []byte("12345678")); err != nil {
						b.Fatal(err)
					}
					if i%100_000 == 0 {
						_ = s.Flush()
					}
				}
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
				probe, _ := statebench.KeySequence(statebench.Uniform, benchKeys, b.N, 2)
				if missing {
					probe, _ = statebench.KeySequence(statebench.Uniform, 1<<62, b.N, 3)
				}
				b.ResetTimer()
				for _, k := range probe {
					key = statebench.StoreKey(key[:0], k, state.DefaultMaxParallelism)
					if _, _, err := s.Get(key); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				reportRate(b, b.N, 0)
			})
		}
	}
}
