package state

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// DefaultMaxParallelism is the default number of key groups of a job.
const DefaultMaxParallelism = 128

// MaxMaxParallelism bounds the number of key groups; a key group number
// takes two bytes in the state key layout.
const MaxMaxParallelism = 1 << 15

// KeyGroupRange is the inclusive range [Start, End] of key groups owned by one
// subtask. An empty range has End < Start.
type KeyGroupRange struct {
	Start, End int
}

// Contains reports whether kg is in the range.
func (r KeyGroupRange) Contains(kg int) bool { return kg >= r.Start && kg <= r.End }

// Len returns the number of key groups in the range.
func (r KeyGroupRange) Len() int { return max(0, r.End-r.Start+1) }

// Intersect returns the key groups in both ranges.
func (r KeyGroupRange) Intersect(o KeyGroupRange) KeyGroupRange {
	return KeyGroupRange{Start: max(r.Start, o.Start), End: min(r.End, o.End)}
}

func (r KeyGroupRange) String() string { return fmt.Sprintf("[%d,%d]", r.Start, r.End) }

// KeyGroupRangeFor returns the key groups owned by subtask index of
// parallelism, out of maxParallelism key groups. The ranges of all subtasks
// partition [0, maxParallelism) into contiguous, nearly equal parts, so that a
// restore at another parallelism reads each old subtask's state by ranges.
func KeyGroupRangeFor(maxParallelism, parallelism, index int) KeyGroupRange {
	start := (index*maxParallelism + parallelism - 1) / parallelism
	end := ((index+1)*maxParallelism - 1) / parallelism
	return KeyGroupRange{Start: start, End: end}
}

// SubtaskForKeyGroup returns the subtask index, of parallelism, that owns key
// group kg. It is consistent with KeyGroupRangeFor.
func SubtaskForKeyGroup(maxParallelism, parallelism, kg int) int {
	return kg * parallelism / maxParallelism
}

// KeyGroupForHash maps a key hash to a key group.
func KeyGroupForHash(hash uint64, maxParallelism int) int {
	return int(hash % uint64(maxParallelism))
}

// KeyHasher returns the hash function for keys of type K that decides their
// key groups. It is part of the persistent format: the same key must land in
// the same key group in every version of Sluice, or restored state would be
// looked for in the wrong place. Strings and byte slices hash their bytes with
// xxhash64; integers are mixed with the 64-bit finaliser of MurmurHash3 (so
// consecutive ids spread evenly); other types hash their codec encoding with
// xxhash64.
func KeyHasher[K any](codec Codec[K]) func(K) uint64 {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return func(k K) uint64 { return xxhash.Sum64String(*(*string)(unsafe.Pointer(&k))) }
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return func(k K) uint64 { return fmix64(*(*uint64)(unsafe.Pointer(&k))) }
	case reflect.Int32, reflect.Uint32:
		return func(k K) uint64 { return fmix64(uint64(*(*uint32)(unsafe.Pointer(&k)))) }
	case reflect.Int16, reflect.Uint16:
		return func(k K) uint64 { return fmix64(uint64(*(*uint16)(unsafe.Pointer(&k)))) }
	case reflect.Int8, reflect.Uint8, reflect.Bool:
		return func(k K) uint64 { return fmix64(uint64(*(*uint8)(unsafe.Pointer(&k)))) }
	}
	var scratch []byte // KeyHasher's functions are used by one goroutine each
	return func(k K) uint64 {
		scratch = codec.Append(scratch[:0], k)
		return xxhash.Sum64(scratch)
	}
}

// fmix64 is MurmurHash3's 64-bit finaliser: a bijective mix with good
// avalanche behaviour.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
