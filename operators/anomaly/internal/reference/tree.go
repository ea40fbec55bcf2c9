package reference

import (
	"errors"
	"math"
)

// A node reference: >= 0 is an internal node, < 0 is the leaf ^ref, and
// noNode is no node at all (an empty tree's root).
const noNode int32 = math.MinInt32

// errTreeCorrupt reports a violated tree invariant: a point the sampler holds
// is not where the cuts lead. It cannot happen unless memory was corrupted or
// a snapshot was tampered with in a way validation missed.
var errTreeCorrupt = errors.New("anomaly: random cut tree is inconsistent")

// cutNode is what a descent reads of an internal node: 16 bytes, four to a
// cache line. Scoring a record descends every tree of the forest, so the
// descent data of all trees (100 trees × 255 nodes × 16 bytes = 400 KiB at
// the defaults) must stay in the core's L2 cache; boxes and leaves
// live in other arrays because a descent does not read them. Children fit in
// 16 bits since a tree has at most MaxSampleSize leaves.
type cutNode struct {
	cutVal float64
	child  [2]int16 // left (values <= cutVal), right
	cutDim uint16
	_      uint16
}

// tree is one random cut tree over at most capacity points, stored in flat
// arrays indexed by node number, so that a forest of 100 trees is a few
// slices per tree rather than tens of thousands of heap objects. Internal
// nodes cache their bounding box because both scoring and insertion read the
// boxes of the nodes on a path.
type tree struct {
	dim      int
	capacity int
	rng      splitMix64
	store    *pointStore
	root     int32

	size int32 // points in the tree, counting copies

	// Internal nodes: at most capacity-1. There are no parent pointers and
	// no per-node masses: updates walk back up the path their descent
	// recorded, and scoring needs only the tree's total mass, so neither
	// would pay for its upkeep.
	cut       []cutNode
	box       []float64 // node i: box[2*dim*i : 2*dim*(i+1)] = min..., max...
	freeNodes []int32

	// Leaves: at most capacity, each a distinct point (store slot) and how
	// many copies of it the tree holds. leafHash lets a descent decide that
	// the query differs from the leaf's point without reading the point.
	leafHash   []uint32
	leafPoint  []int32
	leafMass   []int32
	freeLeaves []int32
}

func newTree(dim, capacity int, seed uint64, store *pointStore) *tree {
	t := &tree{
		dim:       dim,
		capacity:  capacity,
		rng:       splitMix64{state: seed},
		store:     store,
		root:      noNode,
		cut:       make([]cutNode, capacity-1),
		box:       make([]float64, 2*dim*(capacity-1)),
		leafHash:  make([]uint32, capacity),
		leafPoint: make([]int32, capacity),
		leafMass:  make([]int32, capacity),
	}
	t.resetFreeLists()
	return t
}

// resetFreeLists marks every node and leaf free, lowest numbers used first.
func (t *tree) resetFreeLists() {
	t.freeNodes = t.freeNodes[:0]
	t.freeLeaves = t.freeLeaves[:0]
	for i := t.capacity - 1; i >= 0; i-- {
		t.freeLeaves = append(t.freeLeaves, int32(i))
		if i < t.capacity-1 {
			t.freeNodes = append(t.freeNodes, int32(i))
		}
	}
}

func (t *tree) left(n int32) int32  { return int32(t.cut[n].child[0]) }
func (t *tree) right(n int32) int32 { return int32(t.cut[n].child[1]) }

func (t *tree) setChild(n int32, left bool, c int32) {
	t.cut[n].child[b2i(!left)] = int16(c)
}

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
	t.setChild(n, t.left(n) == old, c)
}

// next is the child of internal node n on p's side of the cut.
func (t *tree) next(n int32, p []float64) int32 {
	c := &t.cut[n]
	// Indexing by the comparison compiles to a SETcc rather than a branch:
	// which side a point goes is a coin flip the predictor cannot learn.
	return int32(c.child[b2i(p[c.cutDim] > c.cutVal)])
}

func (t *tree) nodeBox(n int32) []float64 {
	o := 2 * t.dim * int(n)
	return t.box[o : o+2*t.dim : o+2*t.dim]
}

// totalMass is the number of points (with multiplicity) in the tree.
func (t *tree) totalMass() int32 { return t.size }

// findLeaf follows the cuts from the root to the leaf that p falls in.
func (t *tree) findLeaf(p []float64) int32 {
	n := t.root
	for n >= 0 {
		n = t.next(n, p)
	}
	return ^n
}

// isLeafPoint reports whether leaf l holds the point p whose hash is h.
func (t *tree) isLeafPoint(l int32, p []float64, h uint32) bool {
	return t.leafHash[l] == h && equalPoints(t.store.point(t.leafPoint[l]), p)
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
	if t.root == noNode {
		return t.insertAlong(ref, p, h, noNode, nil, sc)
	}
	leaf := t.descend(p, sc)
	return t.insertAlong(ref, p, h, leaf, sc.path, sc)
}

// insertAlong is insert given the leaf p falls into and the path to it
// (leaf is noNode for an empty tree).
func (t *tree) insertAlong(ref int32, p []float64, h uint32, leaf int32, path []int32, sc *scratch) int32 {
	t.size++
	if t.root == noNode {
		t.root = ^t.allocLeaf(ref, h)
		return ref
	}
	if t.isLeafPoint(leaf, p, h) {
		t.leafMass[leaf]++
		return t.leafPoint[leaf]
	}
	lp := t.store.point(t.leafPoint[leaf])

	d := t.dim
	saved := sc.savedBox[:2*d]
	for i := 0; i < d; i++ {
		saved[i] = min(p[i], lp[i])
		saved[d+i] = max(p[i], lp[i])
	}
	cutDim, cutVal := t.randomCut(saved)
	sibling, at := ^leaf, len(path) // the subtree p is cut off from, and its place in the path
	stop := -1                      // path index of the lowest ancestor whose box holds p
	merged := sc.mergedBox[:2*d]
	p = p[:d:d]
	for i := len(path) - 1; i >= 0; i-- {
		b := t.nodeBox(path[i])
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
			stop = i
			break
		}
		cd, cv := t.randomCutSum(merged, sum)
		if b[cd] > cv || b[d+int(cd)] <= cv {
			sibling, at, cutDim, cutVal = path[i], i, cd, cv
			saved, merged = merged, saved
		}
	}

	l := t.allocLeaf(ref, h)
	m := t.allocNode()
	c := &t.cut[m]
	c.cutVal, c.cutDim = cutVal, uint16(cutDim)
	if p[cutDim] <= cutVal {
		c.child = [2]int16{int16(^l), int16(sibling)}
	} else {
		c.child = [2]int16{int16(sibling), int16(^l)}
	}
	copy(t.nodeBox(m), saved)
	if at == 0 {
		t.root = m
	} else {
		t.replaceChild(path[at-1], sibling, m)
	}
	// The ancestors between the new node and the lowest box that held p
	// grow to hold it.
	for i := at - 1; i > stop; i-- {
		b := t.nodeBox(path[i])
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
func (t *tree) remove(p []float64, h uint32, sc *scratch) error {
	if t.root == noNode {
		return errTreeCorrupt
	}
	leaf := t.descend(p, sc)
	_, _, err := t.removeAlong(p, h, leaf, sc.path)
	return err
}

// removeAlong is remove given the leaf p falls into and the path to it. If
// the removal takes out an internal node (the leaf's parent), it returns
// that node and the subtree that took its place; otherwise freed is noNode.
func (t *tree) removeAlong(p []float64, h uint32, leaf int32, path []int32) (freed, repl int32, err error) {
	if t.root == noNode {
		return noNode, noNode, errTreeCorrupt
	}
	if !t.isLeafPoint(leaf, p, h) {
		return noNode, noNode, errTreeCorrupt
	}
	t.size--
	t.leafMass[leaf]--
	if t.leafMass[leaf] > 0 {
		return noNode, noNode, nil
	}
	t.freeLeaves = append(t.freeLeaves, leaf)
	n := len(path)
	if n == 0 {
		t.root = noNode
		return noNode, noNode, nil
	}
	par := path[n-1]
	sib := t.left(par)
	if sib == ^leaf {
		sib = t.right(par)
	}
	t.freeNodes = append(t.freeNodes, par)
	if n == 1 {
		t.root = sib
		return par, sib, nil
	}
	t.replaceChild(path[n-2], par, sib)
	// Shrink boxes upwards until one still contains p: above it nothing
	// changes, since every box there contains that one.
	d := t.dim
	for i := n - 2; i >= 0; i-- {
		t.recomputeBox(path[i])
		if boxContains(t.nodeBox(path[i]), p, d) {
			break
		}
	}
	return par, sib, nil
}

// recomputeBox sets node n's box to the union of its children's.
func (t *tree) recomputeBox(n int32) {
	d := t.dim
	b := t.nodeBox(n)
	t.childBounds(t.left(n), b)
	if r := t.right(n); r >= 0 {
		cb := t.nodeBox(r)
		for i := 0; i < d; i++ {
			b[i] = min(b[i], cb[i])
			b[d+i] = max(b[d+i], cb[d+i])
		}
	} else {
		pt := t.store.point(t.leafPoint[^r])
		for i := 0; i < d; i++ {
			b[i] = min(b[i], pt[i])
			b[d+i] = max(b[d+i], pt[i])
		}
	}
}

// childBounds writes the bounding box of ref (a node or a leaf) into dst.
func (t *tree) childBounds(ref int32, dst []float64) {
	d := t.dim
	if ref >= 0 {
		copy(dst, t.nodeBox(ref))
		return
	}
	pt := t.store.point(t.leafPoint[^ref])
	copy(dst[:d], pt)
	copy(dst[d:2*d], pt)
}

func (t *tree) allocLeaf(ref int32, h uint32) int32 {
	n := len(t.freeLeaves) - 1
	l := t.freeLeaves[n]
	t.freeLeaves = t.freeLeaves[:n]
	t.leafPoint[l] = ref
	t.leafHash[l] = h
	t.leafMass[l] = 1
	return l
}

func (t *tree) allocNode() int32 {
	n := len(t.freeNodes) - 1
	m := t.freeNodes[n]
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
