package anomaly

import "unsafe"

// HeapBytes is the memory the forest holds: its structs and the capacities
// of their arrays, including the scratch of the last ProcessBatch call (a
// batch of one record for Process). `sluice bench rcf` reports it as bytes
// per forest. It walks the arrays' headers only, so it is cheap; it is not
// safe to call concurrently with Process.
func (f *Forest) HeapBytes() int {
	n := int(unsafe.Sizeof(*f))
	s := f.store
	n += int(unsafe.Sizeof(*s)) + 8*cap(s.values) + 4*(cap(s.refs)+cap(s.hash)+cap(s.free))
	for _, t := range f.trees {
		n += int(unsafe.Sizeof(*t)) + int(unsafe.Sizeof(node{}))*cap(t.nodes) + 8*cap(t.box) +
			2*(cap(t.mass)+cap(t.freeNodes)+cap(t.freeLeaves)+cap(t.leaves)+cap(t.boxSlot)+cap(t.freeBoxes))
	}
	for _, sm := range f.samplers {
		n += int(unsafe.Sizeof(*sm)) + 8*cap(sm.weight) + 4*cap(sm.ref)
	}
	n += 8 * (cap(f.trees) + cap(f.samplers) + cap(f.shingle))
	b := &f.b
	n += 4*(cap(b.rec)+cap(b.hash)+cap(b.slot)) + cap(b.ready) +
		8*(cap(b.pts)+cap(b.shift)+cap(b.decayed)+cap(b.growth)+cap(b.sum)+cap(b.acc))
	w := f.w
	n += int(unsafe.Sizeof(*w)) + 4*(cap(w.retains)+cap(w.releases))
	sc := w.sc
	n += int(unsafe.Sizeof(*sc)) + 8*(cap(sc.seps)+cap(sc.open)+cap(sc.savedBox)+cap(sc.mergedBox)+cap(sc.runBox)+
		cap(sc.shadow)+cap(sc.sibling)+cap(sc.gapHi)+cap(sc.gapLo)+cap(sc.high)+cap(sc.low))
	return n
}
