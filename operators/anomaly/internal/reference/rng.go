package reference

import "math"

// splitMix64 is the pseudo-random generator behind every random choice in
// this package (reservoir priorities, random cuts). It is ours rather than
// math/rand's so that its sequence, and therefore every score, is fixed by
// this package's code alone: a snapshot taken with one Go release restores
// to the same future under another. Its whole state is one word, which makes
// it trivial to checkpoint.
//
// SplitMix64 (Steele, Lea, Flood 2014) passes BigCrush and is what
// xoshiro's authors recommend for seeding; one generator per tree and per
// sampler keeps the trees' streams independent of each other.
type splitMix64 struct{ state uint64 }

func (r *splitMix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float64 returns a uniform value in [0, 1).
func (r *splitMix64) float64() float64 {
	return float64(r.next()>>11) * 0x1p-53
}

// openFloat64 returns a uniform value in (0, 1): never 0, so that its
// logarithm is finite.
func (r *splitMix64) openFloat64() float64 {
	return (float64(r.next()>>11) + 0.5) * 0x1p-53
}

// deriveSeed mixes a parent seed with a stream number so that sub-generators
// (per tree, per sampler, per key) get unrelated sequences.
func deriveSeed(seed uint64, stream uint64) uint64 {
	r := splitMix64{state: seed ^ (stream * 0xd1b54a32d192ed03)}
	r.next()
	return r.next()
}

// log2 is computed as AWS's library does, log(x)/log(2), so that the
// normaliser and scoreSeen agree with it to the last bit where the inputs do.
func log2(x float64) float64 { return math.Log(x) / math.Log(2) }
