package anomaly

import (
	"fmt"
	"math"
)

// Snapshot format of a Forest, version 2 (integers little-endian; uv is an
// unsigned varint as encoding/binary writes it):
//
//	"SRCF" u16(version)
//	config: u32 Dimensions, u32 NumberOfTrees, u32 SampleSize, f64 TimeDecay,
//	        u32 ShingleSize, u32 OutputAfter, u64 Seed
//	i64 updates, i64 rebase point, i64 records seen
//	f64s shingle ring
//	points: f64s, the values of every point some tree holds, each once
//	per tree: u64 rng state, uv leaves L, then the tree in preorder
//	          (2L-1 entries, left before right): an internal node is
//	          uv(2*cut dimension) then f64 cut value, a leaf uv(2*point+1)
//	per sampler: u64 rng state, uv n, then n times f64 priority and
//	          uv leaf (the leaf's number in its tree's preorder), in heap order
//
// (f64s is a u32 count followed by the values.) The encoding is canonical:
// points are numbered in order of first appearance (trees in order, leaves
// in preorder) and nodes by their place in the preorder, so that it depends
// only on the forest's logical state (the trees' shapes and cuts, the
// samples and their heaps, the generators), never on how memory slots were
// reused or how records were batched. Everything derived is recomputed on
// restore: bounding boxes, hashes, leaf masses (a leaf's copies are its
// sampler's entries for it) and reference counts. A restored forest is laid
// out afresh in preorder and continues bit for bit as the original would
// have: node and slot numbers never influence a score.
//
// Version 1 (the previous layout) is still read and migrated; see
// decodeForestV1.
const (
	forestMagic     = "SRCF"
	forestVersion   = 2
	forestVersionV1 = 1
)

// MarshalBinary encodes the forest's complete state.
func (f *Forest) MarshalBinary() ([]byte, error) {
	e := &enc{}
	f.encode(e)
	return e.b, nil
}

func (f *Forest) encode(e *enc) {
	e.header(forestMagic, forestVersion)
	encodeConfig(e, f.cfg)
	e.i64(f.updates)
	e.i64(f.base)
	e.i64(f.records)
	e.f64s(f.shingle)

	// Number the points in order of first appearance and list each tree in
	// preorder.
	st := f.store
	canon := make([]int32, len(st.refs))
	for i := range canon {
		canon[i] = -1
	}
	var order []int32
	pre := make([][]int32, len(f.trees))
	leafNo := make([][]int32, len(f.trees)) // per tree: leaf reference - leafBase → preorder leaf number
	var stack []int32
	for i, t := range f.trees {
		leafNo[i] = make([]int32, t.capacity)
		if t.root == noParent {
			continue
		}
		seq := make([]int32, 0, 2*t.capacity-1)
		nl := int32(0)
		stack = append(stack[:0], t.root)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			seq = append(seq, n)
			if t.isLeaf(n) {
				leafNo[i][n-t.leafBase] = nl
				nl++
				if s := t.leafSlot(n); canon[s] < 0 {
					canon[s] = int32(len(order))
					order = append(order, s)
				}
				continue
			}
			stack = append(stack, t.right(n), t.left(n))
		}
		pre[i] = seq
	}
	e.u32(uint32(len(order) * f.dim))
	for _, s := range order {
		for _, v := range st.point(s) {
			e.f64(v)
		}
	}
	for i, t := range f.trees {
		e.u64(t.rng.state)
		e.uvarint(uint64((len(pre[i]) + 1) / 2))
		for _, n := range pre[i] {
			if t.isLeaf(n) {
				e.uvarint(2*uint64(canon[t.leafSlot(n)]) + 1)
				continue
			}
			nd := &t.nodes[n]
			e.uvarint(2 * uint64(nd.dim))
			e.f64(nd.val)
		}
	}
	for i, s := range f.samplers {
		t := f.trees[i]
		// The slot of each of the tree's leaves, to find a sample's leaf.
		byslot := make(map[int32]int32, t.capacity)
		for _, n := range pre[i] {
			if t.isLeaf(n) {
				byslot[t.leafSlot(n)] = leafNo[i][n-t.leafBase]
			}
		}
		e.u64(s.rng.state)
		e.uvarint(uint64(len(s.weight)))
		for k, w := range s.weight {
			e.f64(w)
			e.uvarint(uint64(byslot[s.ref[k]]))
		}
	}
}

func encodeConfig(e *enc, c ForestConfig) {
	e.u32(uint32(c.Dimensions))
	e.u32(uint32(c.NumberOfTrees))
	e.u32(uint32(c.SampleSize))
	e.f64(c.TimeDecay)
	e.u32(uint32(c.ShingleSize))
	e.u32(uint32(c.OutputAfter))
	e.u64(c.Seed)
}

// UnmarshalBinary replaces f with the forest encoded in b (format version 2,
// or version 1, which is migrated). The snapshot is validated in full
// (every tree invariant, every sampler against its tree); on error f is
// unchanged and the error wraps ErrCorruptSnapshot.
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

// logicalForest is a forest's state as snapshots describe it, independent
// of memory layout: both format versions decode into it, and assemble lays
// it out.
type logicalForest struct {
	cfg                    ForestConfig
	updates, base, records int64
	shingle                []float64
	point                  func(slot int32) []float64 // the values of a slot of the source's numbering
	slots                  int                        // slots of the source's numbering
	trees                  []logicalTree
	samplers               []logicalSampler
	// v1 holds what version 1 stored but version 2 derives, to be checked.
	v1 *v1Derived
}

// logicalTree is a tree in preorder.
type logicalTree struct {
	rng     uint64
	entries []logicalNode
	// v1Masses are version 1's leaf masses, in preorder.
	v1Masses []int32
}

type logicalNode struct {
	leaf bool
	dim  uint16
	val  float64 // cut value
	slot int32   // leaf: point slot in the source's numbering
}

// logicalSampler is a sampler's heap: priorities and, per entry, the leaf
// (number in its tree's preorder) or, for version 1, the slot.
type logicalSampler struct {
	rng    uint64
	weight []float64
	ref    []int32
}

func decodeConfig(d *dec) (ForestConfig, error) {
	var c ForestConfig
	c.Dimensions = int(d.u32())
	c.NumberOfTrees = int(d.u32())
	c.SampleSize = int(d.u32())
	c.TimeDecay = d.f64()
	c.ShingleSize = int(d.u32())
	c.OutputAfter = int(d.u32())
	c.Seed = d.u64()
	if d.err != nil {
		return c, d.err
	}
	if c.Dimensions == 0 || c.NumberOfTrees == 0 || c.SampleSize == 0 || c.TimeDecay == 0 ||
		c.ShingleSize == 0 || c.OutputAfter == 0 {
		d.fail("zero parameter in configuration")
		return c, d.err
	}
	if err := c.Validate(); err != nil {
		d.fail("%v", err)
		return c, d.err
	}
	return c, nil
}

// decodeHead reads the counters and the shingle ring, common to both
// versions.
func decodeHead(d *dec, lf *logicalForest) {
	lf.updates = d.i64()
	lf.base = d.i64()
	lf.records = d.i64()
	if lf.updates < 0 || lf.base < 0 || lf.base > lf.updates || lf.records < 0 {
		d.fail("bad counters")
	}
	dim := lf.cfg.Dimensions * lf.cfg.ShingleSize
	lf.shingle = d.f64s(dim)
	if d.err == nil && len(lf.shingle) != dim {
		d.fail("shingle of %d values, want %d", len(lf.shingle), dim)
	}
}

func decodeForest(d *dec) (*Forest, error) {
	v := d.header(forestMagic)
	if d.err != nil {
		return nil, d.err
	}
	switch v {
	case forestVersion:
	case forestVersionV1:
		return decodeForestV1(d)
	default:
		d.fail("forest format version %d, this build reads %d and %d", v, forestVersionV1, forestVersion)
		return nil, d.err
	}
	lf := &logicalForest{}
	var err error
	if lf.cfg, err = decodeConfig(d); err != nil {
		return nil, err
	}
	c := lf.cfg
	decodeHead(d, lf)
	dim := c.Dimensions * c.ShingleSize
	maxSlots := c.NumberOfTrees * c.SampleSize
	vals := d.f64s(maxSlots * dim)
	if d.err != nil {
		return nil, d.err
	}
	if len(vals)%dim != 0 {
		d.fail("points of %d values, not whole points", len(vals))
		return nil, d.err
	}
	lf.slots = len(vals) / dim
	lf.point = func(s int32) []float64 { return vals[int(s)*dim : int(s+1)*dim] }
	lf.trees = make([]logicalTree, c.NumberOfTrees)
	for i := range lf.trees {
		lt := &lf.trees[i]
		lt.rng = d.u64()
		leaves := int(d.uvarint(uint64(c.SampleSize)))
		if leaves == 0 {
			continue
		}
		lt.entries = make([]logicalNode, 0, 2*leaves-1)
		for k := 0; k < 2*leaves-1 && d.err == nil; k++ {
			tag := d.uvarint(math.MaxUint32)
			if tag%2 == 1 {
				lt.entries = append(lt.entries, logicalNode{leaf: true, slot: int32(tag / 2)})
				continue
			}
			if tag/2 >= uint64(dim) {
				d.fail("tree %d cuts dimension %d", i, tag/2)
				break
			}
			lt.entries = append(lt.entries, logicalNode{dim: uint16(tag / 2), val: d.f64()})
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	lf.samplers = make([]logicalSampler, c.NumberOfTrees)
	for i := range lf.samplers {
		ls := &lf.samplers[i]
		ls.rng = d.u64()
		n := int(d.uvarint(uint64(c.SampleSize)))
		ls.weight = make([]float64, 0, n)
		ls.ref = make([]int32, 0, n)
		for k := 0; k < n && d.err == nil; k++ {
			ls.weight = append(ls.weight, d.f64())
			ls.ref = append(ls.ref, int32(d.uvarint(uint64(c.SampleSize))))
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	return assemble(d, lf)
}

// assemble lays out a decoded forest: points renumbered by first appearance,
// every tree's nodes numbered in preorder (so that a restored tree's
// descents read nodes in the order they are laid out), boxes, hashes, masses
// and reference counts derived, then everything validated (checkForest).
func assemble(d *dec, lf *logicalForest) (*Forest, error) {
	c := lf.cfg
	for _, v := range lf.shingle {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.fail("shingle holds %v", v)
			return nil, d.err
		}
	}
	f := &Forest{cfg: c}
	f.init()
	f.updates, f.base, f.records = lf.updates, lf.base, lf.records
	copy(f.shingle, lf.shingle)
	st := f.store
	canon := make([]int32, lf.slots)
	for i := range canon {
		canon[i] = -1
	}
	master := splitMix64{state: c.Seed}
	leafSlots := make([][]int32, len(lf.trees)) // per tree, per preorder leaf: new slot
	for i := range lf.trees {
		lt := &lf.trees[i]
		t := newTree(f.dim, c.SampleSize, master.next(), st)
		master.next() // the sampler's seed, superseded by its saved state
		t.rng.state = lt.rng
		for _, e := range lt.entries {
			if !e.leaf {
				if math.IsNaN(e.val) {
					d.fail("tree %d has a NaN cut", i)
					return nil, d.err
				}
				continue
			}
			if e.slot < 0 || int(e.slot) >= lf.slots {
				d.fail("tree %d refers to point %d of %d", i, e.slot, lf.slots)
				return nil, d.err
			}
			if canon[e.slot] < 0 {
				p := lf.point(e.slot)
				for _, v := range p {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						d.fail("point store holds %v", v)
						return nil, d.err
					}
				}
				canon[e.slot] = st.add(p, hashPoint(p))
			}
			leafSlots[i] = append(leafSlots[i], canon[e.slot])
		}
		if err := t.build(lt.entries, canon); err != nil {
			d.fail("tree %d: %v", i, err)
			return nil, d.err
		}
		f.trees[i] = t
	}
	if len(st.refs) != lf.slots && lf.v1 == nil {
		d.fail("%d points of which only %d are in a tree", lf.slots, len(st.refs))
		return nil, d.err
	}
	for i := range lf.samplers {
		ls := &lf.samplers[i]
		t := f.trees[i]
		s := newSampler(c.SampleSize, 0)
		s.rng.state = ls.rng
		s.weight = ls.weight
		s.ref = make([]int32, len(ls.ref))
		for k, r := range ls.ref {
			if lf.v1 != nil {
				if r < 0 || int(r) >= lf.slots || canon[r] < 0 {
					d.fail("sampler %d refers to slot %d, in no tree", i, r)
					return nil, d.err
				}
				s.ref[k] = canon[r]
			} else {
				if int(r) >= len(leafSlots[i]) {
					d.fail("sampler %d refers to leaf %d of %d", i, r, len(leafSlots[i]))
					return nil, d.err
				}
				s.ref[k] = leafSlots[i][r]
			}
			st.retain(s.ref[k])
		}
		s.refreshMax()
		f.samplers[i] = s
		if err := t.takeMasses(s.ref); err != nil {
			d.fail("tree %d: %v", i, err)
			return nil, d.err
		}
	}
	if lf.v1 != nil {
		if err := lf.v1.check(f, lf, canon); err != nil {
			d.fail("%v", err)
			return nil, d.err
		}
	}
	for s, n := range st.refs {
		if n == 0 {
			d.fail("point %d is in a tree but in no sample", s)
			return nil, d.err
		}
	}
	if err := f.checkForest(); err != nil {
		d.fail("%v", err)
		return nil, d.err
	}
	return f, nil
}

// build lays out the tree given in preorder, numbering internal nodes and
// leaves in the order they come, and computes the boxes. canon maps the
// entries' slots to store slots. Leaf masses are set by takeMasses.
func (t *tree) build(entries []logicalNode, canon []int32) error {
	if len(entries) == 0 {
		return nil
	}
	nInternal := 0
	for _, e := range entries {
		if !e.leaf {
			nInternal++
		}
	}
	if len(entries) != 2*nInternal+1 || nInternal > t.capacity-1 {
		return fmt.Errorf("preorder of %d entries with %d internal nodes", len(entries), nInternal)
	}
	// The stack holds the internal nodes still missing a child, and which.
	type open struct {
		n     int32
		right bool
	}
	stack := make([]open, 0, 64)
	nextNode, nextLeaf := int32(0), t.leafBase
	t.root = noParent
	for k, e := range entries {
		var n int32
		if e.leaf {
			n = nextLeaf
			nextLeaf++
			s := canon[e.slot]
			t.setLeaf(n, s, t.store.hash[s])
		} else {
			n = nextNode
			nextNode++
			nd := &t.nodes[n]
			nd.val, nd.dim = e.val, e.dim
		}
		if k == 0 {
			t.root = n
			t.nodes[n].parent = noParent
		} else {
			if len(stack) == 0 {
				return fmt.Errorf("preorder has entries past its end")
			}
			top := &stack[len(stack)-1]
			t.nodes[n].parent = int16(top.n)
			t.nodes[top.n].child[b2i(top.right)] = int16(n)
			if top.right {
				stack = stack[:len(stack)-1]
			} else {
				top.right = true
			}
		}
		if !e.leaf {
			stack = append(stack, open{n: n})
		}
	}
	if len(stack) != 0 {
		return fmt.Errorf("preorder ends early")
	}
	// Children come after their parents in preorder, so leaf counts and
	// boxes computed in reverse order have their children's ready.
	for n := nextNode - 1; n >= 0; n-- {
		t.setLeafCount(n, t.leafCount(t.left(n))+t.leafCount(t.right(n)))
	}
	t.freeNodes = t.freeNodes[:0]
	for n := int32(t.capacity - 2); n >= nextNode; n-- {
		t.freeNodes = append(t.freeNodes, int16(n))
	}
	t.freeLeaves = t.freeLeaves[:0]
	for n := int32(len(t.nodes) - 1); n >= nextLeaf; n-- {
		t.freeLeaves = append(t.freeLeaves, int16(n))
	}
	return nil
}

// takeMasses sets the leaves' masses and the tree's size from its sampler's
// slots: each entry is one copy of a point, whose leaf must be where the
// cuts lead.
func (t *tree) takeMasses(refs []int32) error {
	clear(t.mass)
	t.size = 0
	if t.root == noParent {
		if len(refs) != 0 {
			return fmt.Errorf("empty tree, sampler holds %d points", len(refs))
		}
		return nil
	}
	for _, r := range refs {
		l, _ := t.findLeaf(t.store.point(r))
		if t.leafSlot(l) != r {
			return fmt.Errorf("sampled point %d is not a leaf of the tree", r)
		}
		t.mass[l-t.leafBase]++
		t.size++
	}
	// build numbered the leaves in use first.
	used := t.capacity - len(t.freeLeaves)
	for _, m := range t.mass[:used] {
		if m == 0 {
			return fmt.Errorf("a leaf holds a point its sampler does not")
		}
	}
	return nil
}
