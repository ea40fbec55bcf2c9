package anomaly

// The score walk's hot loop: from a node up to the root, the probability at
// each level that a random cut of the node's box grown by q separates q,
// stopping at the first box that holds q. At 10 dimensions this is most of
// a record's cost, and in Go each max and min of floats compiles to about
// five instructions (they must order NaNs and signed zeros); on amd64 it
// runs in assembly (walk_amd64.s) with one MAXSD or MINSD each, which give
// the same values here: there are no NaNs, and where they differ from Go's
// max and min, in the sign of a zero, the sums below cannot tell (they
// start at +0 and adding -0 to them changes nothing). The sums are taken
// in the same order, so the probabilities are bit for bit those of
// separation (TestSeparationsMatchGo).

// separations writes, for node n and its ancestors in turn, the separation
// probability of q (see separation) into out, until the first whose box
// holds q, and returns how many it wrote. out must have room for the depth
// of n plus one.
func (t *tree) separations(q []float64, n int32, out []float64) int {
	if n == noParent {
		return 0
	}
	d := t.dim
	_ = q[d-1]
	_ = out[len(out)-1]
	return separationsImpl(t, q, n, out)
}

// separationsGo is separations in Go: the portable implementation, and the
// oracle of the assembly's tests.
func separationsGo(t *tree, q []float64, n int32, out []float64) int {
	k := 0
	for ; n != noParent; n = int32(t.nodes[n].parent) {
		p, ok := separation(t.nodeBox(n), q, t.dim)
		if !ok {
			break
		}
		out[k] = p
		k++
	}
	return k
}
