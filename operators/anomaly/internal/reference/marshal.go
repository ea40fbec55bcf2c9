package reference

import (
	"fmt"
	"math"
)

// Snapshot format of a Forest, version 1 (all integers little-endian):
//
//	"SRCF" u16(version)
//	config: u32 Dimensions, u32 NumberOfTrees, u32 SampleSize, f64 TimeDecay,
//	        u32 ShingleSize, u32 OutputAfter, u64 Seed
//	i64 updates, i64 rebase point, i64 records seen
//	f64s shingle ring
//	point store: f64s values, i32s reference counts, i32s free list
//	per tree: u64 rng state, i32 root, i32 size (points, counting copies),
//	          per internal node: f64 cut value, i16 left, i16 right, u16 cut dimension,
//	          i32s free nodes, i32s leaf points, i32s leaf masses, i32s free leaves
//	per sampler: u64 rng state, f64s priorities, i32s point slots
//
// (f64s and i32s are a u32 count followed by the values.) Bounding boxes and
// point hashes are derived data and are recomputed on restore. Everything
// else that influences a future score is in the snapshot, including the
// order of free lists, so a restored forest continues bit for bit as the
// original would have.
const (
	forestMagic   = "SRCF"
	forestVersion = 1
)

// MarshalBinary encodes the forest's complete state.
func (f *Forest) MarshalBinary() ([]byte, error) {
	e := &enc{}
	f.encode(e)
	return e.b, nil
}

func (f *Forest) encode(e *enc) {
	e.header(forestMagic, forestVersion)
	c := f.cfg
	e.u32(uint32(c.Dimensions))
	e.u32(uint32(c.NumberOfTrees))
	e.u32(uint32(c.SampleSize))
	e.f64(c.TimeDecay)
	e.u32(uint32(c.ShingleSize))
	e.u32(uint32(c.OutputAfter))
	e.u64(c.Seed)
	e.i64(f.updates)
	e.i64(f.base)
	e.i64(f.records)
	e.f64s(f.shingle)
	e.f64s(f.store.values)
	e.i32s(f.store.refs)
	e.i32s(f.store.free)
	for _, t := range f.trees {
		e.u64(t.rng.state)
		e.i32(t.root)
		e.i32(t.size)
		for _, n := range t.cut {
			e.f64(n.cutVal)
			e.u16(uint16(n.child[0]))
			e.u16(uint16(n.child[1]))
			e.u16(n.cutDim)
		}
		e.i32s(t.freeNodes)
		e.i32s(t.leafPoint)
		e.i32s(t.leafMass)
		e.i32s(t.freeLeaves)
	}
	for _, s := range f.samplers {
		e.u64(s.rng.state)
		e.f64s(s.weight)
		e.i32s(s.ref)
	}
}

// UnmarshalBinary replaces f with the forest encoded in b. The snapshot is
// validated in full (every tree invariant, every sampler against its tree);
// on error f is unchanged and the error wraps ErrCorruptSnapshot.
func (f *Forest) UnmarshalBinary(b []byte) error {
	d := &dec{b: b}
	g, err := decodeForest(d)
	if err != nil {
		return err
	}
	d.end()
	if d.err != nil {
		return d.err
	}
	*f = *g
	return nil
}

func decodeForest(d *dec) (*Forest, error) {
	if v := d.header(forestMagic); d.err == nil && v != forestVersion {
		d.fail("forest format version %d, this build reads %d", v, forestVersion)
	}
	var c ForestConfig
	c.Dimensions = int(d.u32())
	c.NumberOfTrees = int(d.u32())
	c.SampleSize = int(d.u32())
	c.TimeDecay = d.f64()
	c.ShingleSize = int(d.u32())
	c.OutputAfter = int(d.u32())
	c.Seed = d.u64()
	if d.err != nil {
		return nil, d.err
	}
	if c.Dimensions == 0 || c.NumberOfTrees == 0 || c.SampleSize == 0 || c.TimeDecay == 0 ||
		c.ShingleSize == 0 || c.OutputAfter == 0 {
		d.fail("zero parameter in configuration")
		return nil, d.err
	}
	if err := c.Validate(); err != nil {
		d.fail("%v", err)
		return nil, d.err
	}
	f := &Forest{cfg: c}
	f.init()
	f.updates = d.i64()
	f.base = d.i64()
	f.records = d.i64()
	if f.updates < 0 || f.base < 0 || f.base > f.updates || f.records < 0 {
		d.fail("bad counters")
	}
	shingle := d.f64s(f.dim)
	if d.err == nil && len(shingle) != f.dim {
		d.fail("shingle of %d values, want %d", len(shingle), f.dim)
	}
	copy(f.shingle, shingle)

	maxSlots := c.NumberOfTrees*c.SampleSize + 1
	st := f.store
	st.values = d.f64s(maxSlots * f.dim)
	st.refs = d.i32s(maxSlots)
	st.free = d.i32s(maxSlots)
	if d.err != nil {
		return nil, d.err
	}
	if len(st.values) != len(st.refs)*f.dim {
		d.fail("point store sizes disagree")
		return nil, d.err
	}
	for _, v := range st.values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.fail("point store holds %v", v)
			return nil, d.err
		}
	}
	st.hash = make([]uint32, len(st.refs))
	for i := range st.refs {
		st.hash[i] = hashPoint(st.point(int32(i)))
	}

	master := splitMix64{state: c.Seed}
	for i := range f.trees {
		t := newTree(f.dim, c.SampleSize, master.next(), st)
		t.rng.state = d.u64()
		t.root = d.i32()
		t.size = d.i32()
		for n := range t.cut {
			t.cut[n].cutVal = d.f64()
			t.cut[n].child[0] = int16(d.u16())
			t.cut[n].child[1] = int16(d.u16())
			t.cut[n].cutDim = d.u16()
		}
		t.freeNodes = d.i32s(c.SampleSize - 1)
		t.leafPoint = fixedInt32s(d, c.SampleSize)
		t.leafMass = fixedInt32s(d, c.SampleSize)
		t.freeLeaves = d.i32s(c.SampleSize)
		if d.err != nil {
			return nil, d.err
		}
		if err := t.rebuild(); err != nil {
			d.fail("tree %d: %v", i, err)
			return nil, d.err
		}
		f.trees[i] = t
		master.next() // the sampler's seed, superseded by its saved state
	}
	for i := range f.samplers {
		s := newSampler(c.SampleSize, 0)
		s.rng.state = d.u64()
		s.weight = d.f64s(c.SampleSize)
		s.ref = d.i32s(c.SampleSize)
		if d.err != nil {
			return nil, d.err
		}
		if len(s.weight) != len(s.ref) {
			d.fail("sampler %d sizes disagree", i)
			return nil, d.err
		}
		s.refreshMax()
		f.samplers[i] = s
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := f.checkForest(); err != nil {
		d.fail("%v", err)
		return nil, d.err
	}
	return f, nil
}

// fixedInt32s reads an i32s that must have exactly n elements.
func fixedInt32s(d *dec, n int) []int32 {
	v := d.i32s(n)
	if d.err == nil && len(v) != n {
		d.fail("array of %d, want %d", len(v), n)
	}
	return v
}

// rebuild checks that the decoded arrays form a tree (every reference in
// range, nothing reached twice, leaves pointing at live store slots) and
// recomputes the derived data: leaf hashes and bounding boxes.
func (t *tree) rebuild() error {
	if t.root == noNode {
		return t.checkTree()
	}
	nodeSeen := make([]bool, t.capacity-1)
	leafSeen := make([]bool, t.capacity)
	valid := func(ref int32) error {
		if ref < 0 {
			l := ^ref
			if l < 0 || int(l) >= t.capacity || leafSeen[l] {
				return fmt.Errorf("bad leaf reference %d", ref)
			}
			leafSeen[l] = true
			p := t.leafPoint[l]
			if p < 0 || int(p) >= len(t.store.refs) {
				return fmt.Errorf("leaf %d refers to slot %d", l, p)
			}
			t.leafHash[l] = t.store.hash[p]
			return nil
		}
		if int(ref) >= t.capacity-1 || nodeSeen[ref] {
			return fmt.Errorf("bad node reference %d", ref)
		}
		if int(t.cut[ref].cutDim) >= t.dim {
			return fmt.Errorf("node %d cuts dimension %d", ref, t.cut[ref].cutDim)
		}
		nodeSeen[ref] = true
		return nil
	}
	if err := valid(t.root); err != nil {
		return err
	}
	// Iterative post-order: a node's box is computed after its children's.
	type frame struct {
		n        int32
		expanded bool
	}
	stack := []frame{{n: t.root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.n < 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		if !top.expanded {
			top.expanded = true
			l, r := t.left(top.n), t.right(top.n)
			if err := valid(l); err != nil {
				return err
			}
			if err := valid(r); err != nil {
				return err
			}
			stack = append(stack, frame{n: l}, frame{n: r})
			continue
		}
		t.recomputeBox(top.n)
		stack = stack[:len(stack)-1]
	}
	return t.checkTree()
}
