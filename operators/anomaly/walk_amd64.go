//go:build amd64 && !purego

package anomaly

import "unsafe"

func separationsImpl(t *tree, q []float64, n int32, out []float64) int {
	return separationsAsm(unsafe.SliceData(t.box), unsafe.SliceData(t.boxSlot), unsafe.SliceData(t.nodes), unsafe.SliceData(q), t.dim, n, unsafe.SliceData(out))
}

// separationsAsm is separationsGo over raw arrays: box slots, box slot of
// each internal node and nodes of the tree, q of d values, starting at node
// n (an internal node whose box, like its ancestors', is cached), writing to
// out. The caller guarantees the bounds (tree invariants).
//
//go:noescape
func separationsAsm(box *float64, slots *int16, nodes *node, q *float64, d int, n int32, out *float64) int
