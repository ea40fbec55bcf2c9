package reference

import (
	"errors"
	"fmt"
	"math"
)

// Defaults and limits of the forest parameters. The defaults and ranges are
// those of Kinesis Data Analytics' RANDOM_CUT_FOREST.
const (
	DefaultNumberOfTrees = 100
	DefaultSampleSize    = 256
	DefaultTimeDecay     = 100000
	DefaultShingleSize   = 1

	MinNumberOfTrees = 1
	MaxNumberOfTrees = 1000
	MinSampleSize    = 10
	MaxSampleSize    = 1000
	MinShingleSize   = 1
	MaxShingleSize   = 30
	// MaxDimensions is the most numeric input columns a forest takes.
	MaxDimensions = 30
)

// ErrBadRecord marks a record the detector refuses (wrong arity, NaN,
// infinity, a value that is not a number). The model is untouched; the
// caller routes the record to an error output.
var ErrBadRecord = errors.New("anomaly: bad record")

// ForestConfig configures a Forest. The zero value of every field but
// Dimensions means its default.
type ForestConfig struct {
	// Dimensions is the number of numeric values per record (1..30).
	Dimensions int
	// NumberOfTrees (1..1000, default 100).
	NumberOfTrees int
	// SampleSize is the number of points each tree keeps (10..1000,
	// default 256); KDA's subSampleSize. It must be below TimeDecay.
	SampleSize int
	// TimeDecay is the horizon, in records, of the sample: a point's chance
	// of staying in a tree's sample decays like exp(-age/TimeDecay)
	// (lambda = 1/TimeDecay). Default 100000, as KDA.
	TimeDecay float64
	// ShingleSize is how many consecutive records form one point (1..30,
	// default 1): the forest sees the concatenation of the last ShingleSize
	// records, oldest first, so that it can score shapes in time.
	ShingleSize int
	// OutputAfter is how many points the forest must have taken in before
	// scores are reported (they are 0 until then). Default SampleSize/4, the
	// rule of AWS's library.
	OutputAfter int
	// Seed fixes every random choice: a forest is a deterministic function
	// of its configuration and its input.
	Seed uint64
}

// withDefaults returns c with zero fields set to their defaults.
func (c ForestConfig) withDefaults() ForestConfig {
	if c.NumberOfTrees == 0 {
		c.NumberOfTrees = DefaultNumberOfTrees
	}
	if c.SampleSize == 0 {
		c.SampleSize = DefaultSampleSize
	}
	if c.TimeDecay == 0 {
		c.TimeDecay = DefaultTimeDecay
	}
	if c.ShingleSize == 0 {
		c.ShingleSize = DefaultShingleSize
	}
	if c.OutputAfter == 0 {
		c.OutputAfter = max(1, c.SampleSize/4)
	}
	return c
}

// Validate reports the first out-of-range field, after defaults.
func (c ForestConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Dimensions < 1 || c.Dimensions > MaxDimensions:
		return fmt.Errorf("anomaly: %d numeric dimensions, want 1..%d", c.Dimensions, MaxDimensions)
	case c.NumberOfTrees < MinNumberOfTrees || c.NumberOfTrees > MaxNumberOfTrees:
		return fmt.Errorf("anomaly: numberOfTrees %d out of range %d..%d", c.NumberOfTrees, MinNumberOfTrees, MaxNumberOfTrees)
	case c.SampleSize < MinSampleSize || c.SampleSize > MaxSampleSize:
		return fmt.Errorf("anomaly: subSampleSize %d out of range %d..%d", c.SampleSize, MinSampleSize, MaxSampleSize)
	case math.IsNaN(c.TimeDecay) || math.IsInf(c.TimeDecay, 0) || c.TimeDecay <= float64(c.SampleSize):
		return fmt.Errorf("anomaly: timeDecay %v must be a finite number above subSampleSize %d", c.TimeDecay, c.SampleSize)
	case c.ShingleSize < MinShingleSize || c.ShingleSize > MaxShingleSize:
		return fmt.Errorf("anomaly: shingleSize %d out of range %d..%d", c.ShingleSize, MinShingleSize, MaxShingleSize)
	case c.OutputAfter < 1 || c.OutputAfter > c.SampleSize:
		return fmt.Errorf("anomaly: outputAfter %d out of range 1..subSampleSize (%d)", c.OutputAfter, c.SampleSize)
	}
	return nil
}

// rebaseAt is how far lambda*(t-base) may grow before the samplers'
// priorities are shifted back; exp(64) is far from overflow.
const rebaseAt = 64

// Forest is a streaming robust random cut forest (Guha et al., ICML 2016)
// scored as AWS's random-cut-forest library scores: per tree a time-decayed
// reservoir sample and a random cut tree over it, with insertion and
// deletion as points enter and leave the sample.
//
// A Forest is a deterministic core: no goroutines, no clock, no I/O. Given
// the same configuration (including Seed) and the same records it produces
// the same scores, bit for bit, and MarshalBinary/UnmarshalBinary carry that
// over a restart. It is not safe for concurrent use.
type Forest struct {
	cfg    ForestConfig
	dim    int     // dimensions of a tree point: Dimensions*ShingleSize
	lambda float64 // 1/TimeDecay

	store    *pointStore
	trees    []*tree
	samplers []*sampler
	sc       *scratch
	gs       *groupScratch

	updates int64 // points taken in (shingles complete)
	base    int64 // rebase point for sampler priorities

	shingle []float64 // ring of the last ShingleSize records
	records int64     // records seen (accepted), for the shingle ring
	point   []float64 // the current shingled point, oldest record first
	// accepted and weights hold, during an update, the trees whose
	// samplers took the point and the priorities they drew.
	accepted []int32
	weights  []float64
	attr     []float64 // per tree-dimension high, then low, accumulators

	// Scoring descends every tree to the point's leaf; the trees that take
	// the point keep that descent so that insertion need not repeat it.
	// mark[i] is tree i's index in accepted during Process (else -1), and
	// kept[a] locates accepted tree a's path and leaf in keptPaths.
	mark      []int32
	kept      []keptPath
	keptPaths []int32
}

// keptPath is a path kept from scoring: keptPaths[from:to] and the leaf
// reference it ends at.
type keptPath struct{ from, to, leaf int32 }

// NewForest returns an empty forest.
func NewForest(cfg ForestConfig) (*Forest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	f := &Forest{cfg: cfg}
	f.init()
	master := splitMix64{state: cfg.Seed}
	for i := range f.trees {
		f.trees[i] = newTree(f.dim, cfg.SampleSize, master.next(), f.store)
		f.samplers[i] = newSampler(cfg.SampleSize, master.next())
	}
	return f, nil
}

// init sets up everything but the trees and samplers.
func (f *Forest) init() {
	cfg := f.cfg
	f.dim = cfg.Dimensions * cfg.ShingleSize
	f.lambda = 1 / cfg.TimeDecay
	f.store = newPointStore(f.dim)
	f.trees = make([]*tree, cfg.NumberOfTrees)
	f.samplers = make([]*sampler, cfg.NumberOfTrees)
	f.sc = newScratch(f.dim, cfg.SampleSize)
	f.gs = newGroupScratch(cfg.SampleSize)
	f.shingle = make([]float64, f.dim)
	f.point = make([]float64, f.dim)
	f.attr = make([]float64, 2*f.dim)
	f.mark = make([]int32, cfg.NumberOfTrees)
	for i := range f.mark {
		f.mark[i] = -1
	}
}

// Config returns the forest's configuration with defaults filled in.
func (f *Forest) Config() ForestConfig { return f.cfg }

// Updates is the number of points the forest has taken in.
func (f *Forest) Updates() int64 { return f.updates }

// Ready reports whether scores are being reported (OutputAfter points in).
func (f *Forest) Ready() bool { return f.updates >= int64(f.cfg.OutputAfter) }

// Attribution is the explanation of a score: for each input dimension how
// much of the score comes from the value being above (High) or below (Low)
// what the forest has seen. Over all dimensions both parts sum to the
// score. With shingling, a dimension's parts are summed over the shingle.
type Attribution struct {
	High, Low []float64
}

// checkRecord rejects records the model must not see.
func (f *Forest) checkRecord(rec []float64) error {
	if len(rec) != f.cfg.Dimensions {
		return fmt.Errorf("%w: %d values, want %d", ErrBadRecord, len(rec), f.cfg.Dimensions)
	}
	for i, v := range rec {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: value %d is %v", ErrBadRecord, i, v)
		}
	}
	return nil
}

// Process scores one record against the forest as it stands and then takes
// it in. It returns 0 until the shingle is full and OutputAfter points are
// in. If attr is not nil, its High and Low (resized to Dimensions) receive
// the explanation. A bad record (see ErrBadRecord) changes nothing.
func (f *Forest) Process(rec []float64, attr *Attribution) (float64, error) {
	if err := f.checkRecord(rec); err != nil {
		return 0, err
	}
	if attr != nil {
		attr.High = resize(attr.High, f.cfg.Dimensions)
		attr.Low = resize(attr.Low, f.cfg.Dimensions)
	}
	// Push the record into the shingle ring.
	dims := f.cfg.Dimensions
	slot := int(f.records % int64(f.cfg.ShingleSize))
	copy(f.shingle[slot*dims:], rec)
	f.records++
	if f.records < int64(f.cfg.ShingleSize) {
		return 0, nil
	}
	// Lay the shingle out oldest first.
	for k := 0; k < f.cfg.ShingleSize; k++ {
		src := int((f.records + int64(k)) % int64(f.cfg.ShingleSize))
		copy(f.point[k*dims:(k+1)*dims], f.shingle[src*dims:(src+1)*dims])
	}
	// The samplers decide first (their draws do not depend on the trees),
	// so that scoring can keep the descents of the trees that take the
	// point; the trees change only after scoring.
	ready := f.Ready()
	f.draw()
	var score float64
	if ready {
		if attr != nil {
			score = f.attribution(f.point, attr)
		} else {
			score = f.score(f.point)
		}
	}
	if err := f.update(f.point, ready); err != nil {
		return 0, err
	}
	return score, nil
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// score is the mean of the trees' scores for the tree point q.
func (f *Forest) score(q []float64) float64 {
	h := hashPoint(q)
	sum := 0.0
	for i := 0; i < len(f.trees); i += groupSize {
		grp := f.trees[i:min(i+groupSize, len(f.trees))]
		scoreGroup(grp, q, h, f.gs)
		f.keepPaths(i, len(grp))
		for k := range grp {
			sum += f.gs.out[k]
		}
	}
	return sum / float64(len(f.trees))
}

// attribution fills attr (per input dimension) and returns the score.
func (f *Forest) attribution(q []float64, attr *Attribution) float64 {
	acc := f.attr
	clear(acc)
	h := hashPoint(q)
	d := f.dim
	sum := 0.0
	for i := 0; i < len(f.trees); i += groupSize {
		grp := f.trees[i:min(i+groupSize, len(f.trees))]
		descendGroup(grp, q, f.gs)
		f.keepPaths(i, len(grp))
		if f.dim >= 8 {
			touchBoxes(grp, f.gs)
		}
		touchLeafPoints(grp, f.gs)
		for k, t := range grp {
			if f.gs.cur[k] == noNode {
				continue
			}
			sum += t.attributionAlong(q, h, ^f.gs.cur[k], f.gs.path(k), f.sc)
			for j := 0; j < d; j++ {
				acc[j] += f.sc.high[j]
				acc[d+j] += f.sc.low[j]
			}
		}
	}
	scale := 1 / float64(len(f.trees))
	dims := f.cfg.Dimensions
	for j := 0; j < d; j++ {
		attr.High[j%dims] += acc[j] * scale
		attr.Low[j%dims] += acc[d+j] * scale
	}
	return sum / float64(len(f.trees))
}

// keepPaths keeps the paths in f.gs of the trees first..first+n-1 that
// take the point.
func (f *Forest) keepPaths(first, n int) {
	for k, a := range f.mark[first : first+n] {
		if a < 0 {
			continue
		}
		from := len(f.keptPaths)
		f.keptPaths = append(f.keptPaths, f.gs.path(k)...)
		f.kept[a] = keptPath{int32(from), int32(len(f.keptPaths)), f.gs.cur[k]}
	}
}

// draw counts the point in and offers it to every tree's sampler, leaving
// the trees that take it in f.accepted (marked in f.mark) and their
// priorities in f.weights.
func (f *Forest) draw() {
	for _, i := range f.accepted {
		f.mark[i] = -1
	}
	f.updates++
	t := f.updates
	if f.lambda*float64(t-f.base) > rebaseAt {
		delta := f.lambda * float64(t-f.base)
		for _, s := range f.samplers {
			s.shift(delta)
		}
		f.base = t
	}
	decayed := f.lambda * float64(t-f.base)
	growth := math.Exp(decayed)
	// Which samplers take the point: each draws from its own generator, so
	// the verdicts do not depend on the order of the tree work below.
	acc, ws := f.accepted[:0], f.weights[:0]
	for i, s := range f.samplers {
		u := s.rng.openFloat64()
		if s.rejects(u, growth) {
			continue
		}
		if w, ok := s.decide(u, decayed, growth); ok {
			acc, ws = append(acc, int32(i)), append(ws, w)
		}
	}
	f.accepted, f.weights = acc, ws
	for a, i := range acc {
		f.mark[i] = int32(a)
	}
	if cap(f.kept) < len(acc) {
		f.kept = make([]keptPath, len(acc), len(f.trees))
	}
	f.kept = f.kept[:len(acc)]
	f.keptPaths = f.keptPaths[:0]
}

// update inserts the point into the trees whose samplers took it (see
// draw), deleting the points the samplers evict. kept says whether scoring
// kept those trees' paths.
func (f *Forest) update(q []float64, kept bool) error {
	acc, ws := f.accepted, f.weights
	h := hashPoint(q)
	ref := f.store.add(q, h)
	// The accepted trees are updated groupSize at a time, each step's
	// descents in lockstep (see group.go). Per tree the order is the
	// library's, evict then insert; store references are released in tree
	// order as a tree-at-a-time loop would, so slots are reused alike.
	g := f.gs
	for start := 0; start < len(acc); start += groupSize {
		batch := acc[start:min(start+groupSize, len(acc))]
		grp := g.trees[:len(batch)]
		removing := false
		for k, i := range batch {
			grp[k] = f.trees[i]
			g.evicted[k] = -1
			g.freed[k] = noNode
			g.queries[k] = q
			if s := f.samplers[i]; s.full() {
				// The top leaves the sample; replaceTop below puts the
				// new point in its place once the tree has taken it.
				old := s.top()
				g.evicted[k] = old
				g.queries[k] = f.store.point(old)
				removing = true
			}
		}
		if removing {
			descendGroupEach(grp, g.queries[:len(batch)], g)
			for k, tr := range grp {
				old := g.evicted[k]
				if old < 0 {
					continue
				}
				freed, repl, err := tr.removeAlong(g.queries[k], f.store.hash[old], ^g.cur[k], g.path(k))
				if err != nil {
					return err
				}
				g.freed[k], g.repl[k] = freed, repl
				f.store.release(old)
			}
		}
		if kept {
			for k, tr := range grp {
				f.keptPathAfterRemoval(tr, start+k, k, q)
			}
		} else {
			descendGroup(grp, q, g)
		}
		for k, tr := range grp {
			leaf := g.cur[k]
			if leaf != noNode {
				leaf = ^leaf
			}
			kept := tr.insertAlong(ref, q, h, leaf, g.path(k), f.sc)
			f.store.retain(kept)
			if g.evicted[k] >= 0 {
				f.samplers[batch[k]].replaceTop(ws[start+k], kept)
			} else {
				f.samplers[batch[k]].push(ws[start+k], kept)
			}
		}
	}
	f.store.releaseIfUnused(ref)
	for _, i := range acc {
		f.mark[i] = -1
	}
	return nil
}

// keptPathAfterRemoval puts accepted tree a's kept path to q in f.gs as
// group member k's path, as descendGroup would find it now that the tree's
// removal is done. A removal takes out the evicted leaf and its parent,
// whose other child takes the parent's place; if the parent is on the path,
// the path is cut there and continues from the replacement, and otherwise
// it is unchanged.
func (f *Forest) keptPathAfterRemoval(t *tree, a, k int, q []float64) {
	g := f.gs
	kp := f.kept[a]
	buf := g.pathBuf[k*g.stride : (k+1)*g.stride]
	n := copy(buf, f.keptPaths[kp.from:kp.to])
	cur := kp.leaf
	if par := g.freed[k]; par != noNode {
		for j, node := range buf[:n] {
			if node != par {
				continue
			}
			n, cur = j, g.repl[k]
			for cur >= 0 {
				buf[n] = cur
				n++
				cur = t.next(cur, q)
			}
			break
		}
	}
	if t.root == noNode {
		n, cur = 0, noNode
	}
	g.depth[k], g.cur[k] = int32(n), cur
}
