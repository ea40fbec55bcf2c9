package anomaly

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
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
// the same scores, bit for bit, whether the records come one at a time
// (Process) or in batches of any size (ProcessBatch), and
// MarshalBinary/UnmarshalBinary carry that over a restart. It is not safe
// for concurrent use.
type Forest struct {
	cfg    ForestConfig
	dim    int     // dimensions of a tree point: Dimensions*ShingleSize
	lambda float64 // 1/TimeDecay

	store    *pointStore
	trees    []*tree
	samplers []*sampler

	updates int64 // points taken in (shingles complete)
	base    int64 // rebase point for sampler priorities

	shingle []float64 // ring of the last ShingleSize records
	records int64     // records seen (accepted), for the shingle ring

	b batch   // the points of the ProcessBatch call under way
	w *worker // the scratch of the pass over the trees

	one   [1][]float64 // Process's batch of one record
	score [1]float64
}

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
	f.shingle = make([]float64, f.dim)
	f.w = newWorker(f.dim, cfg.SampleSize)
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
	f.one[0] = rec
	var attrs []Attribution
	if attr != nil {
		attrs = unsafe.Slice(attr, 1)
	}
	err := f.ProcessBatch(f.one[:], f.score[:], attrs)
	f.one[0] = nil
	return f.score[0], err
}

// ProcessBatch is Process for each record of recs in turn: scores[i] (and,
// if attrs is not nil, attrs[i]) receive what Process(recs[i]) would return
// after recs[:i], bit for bit. It is faster than a loop of Process calls:
// each tree takes all the batch's records while its arrays are in the
// cache, and a tree whose sampler takes none of them is only read. scores
// (and attrs) must be at least as long as recs. If any record is bad (see
// ErrBadRecord) nothing is processed and the error names the first one;
// the forest is unchanged.
func (f *Forest) ProcessBatch(recs [][]float64, scores []float64, attrs []Attribution) error {
	if len(scores) < len(recs) || attrs != nil && len(attrs) < len(recs) {
		return fmt.Errorf("anomaly: %d records but room for %d scores and %d attributions", len(recs), len(scores), len(attrs))
	}
	for i, rec := range recs {
		if err := f.checkRecord(rec); err != nil {
			if len(recs) == 1 {
				return err
			}
			return fmt.Errorf("record %d of the batch: %w", i, err)
		}
	}
	explain := attrs != nil
	for i := range attrs[:len(attrs)*b2i(explain)] {
		if i == len(recs) {
			break
		}
		attrs[i].High = resize(attrs[i].High, f.cfg.Dimensions)
		attrs[i].Low = resize(attrs[i].Low, f.cfg.Dimensions)
	}
	b := &f.b
	f.collect(recs)
	b.explain = explain
	if b.n > 0 {
		w := f.w
		w.reset()
		for i := range f.trees {
			if err := f.runTree(i, w); err != nil {
				return err
			}
		}
		w.flush(f)
		f.settle(w)
	}
	// Records before the shingle was full have no point and score 0.
	k := 0
	for i := range recs {
		scores[i] = 0
		if k == b.n || b.rec[k] != int32(i) {
			continue
		}
		if b.ready[k] {
			scores[i] = b.sum[k] / float64(len(f.trees))
			if explain {
				f.spread(b.acc[k*2*f.dim:(k+1)*2*f.dim], &attrs[i])
			}
		}
		k++
	}
	return nil
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// spread turns a point's attribution sums over the trees (per tree-point
// dimension high, then low) into the record's explanation: the mean over
// trees, summed over the shingle per input dimension.
func (f *Forest) spread(acc []float64, attr *Attribution) {
	d := f.dim
	scale := 1 / float64(len(f.trees))
	dims := f.cfg.Dimensions
	for j := 0; j < d; j++ {
		attr.High[j%dims] += acc[j] * scale
		attr.Low[j%dims] += acc[d+j] * scale
	}
}

// batch holds the points of one ProcessBatch call, in record order, and
// what the pass over the trees accumulates for them.
type batch struct {
	n       int       // points in the batch
	rec     []int32   // the record each point comes from
	pts     []float64 // point k: pts[k*dim : (k+1)*dim]
	hash    []uint32  // hashPoint of each point
	slot    []int32   // the store slot holding each point
	ready   []bool    // whether the point is scored (OutputAfter reached before it)
	shift   []float64 // the rebase of sampler priorities due before the point's draw, or 0
	decayed []float64 // lambda*(t-base) at the point's draw
	growth  []float64 // exp(decayed)
	sum     []float64 // the sum of the trees' scores so far
	acc     []float64 // with explain: per point 2*dim attribution sums
	explain bool
}

func (b *batch) point(k int32, dim int) []float64 {
	o := int(k) * dim
	return b.pts[o : o+dim : o+dim]
}

// collect pushes the records through the shingle and lays out the batch's
// points with everything about them that does not depend on the trees:
// whether they are scored, the samplers' rebases and decay, their store
// slots. Every point gets a slot now, so that the pass over the trees
// allocates nothing; slots no tree keeps are freed by settle.
func (f *Forest) collect(recs [][]float64) {
	b, dims, sh := &f.b, f.cfg.Dimensions, int64(f.cfg.ShingleSize)
	n := len(recs)
	if cap(b.rec) < n {
		m := max(n, 2*cap(b.rec))
		b.rec = make([]int32, m)
		b.pts = make([]float64, m*f.dim)
		b.hash = make([]uint32, m)
		b.slot = make([]int32, m)
		b.ready = make([]bool, m)
		b.shift = make([]float64, m)
		b.decayed = make([]float64, m)
		b.growth = make([]float64, m)
		b.sum = make([]float64, m)
	}
	b.n = 0
	for i, rec := range recs {
		slot := int(f.records % sh)
		copy(f.shingle[slot*dims:], rec)
		f.records++
		if f.records < sh {
			continue
		}
		k := b.n
		b.n++
		b.rec[k] = int32(i)
		q := b.pts[k*f.dim : (k+1)*f.dim]
		// The shingle, oldest record first.
		for j := int64(0); j < sh; j++ {
			src := int((f.records + j) % sh)
			copy(q[j*int64(dims):], f.shingle[src*dims:(src+1)*dims])
		}
		b.ready[k] = f.Ready()
		f.updates++
		t := f.updates
		b.shift[k] = 0
		if f.lambda*float64(t-f.base) > rebaseAt {
			b.shift[k] = f.lambda * float64(t-f.base)
			f.base = t
		}
		b.decayed[k] = f.lambda * float64(t-f.base)
		b.growth[k] = math.Exp(b.decayed[k])
		b.hash[k] = hashPoint(q)
		b.slot[k] = f.store.add(q, b.hash[k])
		b.sum[k] = 0
	}
	if need := 2 * f.dim * b.n; cap(b.acc) < need {
		b.acc = make([]float64, need, max(need, 2*cap(b.acc)))
	}
	b.acc = b.acc[:2*f.dim*b.n]
	clear(b.acc)
}

// runTree gives the batch's points to tree i and its sampler in order:
// per point, the sampler decides, the tree scores the point (queued, see
// worker) and, if the sampler took it, the tree evicts the sampler's
// oldest-priority point and inserts the new one.
func (f *Forest) runTree(i int, w *worker) error {
	t, s, b := f.trees[i], f.samplers[i], &f.b
	for k := int32(0); k < int32(b.n); k++ {
		if d := b.shift[k]; d != 0 {
			s.shift(d)
		}
		u := s.rng.openFloat64()
		if b.ready[k] {
			w.queue(f, t, k)
		}
		if s.rejects(u, b.growth[k]) {
			continue
		}
		wt, ok := s.decide(u, b.decayed[k], b.growth[k])
		if !ok {
			continue
		}
		// The tree changes: the scores queued for it are computed first.
		if w.queuedFor(t) {
			w.flush(f)
		}
		if err := f.take(t, s, k, wt, w); err != nil {
			return err
		}
	}
	return nil
}

// take inserts point k into tree t, whose sampler s took it with priority
// wt, evicting the sampler's top point if the sample is full. The store's
// reference counts change when the pass is over (see settle).
func (f *Forest) take(t *tree, s *sampler, k int32, wt float64, w *worker) error {
	b := &f.b
	evict := s.full()
	if evict {
		old := s.top()
		if err := t.remove(f.store.point(old), f.store.hash[old]); err != nil {
			return err
		}
		w.releases = append(w.releases, old)
	}
	kept := t.insert(b.slot[k], b.point(k, f.dim), b.hash[k], w.sc)
	w.retains = append(w.retains, kept)
	if evict {
		s.replaceTop(wt, kept)
	} else {
		s.push(wt, kept)
	}
	return nil
}

// settle applies the pass's reference count changes to the store: first
// every reference taken, then the batch's slots that no tree took are
// freed, then every reference dropped (freeing slots that lose their last).
// Deferring them is what lets a slot freed by one tree be taken by a later
// tree in the same pass: a slot's count only reaches 0 when no tree keeps
// it at the end of the pass.
func (f *Forest) settle(w *worker) {
	st := f.store
	for _, r := range w.retains {
		st.retain(r)
	}
	b := &f.b
	for _, r := range b.slot[:b.n] {
		st.releaseIfUnused(r)
	}
	for _, r := range w.releases {
		st.release(r)
	}
}
