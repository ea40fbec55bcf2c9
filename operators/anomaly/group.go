package anomaly

// Scoring reads one root-to-leaf path per tree and point. Each step of a
// path is a dependent load (the next node is known only once the current
// one is read), so one path at a time leaves the core waiting on the cache
// for most of a descent. The worker queues (tree, point) pairs and descends
// groupSize of them in lockstep, which interleaves independent chains of
// loads that the CPU overlaps: in a batch they are mostly several points of
// one tree (whose arrays are then in the cache), for a single record the
// point in several trees. The arithmetic per pair is exactly that of
// tree.score and tree.attribution, so scores do not depend on the grouping.
const groupSize = 8

// worker holds the scratch of a pass over the trees: the queue of pairs to
// score, their lockstep descents, and the store reference changes the
// pass's updates make (applied by Forest.settle).
type worker struct {
	sc *scratch

	n     int // queued pairs
	tree  [groupSize]*tree
	point [groupSize]int32
	leaf  [groupSize]int32
	depth [groupSize]int32
	sink  float64

	retains, releases []int32
}

func newWorker(dim, capacity int) *worker {
	return &worker{sc: newScratch(dim, capacity)}
}

func (w *worker) reset() {
	w.n = 0
	w.retains, w.releases = w.retains[:0], w.releases[:0]
}

// queue adds the pair (t, point k) to the group, scoring the group when it
// is full.
func (w *worker) queue(f *Forest, t *tree, k int32) {
	w.tree[w.n], w.point[w.n] = t, k
	w.n++
	if w.n == groupSize {
		w.flush(f)
	}
}

// queuedFor reports whether a pair of tree t waits in the group.
func (w *worker) queuedFor(t *tree) bool { return w.n > 0 && w.tree[w.n-1] == t }

// flush scores the queued pairs and adds their scores (and attributions)
// to the batch's sums, in queue order: a point's sums take the trees in
// tree order, as a tree-at-a-time loop would.
func (w *worker) flush(f *Forest) {
	if w.n == 0 {
		return
	}
	b := &f.b
	dim := f.dim
	for k := 0; k < w.n; k += 4 {
		w.descend4(b, dim, k)
	}
	if b.explain {
		if dim >= touchBoxDims {
			w.touchBoxes()
		}
		w.touchLeafPoints()
		sc := w.sc
		for k := 0; k < w.n; k++ {
			t, p := w.tree[k], w.point[k]
			q := b.point(p, dim)
			b.sum[p] += t.attributionFrom(q, b.hash[p], w.leaf[k], int(w.depth[k]), sc)
			acc := b.acc[int(p)*2*dim : (int(p)+1)*2*dim]
			for j := 0; j < dim; j++ {
				acc[j] += sc.high[j]
				acc[dim+j] += sc.low[j]
			}
		}
		w.n = 0
		return
	}
	// The walks up are done a pair at a time: a walk is short (it stops
	// at the first box that holds the point) and its box reads do not
	// depend on each other.
	for k := 0; k < w.n; k++ {
		t, p := w.tree[k], w.point[k]
		b.sum[p] += t.scoreFrom(b.point(p, dim), b.hash[p], w.leaf[k], int(w.depth[k]), w.sc)
	}
	w.n = 0
}

// descend4 descends queued pairs k..k+3 (those that exist; a missing one
// repeats pair k) in lockstep, recording each one's leaf and depth. The
// four chains of dependent loads are independent of each other, so the CPU
// overlaps them; a descent that has reached its leaf stays there (a leaf's
// children are itself) until all four have, so the loop has no
// per-descent branch. All trees of a forest share leafBase.
func (w *worker) descend4(b *batch, dim, k int) {
	i1, i2, i3 := min(k+1, w.n-1), min(k+2, w.n-1), min(k+3, w.n-1)
	t0, t1, t2, t3 := w.tree[k], w.tree[i1], w.tree[i2], w.tree[i3]
	nd0, nd1, nd2, nd3 := t0.nodes, t1.nodes, t2.nodes, t3.nodes
	n0, n1, n2, n3 := t0.root, t1.root, t2.root, t3.root
	base := t0.leafBase
	var d0, d1, d2, d3 int32
	if dim == 1 {
		x0, x1, x2, x3 := b.pts[w.point[k]], b.pts[w.point[i1]], b.pts[w.point[i2]], b.pts[w.point[i3]]
		for min(n0, n1, n2, n3) < base {
			c0, c1, c2, c3 := &nd0[n0], &nd1[n1], &nd2[n2], &nd3[n3]
			d0 += int32(b2i(n0 < base))
			d1 += int32(b2i(n1 < base))
			d2 += int32(b2i(n2 < base))
			d3 += int32(b2i(n3 < base))
			n0 = int32(c0.child[b2i(x0 > c0.val)&1])
			n1 = int32(c1.child[b2i(x1 > c1.val)&1])
			n2 = int32(c2.child[b2i(x2 > c2.val)&1])
			n3 = int32(c3.child[b2i(x3 > c3.val)&1])
		}
	} else {
		q0, q1, q2, q3 := b.point(w.point[k], dim), b.point(w.point[i1], dim), b.point(w.point[i2], dim), b.point(w.point[i3], dim)
		for min(n0, n1, n2, n3) < base {
			c0, c1, c2, c3 := &nd0[n0], &nd1[n1], &nd2[n2], &nd3[n3]
			d0 += int32(b2i(n0 < base))
			d1 += int32(b2i(n1 < base))
			d2 += int32(b2i(n2 < base))
			d3 += int32(b2i(n3 < base))
			n0 = int32(c0.child[b2i(q0[c0.dim] > c0.val)&1])
			n1 = int32(c1.child[b2i(q1[c1.dim] > c1.val)&1])
			n2 = int32(c2.child[b2i(q2[c2.dim] > c2.val)&1])
			n3 = int32(c3.child[b2i(q3[c3.dim] > c3.val)&1])
		}
	}
	w.leaf[k], w.depth[k] = n0, d0
	w.leaf[i1], w.depth[i1] = n1, d1
	w.leaf[i2], w.depth[i2] = n2, d2
	w.leaf[i3], w.depth[i3] = n3, d3
}

// touchLeafPoints loads the point of every leaf the queued descents
// reached, one independent load per cache line, before the explanation
// reads them one pair at a time: each is a point the store keeps apart
// from the trees, rarely in cache.
// touchBoxDims is the dimension from which touchBoxes pays for itself,
// and touchBoxLevels how many boxes above a leaf it loads.
const touchBoxDims, touchBoxLevels = 8, 8

// touchBoxes loads the boxes of the lowest touchBoxLevels internal nodes
// on every queued pair's path, one load per cache line, before the
// explanation walks them one tree at a time. The explanation walk reads
// every box up to where the point's dimensions are all inside, much
// further than the score walk, and a box at 10 dimensions is three cache
// lines kept apart from the nodes: walked one pair at a time each level
// waits on a miss, touched here the misses of all pairs overlap. The
// parent links were read on the way down, so they are in the cache.
func (w *worker) touchBoxes() {
	sink := 0.0
	for k := 0; k < w.n; k++ {
		t := w.tree[k]
		bw := 2 * t.dim
		n := t.parent(w.leaf[k])
		for l := 0; l < touchBoxLevels && n != noParent; l, n = l+1, t.parent(n) {
			if !t.cached(n) {
				continue
			}
			o := int(t.boxSlot[n]) * bw
			b := t.box[o : o+bw]
			for j := 0; j < len(b); j += 8 {
				sink += b[j]
			}
			sink += b[len(b)-1]
		}
	}
	w.sink += sink
}

func (w *worker) touchLeafPoints() {
	sink := 0.0
	for k := 0; k < w.n; k++ {
		t := w.tree[k]
		pt := t.store.point(t.leafSlot(w.leaf[k]))
		for j := 0; j < len(pt); j += 8 {
			sink += pt[j]
		}
		sink += pt[len(pt)-1]
	}
	w.sink += sink
}
