package reference

import "unsafe"

// HeapBytes is the memory the forest's arrays hold (their capacities), the
// figure `sluice bench rcf` reports as bytes per forest.
func (f *Forest) HeapBytes() int {
	n := int(unsafe.Sizeof(*f))
	n += 8*cap(f.store.values) + 4*cap(f.store.refs) + 4*cap(f.store.hash) + 4*cap(f.store.free)
	for _, t := range f.trees {
		n += int(unsafe.Sizeof(*t))
		n += int(unsafe.Sizeof(cutNode{}))*cap(t.cut) + 8*cap(t.box) + 4*cap(t.freeNodes)
		n += 4 * (cap(t.leafHash) + cap(t.leafPoint) + cap(t.leafMass) + cap(t.freeLeaves))
	}
	for _, s := range f.samplers {
		n += int(unsafe.Sizeof(*s)) + 8*cap(s.weight) + 4*cap(s.ref)
	}
	n += 8 * (len(f.trees) + len(f.samplers))
	g := f.gs
	n += int(unsafe.Sizeof(*g)) + 4*cap(g.pathBuf)
	return n
}
