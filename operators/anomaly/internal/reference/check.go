package reference

import (
	"fmt"
	"math"
)

// checkTree verifies the invariants of a tree: every node and leaf that is
// not free is reachable exactly once from the root, the leaves' masses add
// up to the tree's size, cached boxes are the unions of the children's,
// every cut separates its children, and leaves refer to live store slots
// with the right hashes. It is used on every
// restored snapshot (so that a corrupt one is refused rather than crash the
// operator later) and by the tests.
func (t *tree) checkTree() error {
	nodeSeen := make([]bool, t.capacity-1)
	leafSeen := make([]bool, t.capacity)
	for _, n := range t.freeNodes {
		if n < 0 || int(n) >= t.capacity-1 || nodeSeen[n] {
			return fmt.Errorf("free node %d invalid or repeated", n)
		}
		nodeSeen[n] = true
	}
	for _, l := range t.freeLeaves {
		if l < 0 || int(l) >= t.capacity || leafSeen[l] {
			return fmt.Errorf("free leaf %d invalid or repeated", l)
		}
		leafSeen[l] = true
	}
	if t.root == noNode {
		if len(t.freeLeaves) != t.capacity || len(t.freeNodes) != t.capacity-1 || t.size != 0 {
			return fmt.Errorf("empty tree with nodes in use")
		}
		return nil
	}
	d := t.dim
	tl, tr := make([]float64, 2*d), make([]float64, 2*d)
	var walk func(ref int32, depth int) (int32, error)
	walk = func(ref int32, depth int) (int32, error) {
		if depth > t.capacity {
			return 0, fmt.Errorf("tree deeper than its capacity (cycle?)")
		}
		if ref < 0 {
			l := ^ref
			if int(l) >= t.capacity || leafSeen[l] {
				return 0, fmt.Errorf("leaf %d invalid, free or reached twice", l)
			}
			leafSeen[l] = true
			if t.leafMass[l] < 1 {
				return 0, fmt.Errorf("leaf %d mass %d", l, t.leafMass[l])
			}
			p := t.leafPoint[l]
			if p < 0 || int(p) >= len(t.store.refs) || t.store.refs[p] < 1 {
				return 0, fmt.Errorf("leaf %d refers to dead point slot %d", l, p)
			}
			if t.leafHash[l] != hashPoint(t.store.point(p)) {
				return 0, fmt.Errorf("leaf %d hash is stale", l)
			}
			return t.leafMass[l], nil
		}
		if int(ref) >= t.capacity-1 || nodeSeen[ref] {
			return 0, fmt.Errorf("node %d invalid, free or reached twice", ref)
		}
		nodeSeen[ref] = true
		if int(t.cut[ref].cutDim) >= d || math.IsNaN(t.cut[ref].cutVal) {
			return 0, fmt.Errorf("node %d has a bad cut", ref)
		}
		ml, err := walk(t.left(ref), depth+1)
		if err != nil {
			return 0, err
		}
		mr, err := walk(t.right(ref), depth+1)
		if err != nil {
			return 0, err
		}
		// The box must be the union of the children's, and the cut must
		// separate them.
		b := t.nodeBox(ref)
		t.childBounds(t.left(ref), tl)
		t.childBounds(t.right(ref), tr)
		for j := 0; j < d; j++ {
			if b[j] != math.Min(tl[j], tr[j]) || b[d+j] != math.Max(tl[d+j], tr[d+j]) {
				return 0, fmt.Errorf("node %d box is stale in dimension %d", ref, j)
			}
		}
		c := int(t.cut[ref].cutDim)
		if !(tl[d+c] <= t.cut[ref].cutVal && tr[c] > t.cut[ref].cutVal) {
			return 0, fmt.Errorf("node %d cut does not separate its children", ref)
		}
		return ml + mr, nil
	}
	size, err := walk(t.root, 0)
	if err != nil {
		return err
	}
	if size != t.size {
		return fmt.Errorf("tree size %d, leaves hold %d", t.size, size)
	}
	for i, ok := range nodeSeen {
		if !ok {
			return fmt.Errorf("node %d neither free nor reachable", i)
		}
	}
	for i, ok := range leafSeen {
		if !ok {
			return fmt.Errorf("leaf %d neither free nor reachable", i)
		}
	}
	return nil
}

// checkForest verifies every tree, that each tree holds exactly the points
// its sampler holds, and that store reference counts match.
func (f *Forest) checkForest() error {
	refs := make([]int32, len(f.store.refs))
	for i, t := range f.trees {
		if err := t.checkTree(); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
		s := f.samplers[i]
		if len(s.weight) > s.capacity || len(s.weight) != len(s.ref) {
			return fmt.Errorf("sampler %d over capacity", i)
		}
		for k := range s.weight {
			if math.IsNaN(s.weight[k]) {
				return fmt.Errorf("sampler %d has a NaN priority", i)
			}
			if c := 2*k + 1; c < len(s.weight) && s.weight[c] > s.weight[k] ||
				c+1 < len(s.weight) && s.weight[c+1] > s.weight[k] {
				return fmt.Errorf("sampler %d heap order broken at %d", i, k)
			}
		}
		if int(t.totalMass()) != len(s.ref) {
			return fmt.Errorf("tree %d mass %d, sampler holds %d", i, t.totalMass(), len(s.ref))
		}
		for _, r := range s.ref {
			if r < 0 || int(r) >= len(refs) {
				return fmt.Errorf("sampler %d refers to slot %d", i, r)
			}
			refs[r]++
			l := t.findLeaf(f.store.point(r))
			if t.leafPoint[l] != r {
				return fmt.Errorf("sampler %d point %d is not a leaf of its tree", i, r)
			}
		}
	}
	free := make([]bool, len(refs))
	for _, r := range f.store.free {
		if r < 0 || int(r) >= len(refs) || free[r] {
			return fmt.Errorf("store free list is corrupt")
		}
		free[r] = true
	}
	for i, n := range refs {
		if f.store.refs[i] != n {
			return fmt.Errorf("store slot %d has %d references, samplers hold %d", i, f.store.refs[i], n)
		}
		if (n == 0) != free[i] {
			return fmt.Errorf("store slot %d free=%v with %d references", i, free[i], n)
		}
	}
	return nil
}
