package anomaly

import (
	"fmt"
	"math"
)

// Defaults of the calibrated output (see CalibratorConfig).
const (
	DefaultOnsetWindow      = 100
	DefaultMinHistory       = 64
	DefaultPriorWeight      = 5.0
	calibratorBuckets       = 1024
	calibratorRebaseAt      = 1e100
	maxCalibratorMinHistory = 1 << 20
)

// CalibratorConfig configures the calibrated output ANOMALY_PROBABILITY.
// The zero value of a field means its default; the defaults are global
// choices, not tuned per stream.
type CalibratorConfig struct {
	// MaxScore is the largest raw score the forest can produce:
	// log2(SampleSize+1). Required; RCF front ends set it.
	MaxScore float64
	// Horizon is how many records the score history remembers: a score's
	// weight in the history decays like exp(-age/Horizon). Default: the
	// forest's TimeDecay, so that the calibration forgets at the model's
	// pace.
	Horizon float64
	// MinHistory is how many non-zero scores the history must hold before
	// probabilities are reported (0 until then). Default 64.
	MinHistory int
	// OnsetWindow is R: a record gets a non-zero probability only if its
	// score exceeds every score of the R records before it, so that one
	// anomaly raises one alarm rather than a burst. Default 100.
	OnsetWindow int
	// PriorWeight is the weight of the forest's own judgement against the
	// stream's history (see Calibrator). Default 5.
	PriorWeight float64
}

func (c CalibratorConfig) withDefaults() CalibratorConfig {
	if c.MinHistory == 0 {
		c.MinHistory = DefaultMinHistory
	}
	if c.OnsetWindow == 0 {
		c.OnsetWindow = DefaultOnsetWindow
	}
	if c.PriorWeight == 0 {
		c.PriorWeight = DefaultPriorWeight
	}
	return c
}

// Validate reports the first invalid field, after defaults.
func (c CalibratorConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.MaxScore > 0) || math.IsInf(c.MaxScore, 0):
		return fmt.Errorf("anomaly: calibrator MaxScore %v must be positive and finite", c.MaxScore)
	case !(c.Horizon >= 1) || math.IsInf(c.Horizon, 0):
		return fmt.Errorf("anomaly: calibrator Horizon %v must be at least 1 and finite", c.Horizon)
	case c.MinHistory < 1 || c.MinHistory > maxCalibratorMinHistory:
		return fmt.Errorf("anomaly: calibrator MinHistory %d out of range 1..%d", c.MinHistory, maxCalibratorMinHistory)
	case c.OnsetWindow < 1 || c.OnsetWindow > 1<<16:
		return fmt.Errorf("anomaly: calibrator OnsetWindow %d out of range 1..65536", c.OnsetWindow)
	case !(c.PriorWeight >= 0) || math.IsInf(c.PriorWeight, 0):
		return fmt.Errorf("anomaly: calibrator PriorWeight %v must be non-negative and finite", c.PriorWeight)
	}
	return nil
}

// Calibrator turns a stream of raw forest scores into ANOMALY_PROBABILITY,
// a number in [0, 1) meant to be thresholded with one value across very
// different streams (see doc.go for the method and why). For a score s it
// is
//
//	p = 1 - T(s) * 10^(-PriorWeight * s / MaxScore)
//
// when s exceeds every score of the last OnsetWindow records, and 0
// otherwise. T(s) is the share of the stream's own (decayed) score history
// at or above s, so a score that this stream produces often is not
// surprising however high it is; the second factor keeps the forest's own
// scale, under which a point isolated near the root of the trees is
// unusual in any stream, and orders scores beyond anything in the history.
//
// Like the forest, a Calibrator is a deterministic core with a versioned
// snapshot; it is not safe for concurrent use.
type Calibrator struct {
	cfg    CalibratorConfig
	width  float64 // bucket width: MaxScore / calibratorBuckets
	decay  float64 // per-record growth of the weight of new scores
	weight float64 // weight given to the next score (grows, then rebases)
	counts [calibratorBuckets]float64
	total  float64
	scores int64 // non-zero scores taken into the history

	recent []float64 // ring of the last OnsetWindow raw scores
	next   int
	seen   int64
}

// NewCalibrator returns an empty calibrator.
func NewCalibrator(cfg CalibratorConfig) (*Calibrator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Calibrator{cfg: cfg}
	c.init()
	c.weight = 1
	return c, nil
}

func (c *Calibrator) init() {
	c.width = c.cfg.MaxScore / calibratorBuckets
	c.decay = 1 / (1 - 1/(c.cfg.Horizon+1))
	c.recent = make([]float64, c.cfg.OnsetWindow)
}

// Update takes the next raw score of the stream (0 while the forest warms
// up) and returns its calibrated probability. Scores must be finite and
// non-negative; others are treated as 0.
func (c *Calibrator) Update(score float64) float64 {
	if !(score > 0) || math.IsInf(score, 0) {
		score = 0
	}
	onset := true
	for _, r := range c.recent {
		if r >= score {
			onset = false
			break
		}
	}
	c.recent[c.next] = score
	c.next = (c.next + 1) % len(c.recent)
	c.seen++
	if score == 0 {
		return 0
	}
	var p float64
	if onset && c.scores >= int64(c.cfg.MinHistory) {
		p = 1 - c.tail(score)*math.Pow(10, -c.cfg.PriorWeight*score/c.cfg.MaxScore)
	}
	c.add(score)
	return p
}

// bucket of a score, clamped to the histogram.
func (c *Calibrator) bucket(s float64) (int, float64) {
	x := s / c.width
	b := int(x)
	if b >= calibratorBuckets {
		return calibratorBuckets - 1, 1
	}
	return b, x - float64(b)
}

// tail is the smoothed share of the history at or above s:
// (mass above s + 1/2) / (total + 1), counting a bucket's mass as spread
// evenly over it.
func (c *Calibrator) tail(s float64) float64 {
	b, frac := c.bucket(s)
	above := c.counts[b] * (1 - frac)
	for _, n := range c.counts[b+1:] {
		above += n
	}
	// Weights are relative to c.weight, the weight of a score taken now.
	return (above/c.weight + 0.5) / (c.total/c.weight + 1)
}

// add puts a score into the decayed history. Rather than shrinking every
// count each record, new scores get a weight growing by decay per record;
// when it grows large everything is rescaled at once.
func (c *Calibrator) add(s float64) {
	b, _ := c.bucket(s)
	c.counts[b] += c.weight
	c.total += c.weight
	c.scores++
	c.weight *= c.decay
	if c.weight > calibratorRebaseAt {
		f := 1 / c.weight
		for i := range c.counts {
			c.counts[i] *= f
		}
		c.total *= f
		c.weight = 1
	}
}

// Snapshot format of a Calibrator, version 1: "SCAL" u16(version),
// f64 MaxScore, f64 Horizon, u32 MinHistory, u32 OnsetWindow,
// f64 PriorWeight, f64 weight, f64 total, i64 scores, the non-empty
// buckets as u32 count then (u32 index, f64 weight) pairs, f64s recent
// scores, u32 ring position, i64 records seen.
const (
	calibratorMagic   = "SCAL"
	calibratorVersion = 1
)

// MarshalBinary encodes the calibrator's complete state.
func (c *Calibrator) MarshalBinary() ([]byte, error) {
	e := &enc{}
	c.encode(e)
	return e.b, nil
}

func (c *Calibrator) encode(e *enc) {
	e.header(calibratorMagic, calibratorVersion)
	e.f64(c.cfg.MaxScore)
	e.f64(c.cfg.Horizon)
	e.u32(uint32(c.cfg.MinHistory))
	e.u32(uint32(c.cfg.OnsetWindow))
	e.f64(c.cfg.PriorWeight)
	e.f64(c.weight)
	e.f64(c.total)
	e.i64(c.scores)
	n := 0
	for _, v := range c.counts {
		if v != 0 {
			n++
		}
	}
	e.u32(uint32(n))
	for i, v := range c.counts {
		if v != 0 {
			e.u32(uint32(i))
			e.f64(v)
		}
	}
	e.f64s(c.recent)
	e.u32(uint32(c.next))
	e.i64(c.seen)
}

// UnmarshalBinary replaces c with the calibrator encoded in b; on error c
// is unchanged and the error wraps ErrCorruptSnapshot.
func (c *Calibrator) UnmarshalBinary(b []byte) error {
	d := &dec{b: b}
	g := decodeCalibrator(d)
	d.end()
	if d.err != nil {
		return d.err
	}
	*c = *g
	return nil
}

func decodeCalibrator(d *dec) *Calibrator {
	if v := d.header(calibratorMagic); d.err == nil && v != calibratorVersion {
		d.fail("calibrator format version %d, this build reads %d", v, calibratorVersion)
	}
	var cfg CalibratorConfig
	cfg.MaxScore = d.f64()
	cfg.Horizon = d.f64()
	cfg.MinHistory = int(d.u32())
	cfg.OnsetWindow = int(d.u32())
	cfg.PriorWeight = d.f64()
	if d.err != nil {
		return nil
	}
	if err := cfg.Validate(); err != nil || cfg.MinHistory == 0 || cfg.OnsetWindow == 0 {
		d.fail("calibrator configuration: %v", err)
		return nil
	}
	c := &Calibrator{cfg: cfg}
	c.init()
	c.weight = d.f64()
	c.total = d.f64()
	c.scores = d.i64()
	n := d.length(calibratorBuckets)
	for k := 0; k < n && d.err == nil; k++ {
		i := d.u32()
		v := d.f64()
		if i >= calibratorBuckets || !(v > 0) || math.IsInf(v, 0) {
			d.fail("bad calibrator bucket")
			return nil
		}
		c.counts[i] = v
	}
	recent := d.f64s(cfg.OnsetWindow)
	c.next = int(d.u32())
	c.seen = d.i64()
	if d.err != nil {
		return nil
	}
	if len(recent) != cfg.OnsetWindow || c.next < 0 || c.next >= cfg.OnsetWindow ||
		!(c.weight >= 1) || math.IsInf(c.weight, 0) || !(c.total >= 0) || math.IsInf(c.total, 0) ||
		c.scores < 0 || c.seen < 0 {
		d.fail("calibrator state out of range")
		return nil
	}
	for _, r := range recent {
		if !(r >= 0) || math.IsInf(r, 0) {
			d.fail("calibrator holds a bad score")
			return nil
		}
	}
	copy(c.recent, recent)
	return c
}
