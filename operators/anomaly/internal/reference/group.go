package reference

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
	out     [groupSize]float64
	sink    float64

	// Update batches: the trees, their samplers' verdicts and points.
	trees   [groupSize]*tree
	evicted [groupSize]int32
	queries [groupSize][]float64
	// What each tree's removal took out: the internal node freed (noNode
	// if none) and the subtree that took its place.
	freed, repl [groupSize]int32
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
	// The walks up are done a tree at a time: unlike a descent, a walk's
	// loads do not depend on each other (the path is known), so the core
	// overlaps them within one walk, and a per-tree loop carries no
	// bookkeeping of which trees are still walking.
	for k, t := range grp {
		g.out[k] = 0
		if g.cur[k] == noNode {
			continue
		}
		leaf := ^g.cur[k]
		path := g.path(k)
		depth := len(path)
		tm := t.totalMass()
		if t.isLeafPoint(leaf, q, h) {
			m := t.leafMass[leaf]
			g.out[k] = damp(m, tm) * scoreSeen(depth, m) * normaliser(tm)
			continue
		}
		s := scoreUnseen(depth)
		if d := t.dim; d == 1 {
			// The common one-column case, inlined (same arithmetic).
			box, x := t.box, q[0]
			for i := depth - 1; i >= 0; i-- {
				o := 2 * int(path[i])
				lo, hi := box[o], box[o+1]
				nr := max(hi, x) - min(lo, x)
				if !(nr > 0) {
					break
				}
				p := (nr - (hi - lo)) / nr
				if !(p > 0) {
					break
				}
				s = p*scoreUnseen(i) + (1-p)*s
			}
		} else {
			for i := depth - 1; i >= 0; i-- {
				p, ok := separation(t.nodeBox(path[i]), q, d)
				if !ok {
					break
				}
				s = p*scoreUnseen(i) + (1-p)*s
			}
		}
		g.out[k] = s * normaliser(tm)
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

// touchLeafPoints loads the point of every leaf the group's descents reached,
// one independent load per cache line, before the explanation reads them
// one tree at a time: each is a point the store keeps apart from the trees,
// rarely in cache.
func touchLeafPoints(grp []*tree, g *groupScratch) {
	sink := 0.0
	for k, t := range grp {
		if g.cur[k] == noNode {
			continue
		}
		pt := t.store.point(t.leafPoint[^g.cur[k]])
		for j := 0; j < len(pt); j += 8 {
			sink += pt[j]
		}
		sink += pt[len(pt)-1]
	}
	g.sink += sink
}
