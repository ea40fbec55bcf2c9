package anomaly

// scratch holds the buffers one scoring or update pass needs, owned by a
// forest and reused for every tree and record, so that the steady state
// allocates nothing.
type scratch struct {
	seps      []float64 // a walk's separation probabilities, leaf's parent first
	open      []float64 // per dimension: 1 while the query is outside the boxes, then 0
	savedBox  []float64
	mergedBox []float64
	runBox    []float64 // a walk's box while it climbs the uncached levels
	shadow    []float64
	sibling   []float64
	gapHi     []float64
	gapLo     []float64
	high, low []float64 // one tree's attribution
}

func newScratch(dim, capacity int) *scratch {
	return &scratch{
		seps:      make([]float64, capacity),
		open:      make([]float64, dim),
		savedBox:  make([]float64, 2*dim),
		mergedBox: make([]float64, 2*dim),
		runBox:    make([]float64, 2*dim),
		shadow:    make([]float64, 2*dim),
		sibling:   make([]float64, 2*dim),
		gapHi:     make([]float64, dim),
		gapLo:     make([]float64, dim),
		high:      make([]float64, dim),
		low:       make([]float64, dim),
	}
}

// The scoring functions of AWS's random-cut-forest library
// (CommonUtils.defaultScoreSeenFunction and friends), which KDA's
// RANDOM_CUT_FOREST used. depth is the depth of the node (the root is 0),
// mass the number of points below it.

// scoreSeen is the contribution of a leaf equal to the query point.
func scoreSeen(depth int, mass int32) float64 {
	return 1 / (float64(depth) + log2Plus1[mass])
}

// scoreUnseen is the contribution of a node the query is cut off at,
// 1/(depth+1), read from a table: the score walks take it at every level,
// and a division there costs more than the rest of a 1-d level.
func scoreUnseen(depth int) float64 { return invDepthPlus1[depth] }

// invDepthPlus1[d] is 1/(d+1) for every depth a tree can have.
var invDepthPlus1 = func() (t [MaxSampleSize + 1]float64) {
	for d := range t {
		t[d] = 1 / (float64(d) + 1)
	}
	return t
}()

// damp discounts a duplicate by how much of the tree it makes up.
func damp(leafMass, treeMass int32) float64 {
	return 1 - float64(leafMass)/(2*float64(treeMass))
}

// normaliser scales a tree's score by log2(mass+1), the expected depth scale
// of a tree of that mass, so that scores of trees of different masses are
// comparable and an ordinary point scores about 1.
func normaliser(treeMass int32) float64 { return log2Plus1[treeMass] }

// log2Plus1[m] is log2(m+1) for every mass a tree can have, so that scoring
// takes no logarithm.
var log2Plus1 = func() (t [MaxSampleSize + 1]float64) {
	for m := range t {
		t[m] = log2(float64(m) + 1)
	}
	return t
}()

// score computes the tree's anomaly score for q as AWS's AnomalyScoreVisitor
// does: a base score at q's leaf, then, from the leaf's parent up to the
// root, a blend of the current score with scoreUnseen weighted by the
// probability that a random cut of the node's box grown by q separates q;
// the walk stops where q falls inside a box. The tree must not be empty.
func (t *tree) score(q []float64, h uint32, sc *scratch) float64 {
	leaf, depth := t.findLeaf(q)
	return t.scoreFrom(q, h, leaf, depth, sc)
}

// scoreFrom is score given q's leaf and its depth.
func (t *tree) scoreFrom(q []float64, h uint32, leaf int32, depth int, sc *scratch) float64 {
	tm := t.totalMass()
	if t.leafHash(leaf) == h && equalPoints(t.store.point(t.leafSlot(leaf)), q) {
		m := t.leafMass(leaf)
		return damp(m, tm) * scoreSeen(depth, m) * normaliser(tm)
	}
	s := scoreUnseen(depth)
	ps := sc.seps[:depth]
	k := 0
	n := t.parent(leaf)
	if n != noParent && !t.cached(n) {
		// The lower levels: their boxes are the leaf's point grown by the
		// sibling subtrees on the way up.
		d := t.dim
		run := sc.runBox[: 2*d : 2*d]
		pointBox(t.store.point(t.leafSlot(leaf)), run)
		for prev := leaf; n != noParent && !t.cached(n); prev, n = n, t.parent(n) {
			t.unionBounds(t.sibling(n, prev), run)
			p, ok := separation(run, q, d)
			if !ok {
				n = noParent
				break
			}
			ps[k] = p
			k++
		}
	}
	k += t.separations(q, n, ps[k:])
	i := depth - 1
	for _, p := range ps[:k] {
		s = p*scoreUnseen(i) + (1-p)*s
		i--
	}
	return s * normaliser(tm)
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

// attribution computes the tree's score for q and splits it over the
// dimensions and the two directions (high: q above the box, low: below) as
// AWS's AnomalyAttributionVisitor does, writing the parts into sc.high and
// sc.low; they sum to the score up to rounding. The returned score is
// computed exactly as score computes it, so that ANOMALY_SCORE does not
// depend on whether an explanation was asked for.
func (t *tree) attribution(q []float64, h uint32, sc *scratch) float64 {
	leaf, depth := t.findLeaf(q)
	return t.attributionFrom(q, h, leaf, depth, sc)
}

// attributionFrom is attribution given q's leaf and its depth.
func (t *tree) attributionFrom(q []float64, h uint32, leaf int32, depth int, sc *scratch) float64 {
	d := t.dim
	treeMass := t.totalMass()
	lp := t.store.point(t.leafSlot(leaf))
	high, low := sc.high[:d], sc.low[:d]
	gapHi, gapLo := sc.gapHi[:d], sc.gapLo[:d]
	open := sc.open[:d]
	q = q[:d]

	// The leaf: its box is the point lp.
	sumNew := 0.0
	for j := range q {
		sumNew += max(q[j], lp[j]) - min(q[j], lp[j])
		gh, gl := max(q[j]-lp[j], 0), max(lp[j]-q[j], 0)
		gapHi[j], gapLo[j] = gh, gl
		open[j] = float64(b2i(gh+gl > 0))
	}
	dup := t.isLeafPoint(leaf, q, h)
	var saved, scalar float64
	scalarDone, attrDone := false, false
	if dup {
		m := t.leafMass(leaf)
		saved = damp(m, treeMass) * scoreSeen(depth, m)
		for j := range q {
			high[j] = saved / float64(2*d)
			low[j] = high[j]
		}
		// A duplicate is explained as if it were absent: the walk below uses
		// the boxes of the siblings along the path (the "shadow" box).
		for j := range open {
			open[j] = 1
		}
		scalar, scalarDone = saved, true
	} else {
		saved = scoreUnseen(depth)
		for j := range q {
			high[j] = saved * gapHi[j] / sumNew
			low[j] = saved * gapLo[j] / sumNew
		}
		scalar = saved
	}

	shadow, sib := sc.shadow[:2*d], sc.sibling[:2*d]
	// run is the box of the path's child while the walk climbs the
	// levels whose boxes are not cached.
	run := sc.runBox[:2*d]
	pointBox(lp, run)
	prev, i := leaf, depth-1
	for node := t.parent(leaf); node != noParent && !(scalarDone && attrDone); prev, node, i = node, t.parent(node), i-1 {
		// The sibling of the path's child at this node: a duplicate's
		// walk needs its box, and an uncached box is the running box
		// grown by it.
		child := t.sibling(node, prev)
		if dup {
			t.childBounds(child, sib)
		}
		var b []float64
		switch {
		case t.cached(node):
			b = t.nodeBox(node)
		case dup:
			for j := range q {
				run[j] = min(run[j], sib[j])
				run[d+j] = max(run[d+j], sib[d+j])
			}
			b = run
		default:
			t.unionBounds(child, run)
			b = run
		}
		if attrDone {
			// Only the scalar walk goes on (a rounding corner: the scalar
			// and the attribution walks stop on different tests).
			if p, ok := separation(b, q, d); ok {
				scalar = p*scoreUnseen(i) + (1-p)*scalar
			} else {
				scalarDone = true
			}
			continue
		}
		small := b
		if dup {
			if i == depth-1 {
				copy(shadow, sib)
			} else {
				for j := range q {
					shadow[j] = min(shadow[j], sib[j])
					shadow[d+j] = max(shadow[d+j], sib[d+j])
				}
			}
			small = shadow
		}
		// One pass over the box serves both walks when they read the same
		// box (no duplicate): sn is the same sum for both; sd is the
		// scalar's growth, sg the attribution's.
		lo, hi := small[:d:d], small[d:2*d:2*d]
		sn, sg := 0.0, 0.0
		if !dup && !scalarDone {
			sd := 0.0
			for j := range q {
				l, u, x := lo[j], hi[j], q[j]
				lmax, lmin := max(u, x), min(l, x)
				nr := lmax - lmin
				sn += nr
				sd += nr - (u - l)
				// The library's max(gap, 0) and its skipping of dimensions
				// found inside, without branches: the gaps are never
				// negative, and open[j] drops to 0 for good once a
				// dimension holds q.
				o := open[j]
				gh, gl := (lmax-u)*o, (l-lmin)*o
				open[j] = float64(b2i(gh+gl > 0))
				gapHi[j], gapLo[j] = gh, gl
				sg += gh + gl
			}
			if p := sd / sn; sn <= 0 || p <= 0 {
				scalarDone = true
			} else {
				scalar = p*scoreUnseen(i) + (1-p)*scalar
			}
		} else {
			if !scalarDone {
				if p, ok := separation(b, q, d); ok {
					scalar = p*scoreUnseen(i) + (1-p)*scalar
				} else {
					scalarDone = true
				}
			}
			for j := range q {
				l, u, x := lo[j], hi[j], q[j]
				lmax, lmin := max(u, x), min(l, x)
				sn += lmax - lmin
				// The library's max(gap, 0) and its skipping of dimensions
				// found inside, without branches: the gaps are never
				// negative, and open[j] drops to 0 for good once a
				// dimension holds q.
				o := open[j]
				gh, gl := (lmax-u)*o, (l-lmin)*o
				open[j] = float64(b2i(gh+gl > 0))
				gapHi[j], gapLo[j] = gh, gl
				sg += gh + gl
			}
		}
		var pc float64
		if sn > 0 {
			pc = sg / sn
		}
		if pc <= 0 {
			attrDone = true
		} else {
			// The library divides each gap by sn; one division and a
			// multiplication per part is cheaper and differs only in the
			// last bits of the parts (the score is computed apart).
			ns, inv, keep := scoreUnseen(i), 1/sn, 1-pc
			for j := range q {
				high[j] = gapHi[j]*inv*ns + keep*high[j]
				low[j] = gapLo[j]*inv*ns + keep*low[j]
			}
		}
		if dup && (attrDone || i == 0) {
			renormalize(high, low, saved)
		}
	}
	norm := normaliser(treeMass)
	for j := range q {
		high[j] *= norm
		low[j] *= norm
	}
	return scalar * norm
}

// renormalize scales high and low so that together they sum to total.
func renormalize(high, low []float64, total float64) {
	sum := 0.0
	for j := range high {
		sum += high[j] + low[j]
	}
	if sum <= 0 {
		return
	}
	f := total / sum
	for j := range high {
		high[j] *= f
		low[j] *= f
	}
}
