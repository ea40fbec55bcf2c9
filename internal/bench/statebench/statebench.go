// Package statebench holds the workloads of the keyed-state benchmarks
// (`sluice bench state` and the Benchmark functions of package state), each
// beside the hand-written baseline it is compared with, so that both run
// side by side in one process, and `sluice bench state` itself (Run).
//
// Nothing here is safe for concurrent use; each workload runs on the
// calling goroutine (Pebble adds its own background goroutines).
package statebench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluicehq/sluice/state"
)

// OperatorID and StateName name the benchmark's value state.
const (
	OperatorID = "bench"
	StateName  = "count"
)

// Distribution is a key distribution for KeySequence.
type Distribution string

// The key distributions.
const (
	// Uniform draws every key with equal probability.
	Uniform Distribution = "uniform"
	// Skewed draws keys from a Zipf distribution (s = 1.01): a few hot keys
	// take most updates, as user or device ids do in practice. Over 2 M
	// keys, 2 M draws touch about 450 000 distinct keys, the 262 144
	// hottest taking about 85% of the updates.
	Skewed Distribution = "skewed"
)

// KeySequence returns n keys drawn from keys distinct keys with the given
// distribution, deterministically from seed. Ranks are scrambled by a
// bijective mix, so that hot keys spread over key groups.
func KeySequence(d Distribution, keys uint64, n int, seed uint64) ([]int64, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	seq := make([]int64, n)
	switch d {
	case Uniform:
		for i := range seq {
			seq[i] = int64(mix(rng.Uint64N(keys)))
		}
	case Skewed:
		z := rand.NewZipf(rng, 1.01, 1, keys-1)
		for i := range seq {
			seq[i] = int64(mix(z.Uint64()))
		}
	default:
		return nil, fmt.Errorf("statebench: unknown distribution %q", d)
	}
	return seq, nil
}

// mix is MurmurHash3's 64-bit finaliser, a bijection.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// BackendRMW runs a keyed count through a Backend over s: for each key of
// seq, set it as the current key, read its ValueState[int64] and write the
// value plus one, as a keyed operator does; then Flush. cacheEntries 0 is
// the Backend's default. It returns the sum of the counts written, to check
// against CountBaseline.
func BackendRMW(s state.Store, seq []int64, cacheEntries int) (int64, error) {
	b, err := state.NewBackend(s, state.Options{OperatorID: OperatorID, CacheEntries: cacheEntries})
	if err != nil {
		return 0, err
	}
	vs, err := state.NewValueState(b, StateName, state.MustCodecFor[int64]())
	if err != nil {
		return 0, err
	}
	codec := state.MustCodecFor[int64]()
	hash := state.KeyHasher(codec)
	maxP := b.Options().MaxParallelism
	var kb []byte
	var sum int64
	for _, k := range seq {
		kb = codec.Append(kb[:0], k)
		b.SetCurrentKey(state.KeyGroupForHash(hash(k), maxP), kb)
		v, _, err := vs.Value()
		if err != nil {
			return 0, err
		}
		if err := vs.Update(v + 1); err != nil {
			return 0, err
		}
		sum += v + 1
	}
	return sum, b.Flush()
}

// CountBaseline computes BackendRMW's result with a Go map.
func CountBaseline(seq []int64) int64 {
	m := make(map[int64]int64)
	var sum int64
	for _, k := range seq {
		m[k]++
		sum += m[k]
	}
	return sum
}

// StoreKey appends the store key that BackendRMW's state uses for key k:
// kg(2) | uvarint(len op) op | uvarint(len name) name | uvarint(8) key(8) |
// uvarint(0), the layout documented in package state.
func StoreKey(dst []byte, k int64, maxP int) []byte {
	codec := state.MustCodecFor[int64]()
	kg := state.KeyGroupForHash(hasher(k), maxP)
	dst = binary.BigEndian.AppendUint16(dst, uint16(kg))
	dst = binary.AppendUvarint(dst, uint64(len(OperatorID)))
	dst = append(dst, OperatorID...)
	dst = binary.AppendUvarint(dst, uint64(len(StateName)))
	dst = append(dst, StateName...)
	dst = binary.AppendUvarint(dst, 8)
	dst = codec.Append(dst, k)
	return binary.AppendUvarint(dst, 0)
}

var hasher = state.KeyHasher(state.MustCodecFor[int64]())

// RawPebble is the baseline of BackendRMW: a Pebble database written
// directly with unindexed batches, no reads, no cache.
type RawPebble struct {
	DB    *pebble.DB
	batch int
}

// OpenRawPebble opens a Pebble database in dir with the options a
// PebbleStore with opts would use.
func OpenRawPebble(dir string, opts state.PebbleOptions) (*RawPebble, error) {
	opts.EnsureDefaults()
	db, err := pebble.Open(dir, opts.Pebble())
	if err != nil {
		return nil, fmt.Errorf("statebench: %w", err)
	}
	return &RawPebble{DB: db, batch: opts.BatchBytes}, nil
}

// Write sets the store key of each key of seq to an 8-byte value in
// batches of the PebbleStore's batch size, committed without sync: the
// writes a keyed count would make with no state layer at all.
func (r *RawPebble) Write(seq []int64) error {
	b := r.DB.NewBatch()
	defer b.Close()
	var key, val []byte
	for i, k := range seq {
		key = StoreKey(key[:0], k, state.DefaultMaxParallelism)
		val = binary.BigEndian.AppendUint64(val[:0], uint64(i))
		if err := b.Set(key, val, nil); err != nil {
			return err
		}
		if b.Len() >= r.batch {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b.Reset()
		}
	}
	return b.Commit(pebble.NoSync)
}

// Close closes the database.
func (r *RawPebble) Close() error { return r.DB.Close() }

// Fill writes about total bytes of state into s: keys spread over all key
// groups, with incompressible values of valueSize bytes, then flushes. It
// returns the number of keys written.
func Fill(s state.Store, total int64, valueSize int, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	val := make([]byte, valueSize)
	var key []byte
	n := total / int64(valueSize+16)
	for i := int64(0); i < n; i++ {
		for j := 0; j+8 <= len(val); j += 8 {
			binary.LittleEndian.PutUint64(val[j:], rng.Uint64())
		}
		key = fillKey(key[:0], i)
		if err := s.Set(key, val); err != nil {
			return i, err
		}
	}
	return n, s.Flush()
}

func fillKey(dst []byte, i int64) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(mix(uint64(i))%state.DefaultMaxParallelism))
	dst = append(dst, "fill"...)
	return binary.BigEndian.AppendUint64(dst, uint64(i))
}

// Update overwrites about total bytes of the keys Fill wrote (n of them),
// then flushes: the writes between two checkpoints.
func Update(s state.Store, n, total int64, valueSize int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 2))
	val := make([]byte, valueSize)
	var key []byte
	for w := int64(0); w < total; w += int64(valueSize + 16) {
		for j := 0; j+8 <= len(val); j += 8 {
			binary.LittleEndian.PutUint64(val[j:], rng.Uint64())
		}
		key = fillKey(key[:0], rng.Int64N(n))
		if err := s.Set(key, val); err != nil {
			return err
		}
	}
	return s.Flush()
}

// SnapshotResult is one timed snapshot.
type SnapshotResult struct {
	Pause time.Duration // the synchronous part: Snapshot()
	Write time.Duration // the write function
	Files int
	Bytes int64 // the snapshot's files' total size
}

// TimeSnapshot snapshots s into dir and times both parts.
func TimeSnapshot(s state.Store, dir string) (SnapshotResult, error) {
	sn, _, err := state.SnapshotterFor(s)
	if err != nil {
		return SnapshotResult{}, err
	}
	if err := s.Flush(); err != nil {
		return SnapshotResult{}, err
	}
	t0 := time.Now()
	write, err := sn.Snapshot()
	pause := time.Since(t0)
	if err != nil {
		return SnapshotResult{}, err
	}
	t1 := time.Now()
	files, err := write(dir)
	if err != nil {
		return SnapshotResult{}, err
	}
	r := SnapshotResult{Pause: pause, Write: time.Since(t1), Files: len(files)}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			r.Bytes += fi.Size()
		}
	}
	return r, nil
}

// DistinctKeys pushes n distinct keys through a Backend over s (default
// cache), one ValueState update each, flushing every flushEvery keys as
// checkpoints would.
func DistinctKeys(s state.Store, n, flushEvery int64) error {
	b, err := state.NewBackend(s, state.Options{OperatorID: OperatorID})
	if err != nil {
		return err
	}
	vs, err := state.NewValueState(b, StateName, state.MustCodecFor[int64]())
	if err != nil {
		return err
	}
	codec := state.MustCodecFor[int64]()
	var kb []byte
	for i := int64(0); i < n; i++ {
		k := int64(mix(uint64(i)))
		kb = codec.Append(kb[:0], k)
		b.SetCurrentKey(state.KeyGroupForHash(hasher(k), state.DefaultMaxParallelism), kb)
		if err := vs.Update(i); err != nil {
			return err
		}
		if flushEvery > 0 && (i+1)%flushEvery == 0 {
			if err := b.Flush(); err != nil {
				return err
			}
		}
	}
	return b.Flush()
}

// DirSize returns the total size of the regular files under dir.
func DirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
