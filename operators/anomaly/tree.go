package anomaly

import (
	"errors"
	"math"
)

// errTreeCorrupt reports a violated tree invariant: a point the sampler holds
// is not where the cuts lead. It cannot happen unless memory was corrupted or
// a snapshot was tampered with in a way validation missed.
var errTreeCorrupt = errors.New("anomaly: random cut tree is inconsistent")

// node is one entry of a tree's node array, 16 bytes, four to a cache line:
// an internal node (a cut) or a leaf (a distinct point of the sample).
//
// The layout is built for the descent, which reads one node per level and
// nothing else: the cut, both children and the parent sit together, and a
// leaf's children are the leaf itself, so that a descent that has reached its
// leaf stays there without a branch (several descents run in lockstep, see
// group.go). A leaf keeps its point's store slot and hash where an internal
// node keeps its cut value, so the test "is the query this leaf's point?"
// reads no other line unless the hashes agree. Parents let the walks back up
// (scoring, insertion, deletion) run without a recorded path.
//
// References are small integers: internal nodes are 0..capacity-2, leaves
// capacity-1..2*capacity-2 (see tree.leafBase); int16 holds them since a tree
// has at most MaxSampleSize leaves.
type node struct {
	// val is the cut value of an internal node (a point goes left if its
	// value in dimension dim is at most val), and for a leaf the bits
	// slot | hash<<32 (see leafSlot, leafHash). A descent compares a
	// query against a leaf's val too; the outcome does not matter, both
	// children being the leaf.
	val    float64
	child  [2]int16 // left (values <= val), right; a leaf's are itself
	dim    uint16   // the cut dimension; 0 for a leaf
	parent int16    // -1 at the root
}

// noParent is the parent of a tree's root, and the root of an empty tree.
const noParent = -1

// tree is one random cut tree over at most capacity points. Everything is in
// flat arrays indexed by small integers, so that a forest of 100 trees is a
// few slices per tree rather than tens of thousands of heap objects, and a
// tree's arrays stay in the cache while it takes a batch of points.
type tree struct {
	dim      int
	capacity int
	leafBase int32 // the first leaf reference: capacity-1
	rng      splitMix64
	store    *pointStore
	root     int32 // noParent if empty

	size int32 // points in the tree, counting copies

	nodes []node   // 2*capacity-1: internal nodes, then leaves
	mass  []uint16 // per leaf (reference - leafBase): copies of its point

	// Bounding boxes are cached only for the internal nodes with more than
	// cacheAbove distinct leaves below them (the upper levels); a lower
	// node's box is the union of its few leaves' points, computed when a
	// walk needs it (see childBounds and the walks' running boxes). Since a
	// node has more leaves than any of its children, every ancestor of a
	// cached node is cached. Boxes are unions of points, exact in floating
	// point, so where a box comes from changes no score.
	cacheAbove int32
	leaves     []uint16  // per internal node: distinct leaves below it
	boxSlot    []int16   // per internal node: its box's slot, or noBox
	box        []float64 // slot s: box[2*dim*s : 2*dim*(s+1)] = min..., max...
	freeBoxes  []int16   // free box slots, reused last-in first-out

	freeNodes  []int16 // free internal nodes, reused last-in first-out
	freeLeaves []int16 // free leaf references
}

// noBox is the box slot of an internal node whose box is not cached.
const noBox = -1

// boxCacheThreshold is the number of distinct leaves above which an
// internal node's box is cached in a tree of dim-dimensional points, chosen
// by measurement (BenchmarkBoxCache; see BENCHMARKS.md): from 8 dimensions,
// where a box spans two cache lines or more, boxes of nodes with at most 4
// leaves are left out (a third less memory at 10 dimensions, within the
// noise of the CPU time); below, every box is cached (1), since a small
// box costs less to read than its leaves' points and saves little memory.
// boxCacheOverride, if positive, replaces it (tests and benchmarks).
func boxCacheThreshold(dim int) int32 {
	switch {
	case boxCacheOverride > 0:
		return boxCacheOverride
	case dim >= 8:
		return 4
	default:
		return 1
	}
}

var boxCacheOverride int32

func newTree(dim, capacity int, seed uint64, store *pointStore) *tree {
	t := &tree{
		dim:      dim,
		capacity: capacity,
		leafBase: int32(capacity - 1),
		rng:      splitMix64{state: seed},
		store:    store,
		root:     noParent,
		nodes:    make([]node, 2*capacity-1),
		mass:     make([]uint16, capacity),

		cacheAbove: boxCacheThreshold(dim),
		leaves:     make([]uint16, capacity-1),
		boxSlot:    make([]int16, capacity-1),
	}
	if t.cacheAbove <= 1 {
		// Every internal node will have a box: allocate them all at once,
		// as many as the tree can have and no more.
		t.box = make([]float64, 0, 2*dim*(capacity-1))
	}
	t.resetFreeLists()
	return t
}

// resetFreeLists marks every node and leaf free, lowest numbers used
// first, and drops every cached box.
func (t *tree) resetFreeLists() {
	for i := range t.boxSlot {
		t.boxSlot[i] = noBox
	}
	t.box = t.box[:0]
	t.freeBoxes = t.freeBoxes[:0]
	t.freeNodes = t.freeNodes[:0]
	t.freeLeaves = t.freeLeaves[:0]
	for i := t.capacity - 1; i >= 0; i-- {
		t.freeLeaves = append(t.freeLeaves, int16(int(t.leafBase)+i))
		if i < t.capacity-1 {
			t.freeNodes = append(t.freeNodes, int16(i))
		}
	}
}

func (t *tree) isLeaf(n int32) bool    { return n >= t.leafBase }
func (t *tree) left(n int32) int32     { return int32(t.nodes[n].child[0]) }
func (t *tree) right(n int32) int32    { return int32(t.nodes[n].child[1]) }
func (t *tree) parent(n int32) int32   { return int32(t.nodes[n].parent) }
func (t *tree) leafMass(l int32) int32 { return int32(t.mass[l-t.leafBase]) }

// leafSlot is the store slot of leaf l's point.
func (t *tree) leafSlot(l int32) int32 { return int32(uint32(math.Float64bits(t.nodes[l].val))) }

// leafHash is hashPoint of leaf l's point.
func (t *tree) leafHash(l int32) uint32 { return uint32(math.Float64bits(t.nodes[l].val) >> 32) }

// b2i is 1 for true; the compiler turns it into a SETcc, not a branch.
func b2i(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}

// replaceChild makes c the child of n that old was.
func (t *tree) replaceChild(n, old, c int32) {
	nd := &t.nodes[n]
	nd.child[b2i(int32(nd.child[0]) != old)] = int16(c)
}

// next is the child of internal node n on p's side of the cut (n itself if
// n is a leaf).
func (t *tree) next(n int32, p []float64) int32 {
	c := &t.nodes[n]
	// Indexing by the comparison compiles to a SETcc rather than a branch:
	// which side a point goes is a coin flip the predictor cannot learn.
	return int32(c.child[b2i(p[c.dim] > c.val)&1])
}

// cached reports whether internal node n's box is cached.
func (t *tree) cached(n int32) bool { return t.boxSlot[n] != noBox }

// nodeBox is the cached box of internal node n, which must be cached.
func (t *tree) nodeBox(n int32) []float64 {
	o := 2 * t.dim * int(t.boxSlot[n])
	return t.box[o : o+2*t.dim : o+2*t.dim]
}

// cacheBox gives internal node n a box slot (its contents are the caller's
// to fill).
func (t *tree) cacheBox(n int32) {
	if k := len(t.freeBoxes); k > 0 {
		t.boxSlot[n] = t.freeBoxes[k-1]
		t.freeBoxes = t.freeBoxes[:k-1]
		return
	}
	w := 2 * t.dim
	if len(t.box)+w > cap(t.box) {
		// Grow by an eighth of the tree's internal nodes at a time, not by
		// doubling: the number of cached boxes settles, and a doubled
		// array would hold up to twice the boxes the tree needs.
		nb := make([]float64, len(t.box), len(t.box)+w*max(8, (t.capacity-1)/8))
		copy(nb, t.box)
		t.box = nb
	}
	t.boxSlot[n] = int16(len(t.box) / w)
	t.box = t.box[:len(t.box)+w]
}

// uncacheBox frees internal node n's box slot, if it has one.
func (t *tree) uncacheBox(n int32) {
	if s := t.boxSlot[n]; s != noBox {
		t.freeBoxes = append(t.freeBoxes, s)
		t.boxSlot[n] = noBox
	}
}

// leafCount is the number of distinct leaves below n (1 for a leaf).
func (t *tree) leafCount(n int32) int32 {
	if t.isLeaf(n) {
		return 1
	}
	return int32(t.leaves[n])
}

// setLeafCount sets internal node n's count of distinct leaves, caching or
// dropping its box slot as the count crosses cacheAbove; a newly cached
// box is computed from n's children, which must be in place.
func (t *tree) setLeafCount(n, c int32) {
	t.leaves[n] = uint16(c)
	switch want := c > t.cacheAbove; {
	case want && !t.cached(n):
		t.cacheBox(n)
		t.recomputeBox(n)
	case !want && t.cached(n):
		t.uncacheBox(n)
	}
}

// pointBox writes the box of the single point p into dst.
func pointBox(p, dst []float64) {
	d := len(p)
	copy(dst[:d], p)
	copy(dst[d:2*d], p)
}

// unionBounds grows dst (a box) to hold the box of n, a leaf or an internal
// node, cached or not.
func (t *tree) unionBounds(n int32, dst []float64) {
	d := t.dim
	lo, hi := dst[:d:d], dst[d:2*d:2*d]
	switch {
	case t.isLeaf(n):
		pt := t.store.point(t.leafSlot(n))
		for i, x := range pt {
			lo[i] = min(lo[i], x)
			hi[i] = max(hi[i], x)
		}
	case t.cached(n):
		cb := t.nodeBox(n)
		for i := range lo {
			lo[i] = min(lo[i], cb[i])
			hi[i] = max(hi[i], cb[d+i])
		}
	default:
		t.unionBounds(t.left(n), dst)
		t.unionBounds(t.right(n), dst)
	}
}

// sibling is the child of internal node n that is not c.
func (t *tree) sibling(n, c int32) int32 {
	nd := &t.nodes[n]
	return int32(nd.child[b2i(int32(nd.child[0]) == c)])
}

// totalMass is the number of points (with multiplicity) in the tree.
func (t *tree) totalMass() int32 { return t.size }

// findLeaf follows the cuts from the root to the leaf that p falls in and
// returns it with its depth (the root is at depth 0). The tree must not be
// empty.
func (t *tree) findLeaf(p []float64) (leaf int32, depth int) {
	n := t.root
	for n < t.leafBase {
		n = t.next(n, p)
		depth++
	}
	return n, depth
}

// isLeafPoint reports whether leaf l holds the point p whose hash is h.
func (t *tree) isLeafPoint(l int32, p []float64, h uint32) bool {
	return t.leafHash(l) == h && equalPoints(t.store.point(t.leafSlot(l)), p)
}

func equalPoints(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hashPoint fingerprints a point for the duplicate test: equal points (in
// the sense of ==, so -0 and +0 alike) hash alike.
func hashPoint(p []float64) uint32 {
	h := uint64(0x243f6a8885a308d3)
	for _, v := range p {
		if v == 0 {
			v = 0 // fold -0 into +0
		}
		h ^= math.Float64bits(v)
		h *= 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	return uint32(h ^ h>>32)
}

// randomCut picks a cut uniformly over the box's total side length: a
// dimension with probability proportional to its range, then a value
// uniformly within it, kept below the maximum so both sides are non-empty.
func (t *tree) randomCut(b []float64) (int32, float64) {
	d := t.dim
	lo, hi := b[:d], b[d:2*d]
	sum := 0.0
	for i := range lo {
		sum += hi[i] - lo[i]
	}
	return t.randomCutSum(b, sum)
}

// randomCutSum is randomCut given the box's total side length sum, summed
// over the dimensions in order as randomCut sums it.
func (t *tree) randomCutSum(b []float64, sum float64) (int32, float64) {
	d := t.dim
	lo, hi := b[:d], b[d:2*d]
	r := t.rng.float64() * sum
	last := int32(-1)
	for i := range lo {
		rg := hi[i] - lo[i]
		if rg <= 0 {
			continue
		}
		last = int32(i)
		if r <= rg {
			c := lo[i] + r
			if c >= hi[i] {
				c = math.Nextafter(hi[i], lo[i])
			}
			return int32(i), c
		}
		r -= rg
	}
	// Only reachable through rounding in the running subtraction: cut the
	// last dimension with a positive range just below its maximum.
	return last, math.Nextafter(hi[last], lo[last])
}

// insert adds the point held in store slot ref (values p, hash h) and
// returns the slot the tree's leaf now refers to: ref itself, or the slot of
// an equal point already in the tree, whose leaf mass grows instead.
//
// The insertion point is chosen bottom-up as AWS's library does: starting at
// the leaf p falls into, each ancestor whose box does not contain p draws a
// random cut of its box merged with p, and the highest ancestor whose cut
// separates p from the box is where p's new leaf is attached. This has the
// same distribution as the top-down construction of Guha et al.
func (t *tree) insert(ref int32, p []float64, h uint32, sc *scratch) int32 {
	t.size++
	if t.root == noParent {
		t.root = t.allocLeaf(ref, h)
		return ref
	}
	leaf, _ := t.findLeaf(p)
	if t.isLeafPoint(leaf, p, h) {
		t.mass[leaf-t.leafBase]++
		return t.leafSlot(leaf)
	}
	lp := t.store.point(t.leafSlot(leaf))

	d := t.dim
	saved := sc.savedBox[:2*d]
	for i := 0; i < d; i++ {
		saved[i] = min(p[i], lp[i])
		saved[d+i] = max(p[i], lp[i])
	}
	cutDim, cutVal := t.randomCut(saved)
	sibling := leaf         // the subtree p is cut off from
	stop := int32(noParent) // the lowest ancestor whose box holds p
	merged := sc.mergedBox[:2*d]
	// run is the box of the path's child below n while n's box is not
	// cached (the lower levels), grown by the sibling at each step.
	run := sc.runBox[:2*d]
	pointBox(lp, run)
	p = p[:d:d]
	for n, prev := t.parent(leaf), leaf; n != noParent; prev, n = n, t.parent(n) {
		var b []float64
		if t.cached(n) {
			b = t.nodeBox(n)
		} else {
			t.unionBounds(t.sibling(n, prev), run)
			b = run
		}
		// One pass over the box: whether it holds p, the box grown to hold
		// p, and that box's total side length for the cut.
		lo, hi := b[:d:d], b[d:2*d:2*d]
		ml, mh := merged[:d:d], merged[d:2*d:2*d]
		out, sum := 0, 0.0
		for j, x := range p {
			l, h := lo[j], hi[j]
			out |= b2i(x < l) | b2i(x > h)
			nl, nh := min(l, x), max(h, x)
			ml[j], mh[j] = nl, nh
			sum += nh - nl
		}
		if out == 0 {
			stop = n
			break
		}
		cd, cv := t.randomCutSum(merged, sum)
		if b[cd] > cv || b[d+int(cd)] <= cv {
			sibling, cutDim, cutVal = n, cd, cv
			saved, merged = merged, saved
		}
	}

	l := t.allocLeaf(ref, h)
	m := t.allocNode()
	gp := t.parent(sibling)
	c := &t.nodes[m]
	c.val, c.dim, c.parent = cutVal, uint16(cutDim), int16(gp)
	if p[cutDim] <= cutVal {
		c.child = [2]int16{int16(l), int16(sibling)}
	} else {
		c.child = [2]int16{int16(sibling), int16(l)}
	}
	t.nodes[l].parent = int16(m)
	t.nodes[sibling].parent = int16(m)
	// saved is the box of sibling and p: m's box.
	t.leaves[m] = uint16(t.leafCount(sibling) + 1)
	if int32(t.leaves[m]) > t.cacheAbove {
		t.cacheBox(m)
		copy(t.nodeBox(m), saved)
	}
	if gp == noParent {
		t.root = m
		return ref
	}
	t.replaceChild(gp, sibling, m)
	// Every ancestor has one more leaf; the cached boxes between the new
	// node and the lowest box that held p grow to hold it, and an ancestor
	// whose count crosses cacheAbove gets its box computed.
	grow := true
	for n := gp; n != noParent; n = t.parent(n) {
		grow = grow && n != stop
		c := int32(t.leaves[n]) + 1
		if !t.cached(n) {
			t.setLeafCount(n, c)
			continue
		}
		t.leaves[n] = uint16(c)
		if !grow {
			continue
		}
		b := t.nodeBox(n)
		for j := 0; j < d; j++ {
			if p[j] < b[j] {
				b[j] = p[j]
			}
			if p[j] > b[d+j] {
				b[d+j] = p[j]
			}
		}
	}
	return ref
}

// remove deletes one copy of p (hash h), which must be in the tree.
func (t *tree) remove(p []float64, h uint32) error {
	if t.root == noParent {
		return errTreeCorrupt
	}
	leaf, _ := t.findLeaf(p)
	if !t.isLeafPoint(leaf, p, h) {
		return errTreeCorrupt
	}
	t.size--
	t.mass[leaf-t.leafBase]--
	if t.mass[leaf-t.leafBase] > 0 {
		return nil
	}
	t.freeLeaves = append(t.freeLeaves, int16(leaf))
	par := t.parent(leaf)
	if par == noParent {
		t.root = noParent
		return nil
	}
	sib := t.sibling(par, leaf)
	t.uncacheBox(par)
	t.freeNodes = append(t.freeNodes, int16(par))
	gp := t.parent(par)
	t.nodes[sib].parent = int16(gp)
	if gp == noParent {
		t.root = sib
		return nil
	}
	t.replaceChild(gp, par, sib)
	// Every ancestor has one leaf less. Cached boxes shrink upwards until
	// one still contains p: above it nothing changes, since every box
	// there contains that one.
	d := t.dim
	shrink := true
	for n := gp; n != noParent; n = t.parent(n) {
		c := int32(t.leaves[n]) - 1
		if !t.cached(n) || c <= t.cacheAbove {
			t.setLeafCount(n, c)
			continue
		}
		t.leaves[n] = uint16(c)
		if shrink {
			t.recomputeBox(n)
			shrink = !boxContains(t.nodeBox(n), p, d)
		}
	}
	return nil
}

// recomputeBox sets cached node n's box to the union of its children's.
func (t *tree) recomputeBox(n int32) {
	b := t.nodeBox(n)
	t.childBounds(t.left(n), b)
	t.unionBounds(t.right(n), b)
}

// childBounds writes the bounding box of n (a leaf or an internal node,
// cached or not) into dst.
func (t *tree) childBounds(n int32, dst []float64) {
	switch {
	case t.isLeaf(n):
		pointBox(t.store.point(t.leafSlot(n)), dst)
	case t.cached(n):
		copy(dst, t.nodeBox(n))
	default:
		t.childBounds(t.left(n), dst)
		t.unionBounds(t.right(n), dst)
	}
}

// allocLeaf takes a free leaf for store slot ref (hash h) with mass 1 and no
// parent yet.
func (t *tree) allocLeaf(ref int32, h uint32) int32 {
	n := len(t.freeLeaves) - 1
	l := int32(t.freeLeaves[n])
	t.freeLeaves = t.freeLeaves[:n]
	t.setLeaf(l, ref, h)
	t.mass[l-t.leafBase] = 1
	return l
}

// setLeaf makes node l a leaf of store slot ref (hash h): its payload, and
// children pointing at itself.
func (t *tree) setLeaf(l, ref int32, h uint32) {
	nd := &t.nodes[l]
	nd.val = math.Float64frombits(uint64(uint32(ref)) | uint64(h)<<32)
	nd.child = [2]int16{int16(l), int16(l)}
	nd.dim = 0
	nd.parent = noParent
}

func (t *tree) allocNode() int32 {
	n := len(t.freeNodes) - 1
	m := int32(t.freeNodes[n])
	t.freeNodes = t.freeNodes[:n]
	return m
}

func boxContains(b, p []float64, d int) bool {
	for i := 0; i < d; i++ {
		if p[i] < b[i] || p[i] > b[d+i] {
			return false
		}
	}
	return true
}
