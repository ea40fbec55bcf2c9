package anomaly

import (
	"fmt"
	"math"
)

// Snapshot format of a Forest, version 1, written by the layout before the
// compact one (all integers little-endian):
//
//	"SRCF" u16(version)
//	config: u32 Dimensions, u32 NumberOfTrees, u32 SampleSize, f64 TimeDecay,
//	        u32 ShingleSize, u32 OutputAfter, u64 Seed
//	i64 updates, i64 rebase point, i64 records seen
//	f64s shingle ring
//	point store: f64s values, i32s reference counts, i32s free list
//	per tree: u64 rng state, i32 root, i32 size (points, counting copies),
//	          per internal node (SampleSize-1): f64 cut value, i16 left,
//	          i16 right, u16 cut dimension,
//	          i32s free nodes, i32s leaf points, i32s leaf masses, i32s free leaves
//	per sampler: u64 rng state, f64s priorities, i32s point slots
//
// (f64s and i32s are a u32 count followed by the values.) A node reference
// is >= 0 for an internal node, ^l for leaf l, and math.MinInt32 for none.
// decodeForestV1 reads it into the logical form and assemble lays it out as
// any version 2 snapshot: the trees' shapes, cuts, samples, heaps and
// generators carry over exactly, so the forest continues bit for bit as the
// version 1 code would have; node and slot numbers are renumbered, and the
// free lists the version kept (which only ever decided numbers) are dropped.
// What version 1 stored but version 2 derives (tree sizes, leaf masses,
// reference counts) must agree with the derivation.

// v1Derived is what a version 1 snapshot stored that assemble derives.
type v1Derived struct {
	sizes []int32
	refs  []int32 // per version 1 slot
	free  []int32
}

// noNodeV1 was version 1's empty reference.
const noNodeV1 int32 = math.MinInt32

func decodeForestV1(d *dec) (*Forest, error) {
	lf := &logicalForest{v1: &v1Derived{}}
	var err error
	if lf.cfg, err = decodeConfig(d); err != nil {
		return nil, err
	}
	c := lf.cfg
	decodeHead(d, lf)
	dim := c.Dimensions * c.ShingleSize
	maxSlots := c.NumberOfTrees*c.SampleSize + 1
	vals := d.f64s(maxSlots * dim)
	lf.v1.refs = d.i32s(maxSlots)
	lf.v1.free = d.i32s(maxSlots)
	if d.err != nil {
		return nil, d.err
	}
	if len(vals) != len(lf.v1.refs)*dim {
		d.fail("point store sizes disagree")
		return nil, d.err
	}
	lf.slots = len(lf.v1.refs)
	lf.point = func(s int32) []float64 { return vals[int(s)*dim : int(s+1)*dim] }

	capacity := c.SampleSize
	type cut struct {
		val         float64
		left, right int32
		dim         uint16
	}
	cuts := make([]cut, capacity-1)
	lf.trees = make([]logicalTree, c.NumberOfTrees)
	lf.v1.sizes = make([]int32, c.NumberOfTrees)
	for i := range lf.trees {
		lt := &lf.trees[i]
		lt.rng = d.u64()
		root := d.i32()
		lf.v1.sizes[i] = d.i32()
		for n := range cuts {
			cuts[n].val = d.f64()
			cuts[n].left = int32(int16(d.u16()))
			cuts[n].right = int32(int16(d.u16()))
			cuts[n].dim = d.u16()
		}
		d.i32s(capacity - 1) // free nodes
		leafPoint := fixedInt32s(d, capacity)
		leafMass := fixedInt32s(d, capacity)
		d.i32s(capacity) // free leaves
		if d.err != nil {
			return nil, d.err
		}
		if root == noNodeV1 {
			continue
		}
		// The tree in preorder, every reference checked before use.
		nodeSeen := make([]bool, capacity-1)
		leafSeen := make([]bool, capacity)
		stack := []int32{root}
		for len(stack) > 0 {
			ref := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if ref < 0 {
				l := ^ref
				if l < 0 || int(l) >= capacity || leafSeen[l] {
					d.fail("tree %d: bad leaf reference %d", i, ref)
					return nil, d.err
				}
				leafSeen[l] = true
				lt.entries = append(lt.entries, logicalNode{leaf: true, slot: leafPoint[l]})
				lt.v1Masses = append(lt.v1Masses, leafMass[l])
				continue
			}
			if int(ref) >= capacity-1 || nodeSeen[ref] {
				d.fail("tree %d: bad node reference %d", i, ref)
				return nil, d.err
			}
			nodeSeen[ref] = true
			cn := cuts[ref]
			if int(cn.dim) >= dim {
				d.fail("tree %d: node %d cuts dimension %d", i, ref, cn.dim)
				return nil, d.err
			}
			lt.entries = append(lt.entries, logicalNode{dim: cn.dim, val: cn.val})
			stack = append(stack, cn.right, cn.left)
		}
	}
	lf.samplers = make([]logicalSampler, c.NumberOfTrees)
	for i := range lf.samplers {
		ls := &lf.samplers[i]
		ls.rng = d.u64()
		ls.weight = d.f64s(c.SampleSize)
		ls.ref = d.i32s(c.SampleSize)
		if d.err != nil {
			return nil, d.err
		}
		if len(ls.weight) != len(ls.ref) {
			d.fail("sampler %d sizes disagree", i)
			return nil, d.err
		}
	}
	return assemble(d, lf)
}

// fixedInt32s reads an i32s that must have exactly n elements.
func fixedInt32s(d *dec, n int) []int32 {
	v := d.i32s(n)
	if d.err == nil && len(v) != n {
		d.fail("array of %d, want %d", len(v), n)
	}
	return v
}

// check compares what version 1 stored with what assemble derived: tree
// sizes, leaf masses and reference counts, and that the free list held
// exactly the unreferenced slots.
func (v *v1Derived) check(f *Forest, lf *logicalForest, canon []int32) error {
	for i, t := range f.trees {
		if v.sizes[i] != t.size {
			return fmt.Errorf("tree %d size %d, its sampler holds %d", i, v.sizes[i], t.size)
		}
		for k, m := range lf.trees[i].v1Masses {
			// build numbered the leaves in preorder.
			if got := t.leafMass(t.leafBase + int32(k)); m != got {
				return fmt.Errorf("tree %d leaf %d mass %d, its sampler holds %d", i, k, m, got)
			}
		}
	}
	free := make([]bool, len(v.refs))
	for _, s := range v.free {
		if s < 0 || int(s) >= len(free) || free[s] {
			return fmt.Errorf("store free list is corrupt")
		}
		free[s] = true
	}
	for s, n := range v.refs {
		want := int32(0)
		if canon[s] >= 0 {
			want = f.store.refs[canon[s]]
		}
		if n != want {
			return fmt.Errorf("store slot %d has %d references, samplers hold %d", s, n, want)
		}
		if (n == 0) != free[s] {
			return fmt.Errorf("store slot %d free=%v with %d references", s, free[s], n)
		}
	}
	return nil
}
