package reference

import "math"

// sampler is one tree's time-decayed reservoir sample, as in AWS's
// CompactSampler and Guha et al.: point number t gets the priority
//
//	w = -lambda*t + log(-log u),  u uniform in (0, 1),
//
// and the sample is the capacity points with the smallest priorities seen
// so far. With lambda = 0 that is a uniform reservoir sample; with lambda > 0
// a point's chance of being in the sample decays like exp(-lambda*age).
// Until the sample is full every point is taken (as in the library KDA ran).
//
// The heap is a max-heap on w so that the point to evict is at the top.
// Priorities are stored relative to the forest's rebase point (see Forest):
// stored w = -lambda*(t-base) + log(-log u), which keeps exp of them finite
// over arbitrarily long streams.
type sampler struct {
	capacity int
	rng      splitMix64
	weight   []float64 // max-heap
	ref      []int32   // point-store slot of each sampled point
	// expMax caches exp(weight[0]), the admission bar; stale marks it for
	// recomputation at the next offer (the top changes twice per accepted
	// point, the bar is needed once).
	expMax float64
	stale  bool
}

func newSampler(capacity int, seed uint64) *sampler {
	return &sampler{
		capacity: capacity,
		rng:      splitMix64{state: seed},
		weight:   make([]float64, 0, capacity),
		ref:      make([]int32, 0, capacity),
	}
}

func (s *sampler) full() bool { return len(s.weight) >= s.capacity }

// decide takes u, this point's uniform draw from the sampler's generator
// (rng.openFloat64), and decides whether the point enters the sample.
// decayed is lambda*(t-base) and growth is exp(decayed) (the same for every
// tree, so the forest computes it once per record). When it returns true
// the caller must add the point with the returned priority: with
// replaceTop, evicting the top, if the sample is full, else with push.
//
// The test w < top is rewritten so that the common case, a rejection, costs
// one comparison instead of two logarithms: with E = -log u,
//
//	w < top  <=>  log E < top + decayed  <=>  E < X := exp(top)*growth
//	         <=>  u > exp(-X),
//
// and since exp(-X) >= 1-X, any u <= 1-X is rejected without a logarithm.
func (s *sampler) decide(u, decayed, growth float64) (float64, bool) {
	if !s.full() {
		return math.Log(-math.Log(u)) - decayed, true
	}
	if s.stale {
		s.expMax = math.Exp(s.weight[0])
		s.stale = false
	}
	x := s.expMax * growth
	if x < 1 && u <= 1-x {
		return 0, false
	}
	e := -math.Log(u)
	if !(e < x) {
		return 0, false
	}
	return math.Log(e) - decayed, true
}

// rejects reports whether decide would reject u by its first test, when the
// admission bar is current. It is small enough to inline, so that the
// forest's loop over its samplers, which mostly rejects, makes no call for a
// rejection.
func (s *sampler) rejects(u, growth float64) bool {
	if s.stale || !s.full() {
		return false
	}
	x := s.expMax * growth
	return x < 1 && u <= 1-x
}

// top is the point slot of the highest priority, the one to evict.
func (s *sampler) top() int32 { return s.ref[0] }

// replaceTop evicts the top and adds a point with priority w in one pass
// down the heap (removing the top and then pushing would sift twice); the
// sample that results is the same.
func (s *sampler) replaceTop(w float64, ref int32) {
	s.weight[0], s.ref[0] = w, ref
	s.siftDown(0)
	s.refreshMax()
}

// push adds a point with priority w.
func (s *sampler) push(w float64, ref int32) {
	s.weight = append(s.weight, w)
	s.ref = append(s.ref, ref)
	i := len(s.weight) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s.weight[p] >= s.weight[i] {
			break
		}
		s.swap(i, p)
		i = p
	}
	s.refreshMax()
}

func (s *sampler) siftDown(i int) {
	n := len(s.weight)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && s.weight[c+1] > s.weight[c] {
			c++
		}
		if s.weight[c] <= s.weight[i] {
			return
		}
		s.swap(i, c)
		i = c
	}
}

func (s *sampler) swap(i, j int) {
	s.weight[i], s.weight[j] = s.weight[j], s.weight[i]
	s.ref[i], s.ref[j] = s.ref[j], s.ref[i]
}

func (s *sampler) refreshMax() { s.stale = true }

// shift adds delta to every priority (a rebase); order is unchanged.
func (s *sampler) shift(delta float64) {
	for i := range s.weight {
		s.weight[i] += delta
	}
	s.refreshMax()
}
