package reference

// pointStore holds the (shingled) points that the trees' leaves refer to,
// once per forest rather than once per tree: a point accepted by 30 of 100
// samplers is stored once with a reference count of 30. Slots are reused
// through a free list; the order of reuse is part of the state so that a
// restored forest allocates exactly as the original would.
type pointStore struct {
	dim    int
	values []float64 // slot i holds values[i*dim : (i+1)*dim]
	refs   []int32   // reference count per slot; 0 means free or pending
	hash   []uint32  // hashPoint of each slot's values
	free   []int32   // free slots, reused last-in first-out
}

func newPointStore(dim int) *pointStore { return &pointStore{dim: dim} }

// add copies p (whose hash is h) into a slot with reference count 0 and
// returns the slot.
func (s *pointStore) add(p []float64, h uint32) int32 {
	var i int32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
		copy(s.values[int(i)*s.dim:], p)
	} else {
		i = int32(len(s.refs))
		s.values = append(s.values, p...)
		s.refs = append(s.refs, 0)
		s.hash = append(s.hash, 0)
	}
	s.refs[i] = 0
	s.hash[i] = h
	return i
}

func (s *pointStore) point(i int32) []float64 {
	o := int(i) * s.dim
	return s.values[o : o+s.dim : o+s.dim]
}

func (s *pointStore) retain(i int32) { s.refs[i]++ }

// release drops one reference and frees the slot when none is left.
func (s *pointStore) release(i int32) {
	s.refs[i]--
	if s.refs[i] == 0 {
		s.free = append(s.free, i)
	}
}

// releaseIfUnused frees a slot that add returned but no tree kept.
func (s *pointStore) releaseIfUnused(i int32) {
	if s.refs[i] == 0 {
		s.free = append(s.free, i)
	}
}

func (s *pointStore) live() int { return len(s.refs) - len(s.free) }
