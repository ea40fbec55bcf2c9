package anomaly

import (
	"fmt"
	"math"
)

// checkTree verifies the invariants of a tree: every node and leaf that is
// not free is reachable exactly once from the root, with the right parent,
// the leaves' masses add up to the tree's size, internal nodes count their
// distinct leaves, the boxes of exactly the nodes with more than cacheAbove
// leaves are cached and are the unions of the children's (and free nodes
// and free box slots hold none), every cut separates its children, and
// leaves refer to
// live store slots with the right hashes and point at themselves. It is
// used on every restored snapshot (so that a corrupt one is refused rather
// than crash the operator later) and by the tests.
func (t *tree) checkTree() error {
	base := t.leafBase
	seen := make([]bool, len(t.nodes))
	for _, n := range t.freeNodes {
		if n < 0 || int32(n) >= base || seen[n] {
			return fmt.Errorf("free node %d invalid or repeated", n)
		}
		seen[n] = true
	}
	for _, l := range t.freeLeaves {
		if int32(l) < base || int(l) >= len(t.nodes) || seen[l] {
			return fmt.Errorf("free leaf %d invalid or repeated", l)
		}
		seen[l] = true
	}
	if t.root == noParent {
		if len(t.freeLeaves) != t.capacity || len(t.freeNodes) != t.capacity-1 || t.size != 0 {
			return fmt.Errorf("empty tree with nodes in use")
		}
		return nil
	}
	for _, n := range t.freeNodes {
		if t.cached(int32(n)) {
			return fmt.Errorf("free node %d holds box slot %d", n, t.boxSlot[n])
		}
	}
	d := t.dim
	slots := make([]bool, len(t.box)/(2*d))
	for _, s := range t.freeBoxes {
		if s < 0 || int(s) >= len(slots) || slots[s] {
			return fmt.Errorf("free box slot %d invalid or repeated", s)
		}
		slots[s] = true
	}
	tl, tr := make([]float64, 2*d), make([]float64, 2*d)
	// walk returns the copies (mass) and the distinct leaves below n.
	var walk func(n, parent int32, depth int) (int32, int32, error)
	walk = func(n, parent int32, depth int) (int32, int32, error) {
		if depth > t.capacity {
			return 0, 0, fmt.Errorf("tree deeper than its capacity (cycle?)")
		}
		if n < 0 || int(n) >= len(t.nodes) || seen[n] {
			return 0, 0, fmt.Errorf("node %d invalid, free or reached twice", n)
		}
		seen[n] = true
		nd := &t.nodes[n]
		if int32(nd.parent) != parent {
			return 0, 0, fmt.Errorf("node %d has parent %d, is reached from %d", n, nd.parent, parent)
		}
		if t.isLeaf(n) {
			if int32(nd.child[0]) != n || int32(nd.child[1]) != n || nd.dim != 0 {
				return 0, 0, fmt.Errorf("leaf %d does not point at itself", n)
			}
			m := t.leafMass(n)
			if m < 1 {
				return 0, 0, fmt.Errorf("leaf %d mass %d", n, m)
			}
			p := t.leafSlot(n)
			if p < 0 || int(p) >= len(t.store.refs) || t.store.refs[p] < 1 {
				return 0, 0, fmt.Errorf("leaf %d refers to dead point slot %d", n, p)
			}
			if t.leafHash(n) != hashPoint(t.store.point(p)) {
				return 0, 0, fmt.Errorf("leaf %d hash is stale", n)
			}
			return m, 1, nil
		}
		if int(nd.dim) >= d || math.IsNaN(nd.val) {
			return 0, 0, fmt.Errorf("node %d has a bad cut", n)
		}
		ml, cl, err := walk(t.left(n), n, depth+1)
		if err != nil {
			return 0, 0, err
		}
		mr, cr, err := walk(t.right(n), n, depth+1)
		if err != nil {
			return 0, 0, err
		}
		if int32(t.leaves[n]) != cl+cr {
			return 0, 0, fmt.Errorf("node %d counts %d leaves, has %d", n, t.leaves[n], cl+cr)
		}
		if t.cached(n) != (cl+cr > t.cacheAbove) {
			return 0, 0, fmt.Errorf("node %d with %d leaves: box cached %v", n, cl+cr, t.cached(n))
		}
		t.childBounds(t.left(n), tl)
		t.childBounds(t.right(n), tr)
		// A cached box must be the union of the children's, in a slot of
		// its own, and the cut must separate the children.
		if t.cached(n) {
			s := t.boxSlot[n]
			if s < 0 || int(s) >= len(slots) || slots[s] {
				return 0, 0, fmt.Errorf("node %d box slot %d invalid, free or shared", n, s)
			}
			slots[s] = true
			b := t.nodeBox(n)
			for j := 0; j < d; j++ {
				if b[j] != math.Min(tl[j], tr[j]) || b[d+j] != math.Max(tl[d+j], tr[d+j]) {
					return 0, 0, fmt.Errorf("node %d box is stale in dimension %d", n, j)
				}
			}
		}
		c := int(nd.dim)
		if !(tl[d+c] <= nd.val && tr[c] > nd.val) {
			return 0, 0, fmt.Errorf("node %d cut does not separate its children", n)
		}
		return ml + mr, cl + cr, nil
	}
	size, _, err := walk(t.root, noParent, 0)
	if err != nil {
		return err
	}
	for i, ok := range slots {
		if !ok {
			return fmt.Errorf("box slot %d neither free nor used", i)
		}
	}
	if size != t.size {
		return fmt.Errorf("tree size %d, leaves hold %d", t.size, size)
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("node %d neither free nor reachable", i)
		}
	}
	return nil
}

// checkForest verifies every tree, that each tree holds exactly the points
// its sampler holds, and that store reference counts match.
func (f *Forest) checkForest() error {
	refs := make([]int32, len(f.store.refs))
	var copies []int32
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
		copies = append(copies[:0], make([]int32, t.capacity)...)
		for _, r := range s.ref {
			if r < 0 || int(r) >= len(refs) {
				return fmt.Errorf("sampler %d refers to slot %d", i, r)
			}
			refs[r]++
			if t.root == noParent {
				return fmt.Errorf("sampler %d holds points, its tree none", i)
			}
			l, _ := t.findLeaf(f.store.point(r))
			if t.leafSlot(l) != r {
				return fmt.Errorf("sampler %d point %d is not a leaf of its tree", i, r)
			}
			copies[l-t.leafBase]++
		}
		// Each leaf holds as many copies as its sampler does (checkTree has
		// made sure the leaves in use have a mass).
		for l, n := range copies {
			if n != 0 && n != int32(t.mass[l]) {
				return fmt.Errorf("tree %d leaf %d has mass %d, its sampler %d copies", i, l, t.mass[l], n)
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
