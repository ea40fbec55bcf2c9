package anomaly

// Scoring a record reads one root-to-leaf path in every tree. Each step of a
// path is a dependent load (the next node is known only once the current one
// is read), so one tree at a time leaves the core waiting on the cache for
// most of a descent. Walking groupSize trees in lockstep interleaves
// independent chains of loads, which the CPU overlaps; the arithmetic per
// tree is exactly that of tree.score, so scores are unchanged bit for bit.
const groupSize = 8

// groupScratch holds the per-tree state of a lockstep pass.
type groupScratch struct {
	cur     [groupSize]int32
	pathBuf []int32 // groupSize paths of up to capacity nodes each
	depth   [groupSize]int32
	stride  int
	level   [groupSize]int
	s       [groupSize]float64
	done    [groupSize]bool
	out     [groupSize]float64
	sink    float64

	// Update batches: the trees, their samplers' verdicts and points.
	trees   [groupSize]*tree
	evicted [groupSize]int32
	queries [groupSize][]float64
}

func newGroupScratch(capacity int) *groupScratch {
	g := &groupScratch{}
	g.pathBuf = make([]int32, groupSize*capacity)
	g.stride = capacity
	return g
}

// path is tree k's recorded path, root first.
func (g *groupScratch) path(k int) []int32 {
	o := k * g.stride
	return g.pathBuf[o : o+int(g.depth[k])]
}

// descendGroup records each tree's path to q's leaf (see path) and leaves
// the leaf reference (or noNode for an empty tree) in g.cur.
func descendGroup(grp []*tree, q []float64, g *groupScratch) {
	active := 0
	for k, t := range grp {
		g.cur[k] = t.root
		g.depth[k] = 0
		if t.root >= 0 {
			active++
		}
	}
	buf, stride := g.pathBuf, g.stride
	for active > 0 {
		for k, t := range grp {
			n := g.cur[k]
			if n < 0 {
				continue
			}
			buf[k*stride+int(g.depth[k])] = n
			g.depth[k]++
			n = t.next(n, q)
			g.cur[k] = n
			if n < 0 {
				active--
			}
		}
	}
}

// descendGroupEach is descendGroup with a query point per tree.
func descendGroupEach(grp []*tree, qs [][]float64, g *groupScratch) {
	active := 0
	for k, t := range grp {
		g.cur[k] = t.root
		g.depth[k] = 0
		if t.root >= 0 {
			active++
		}
	}
	buf, stride := g.pathBuf, g.stride
	for active > 0 {
		for k, t := range grp {
			n := g.cur[k]
			if n < 0 {
				continue
			}
			buf[k*stride+int(g.depth[k])] = n
			g.depth[k]++
			n = t.next(n, qs[k])
			g.cur[k] = n
			if n < 0 {
				active--
			}
		}
	}
}

// scoreGroup writes tree.score(q) of each tree of grp into g.out (0 for an
// empty tree).
func scoreGroup(grp []*tree, q []float64, h uint32, g *groupScratch) {
	descendGroup(grp, q, g)
	if grp[0].dim >= 8 {
		// Boxes of a few dimensions share cache lines and are cheap to
		// reach; wide ones span several lines each.
		touchBoxes(grp, g)
	}
	pending := 0
	for k, t := range grp {
		g.done[k] = true
		g.out[k] = 0
		if g.cur[k] == noNode {
			continue
		}
		leaf := ^g.cur[k]
		depth := int(g.depth[k])
		if t.isLeafPoint(leaf, q, h) {
			m, tm := t.leafMass[leaf], t.totalMass()
			g.out[k] = damp(m, tm) * scoreSeen(depth, m) * normaliser(tm)
			continue
		}
		g.done[k] = false
		g.s[k] = scoreUnseen(depth)
		g.level[k] = depth - 1
		pending++
	}
	for pending > 0 {
		for k, t := range grp {
			if g.done[k] {
				continue
			}
			i := g.level[k]
			stop := i < 0
			if !stop {
				var p float64
				var ok bool
				if t.dim == 1 {
					// The common one-column case, inlined (same arithmetic).
					o := 2 * int(g.pathBuf[k*g.stride+i])
					l, h, x := t.box[o], t.box[o+1], q[0]
					nr := max(h, x) - min(l, x)
					if nr > 0 {
						p = (nr - (h - l)) / nr
						ok = p > 0
					}
				} else {
					p, ok = separation(t.nodeBox(g.pathBuf[k*g.stride+i]), q, t.dim)
				}
				if ok {
					g.s[k] = p*scoreUnseen(i) + (1-p)*g.s[k]
					g.level[k] = i - 1
				} else {
					stop = true
				}
			}
			if stop {
				g.out[k] = g.s[k] * normaliser(t.totalMass())
				g.done[k] = true
				pending--
			}
		}
	}
}

// separation is the probability that a random cut of box b grown to contain
// q separates q, as AbstractScalarScoreVisitor computes it: per dimension
// the range of the grown box, and how much it grew. ok is false where the
// walk stops, q inside the box.
//
// The library skips dimensions it already found to hold q; here every
// dimension is computed without a branch instead. The sums are bit for bit
// the same: for a dimension holding q, max(hi,x)-min(lo,x) is exactly hi-lo,
// the range the library adds, and the growth is exactly 0.
func separation(b, q []float64, d int) (p float64, ok bool) {
	lo, hi := b[:d:d], b[d:2*d:2*d]
	q = q[:d:d]
	sumNew, sumDiff := 0.0, 0.0
	for j := range q {
		l, h, x := lo[j], hi[j], q[j]
		nr := max(h, x) - min(l, x)
		sumNew += nr
		sumDiff += nr - (h - l)
	}
	if sumNew <= 0 {
		return 0, false
	}
	p = sumDiff / sumNew
	return p, p > 0
}

// touchBoxes loads the boxes of the lowest levels of every path of the
// group, one independent load per cache line, before the walk up needs
// them: the walk itself is a chain of dependent steps per tree, while these
// loads overlap freely.
func touchBoxes(grp []*tree, g *groupScratch) {
	sink := 0.0
	for k, t := range grp {
		path := g.path(k)
		w := 2 * t.dim
		for i := len(path) - 1; i >= max(0, len(path)-8); i-- {
			b := t.box[int(path[i])*w : int(path[i]+1)*w]
			for j := 0; j < len(b); j += 8 {
				sink += b[j]
			}
		}
	}
	g.sink = sink
}
