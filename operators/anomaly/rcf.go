package anomaly

import (
	"fmt"
	"math"
	"strconv"
)

// RCFParams are the parameters of RANDOM_CUT_FOREST and
// RANDOM_CUT_FOREST_WITH_EXPLANATION, named as in KDA. Zero values mean the
// defaults; Validate reports out-of-range values as planning errors.
type RCFParams struct {
	// NumberOfTrees: 1..1000, default 100.
	NumberOfTrees int
	// SubSampleSize: points per tree, 10..1000, default 256; below TimeDecay.
	SubSampleSize int
	// TimeDecay: how many recent records the model mostly reflects
	// (a sample point's weight decays like exp(-age/TimeDecay)); default
	// 100000.
	TimeDecay int
	// ShingleSize: consecutive records per point, 1..30, default 1.
	ShingleSize int
	// WithDirectionality adds DIRECTION to the explanation (explanation
	// variant only; KDA's sixth argument).
	WithDirectionality bool

	// Seed fixes the model's random choices (Sluice addition; KDA had no
	// seed). Keyed variants derive one seed per key from it.
	Seed uint64
	// Probability adds the calibrated output ANOMALY_PROBABILITY (Sluice
	// addition, see Calibrator); Calibration overrides its defaults.
	Probability bool
	Calibration CalibratorConfig
}

func (p RCFParams) withDefaults() RCFParams {
	if p.NumberOfTrees == 0 {
		p.NumberOfTrees = DefaultNumberOfTrees
	}
	if p.SubSampleSize == 0 {
		p.SubSampleSize = DefaultSampleSize
	}
	if p.TimeDecay == 0 {
		p.TimeDecay = DefaultTimeDecay
	}
	if p.ShingleSize == 0 {
		p.ShingleSize = DefaultShingleSize
	}
	return p
}

// forestConfig is the forest these parameters describe for dims columns.
func (p RCFParams) forestConfig(dims int) ForestConfig {
	p = p.withDefaults()
	return ForestConfig{
		Dimensions:    dims,
		NumberOfTrees: p.NumberOfTrees,
		SampleSize:    p.SubSampleSize,
		TimeDecay:     float64(p.TimeDecay),
		ShingleSize:   p.ShingleSize,
		Seed:          p.Seed,
	}
}

func (p RCFParams) calibratorConfig() CalibratorConfig {
	p = p.withDefaults()
	c := p.Calibration
	c.MaxScore = log2(float64(p.SubSampleSize) + 1)
	if c.Horizon == 0 {
		c.Horizon = float64(p.TimeDecay)
	}
	return c
}

// Validate checks the parameters against KDA's ranges.
func (p RCFParams) Validate() error {
	if p.NumberOfTrees < 0 || p.SubSampleSize < 0 || p.TimeDecay < 0 || p.ShingleSize < 0 {
		return fmt.Errorf("anomaly: negative RANDOM_CUT_FOREST parameter")
	}
	if err := p.forestConfig(1).Validate(); err != nil {
		return err
	}
	if p.Probability {
		return p.calibratorConfig().Validate()
	}
	return nil
}

// RCFParamsFromArgs maps the SQL arguments after the cursor, in KDA's order
// (numberOfTrees, subSampleSize, timeDecay, shingleSize[,
// withDirectionality]), to parameters. A nil argument means the default.
func RCFParamsFromArgs(args []any, explanation bool) (RCFParams, error) {
	want := 4
	if explanation {
		want = 5
	}
	if len(args) > want {
		return RCFParams{}, fmt.Errorf("anomaly: %d arguments after the cursor, at most %d", len(args), want)
	}
	var p RCFParams
	ints := []*int{&p.NumberOfTrees, &p.SubSampleSize, &p.TimeDecay, &p.ShingleSize}
	names := []string{"numberOfTrees", "subSampleSize", "timeDecay", "shingleSize"}
	for i, a := range args {
		if a == nil {
			continue
		}
		if i == 4 {
			b, err := boolArg("withDirectionality", a)
			if err != nil {
				return RCFParams{}, err
			}
			p.WithDirectionality = b
			continue
		}
		v, err := intArg(names[i], a)
		if err != nil {
			return RCFParams{}, err
		}
		if v <= 0 {
			return RCFParams{}, fmt.Errorf("anomaly: %s must be positive, got %d", names[i], v)
		}
		*ints[i] = v
	}
	return p, p.Validate()
}

// RCF is the RANDOM_CUT_FOREST operator, or, if made with
// NewRandomCutForestWithExplanation, RANDOM_CUT_FOREST_WITH_EXPLANATION:
// rows in, the same rows with ANOMALY_SCORE (and ANOMALY_EXPLANATION,
// and with Probability ANOMALY_PROBABILITY) appended. Every numeric column
// is a dimension; all columns pass through.
//
// It is a deterministic core (no goroutines, no clock) and not safe for
// concurrent use; the engine wrapper owns one per key group or key and puts
// its snapshot in keyed state.
type RCF struct {
	in      Schema
	out     Schema
	dims    []int
	params  RCFParams
	explain bool
	forest  *Forest
	cal     *Calibrator
	vals    []float64
	attr    Attribution
}

// NewRandomCutForest plans RANDOM_CUT_FOREST over rows of schema in.
func NewRandomCutForest(in Schema, p RCFParams) (*RCF, error) {
	return newRCF(in, p, false)
}

// NewRandomCutForestWithExplanation plans RANDOM_CUT_FOREST_WITH_EXPLANATION.
func NewRandomCutForestWithExplanation(in Schema, p RCFParams) (*RCF, error) {
	return newRCF(in, p, true)
}

func newRCF(in Schema, p RCFParams, explain bool) (*RCF, error) {
	r, err := planRCF(in, p, explain)
	if err != nil {
		return nil, err
	}
	if r.forest, err = NewForest(r.params.forestConfig(len(r.dims))); err != nil {
		return nil, err
	}
	if r.params.Probability {
		if r.cal, err = NewCalibrator(r.params.calibratorConfig()); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// planRCF validates a plan and sets up everything but the models, which
// newRCF creates and UnmarshalBinary decodes.
func planRCF(in Schema, p RCFParams, explain bool) (*RCF, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.WithDirectionality && !explain {
		return nil, fmt.Errorf("anomaly: withDirectionality applies to RANDOM_CUT_FOREST_WITH_EXPLANATION only")
	}
	outs := []string{ColAnomalyScore}
	if explain {
		outs = append(outs, ColAnomalyExplanation)
	}
	if p.Probability {
		outs = append(outs, ColAnomalyProbability)
	}
	dims, err := dimensions(in, outs...)
	if err != nil {
		return nil, err
	}
	p = p.withDefaults()
	r := &RCF{in: append(Schema(nil), in...), dims: dims, params: p, explain: explain}
	r.out = append(append(Schema(nil), r.in...), Column{ColAnomalyScore, TypeDouble})
	if r.explain {
		r.out = append(r.out, Column{ColAnomalyExplanation, TypeVarchar})
	}
	if p.Probability {
		r.out = append(r.out, Column{ColAnomalyProbability, TypeDouble})
	}
	r.vals = make([]float64, len(r.dims))
	return r, nil
}

// InputSchema is the schema the operator was planned for.
func (r *RCF) InputSchema() Schema { return r.in }

// OutputSchema is the input schema followed by the output columns.
func (r *RCF) OutputSchema() Schema { return r.out }

// Forest gives access to the model (read-only use, e.g. Updates).
func (r *RCF) Forest() *Forest { return r.forest }

// Process scores one row and returns it with the output columns appended
// (in a new slice). A row with a missing, non-numeric, NaN or infinite
// value in a numeric column returns an error wrapping ErrBadRecord and
// leaves the model untouched; route that row to the error output.
func (r *RCF) Process(in Row) (Row, error) {
	return r.ProcessInto(make(Row, 0, len(r.out)), in)
}

// ProcessInto is Process appending the output row to dst[:0].
func (r *RCF) ProcessInto(dst, in Row) (Row, error) {
	if err := extract(r.in, r.dims, in, r.vals); err != nil {
		return dst, err
	}
	var attr *Attribution
	if r.explain {
		attr = &r.attr
	}
	score, err := r.forest.Process(r.vals, attr)
	if err != nil {
		return dst, err
	}
	dst = append(dst[:0], in...)
	dst = append(dst, score)
	if r.explain {
		dst = append(dst, r.explanationJSON(&r.attr))
	}
	if r.cal != nil {
		dst = append(dst, r.cal.Update(score))
	}
	return dst, nil
}

// rowBatch is the scratch of processRows, owned by the operator that
// drives many models (one per key) so that each model does not keep a
// batch-sized buffer of its own. It is not safe for concurrent use.
type rowBatch struct {
	flat   []float64
	recs   [][]float64
	rows   []int // index in the caller's slice of each record in recs
	scores []float64
	attrs  []Attribution
}

// processRows scores in[0], in[1], ... in turn, exactly as a loop of
// Process calls would, but hands the forest all good rows at once
// (Forest.ProcessBatch). emit receives, in input order, each row's output
// or, for a row that Process would refuse (wrapping ErrBadRecord, the model
// untouched by it), a nil row and the error. Any other error stops it.
func (r *RCF) processRows(in []Row, sc *rowBatch, emit func(i int, out Row, err error)) error {
	sc.flat = sc.flat[:0]
	sc.rows = sc.rows[:0]
	sc.recs = sc.recs[:0]
	for i, row := range in {
		if err := extract(r.in, r.dims, row, r.vals); err != nil {
			// Score what came before, so that outputs stay in order.
			if err := r.scoreRows(in, sc, emit); err != nil {
				return err
			}
			emit(i, nil, err)
			continue
		}
		sc.flat = append(sc.flat, r.vals...)
		sc.rows = append(sc.rows, i)
	}
	return r.scoreRows(in, sc, emit)
}

// scoreRows scores the rows gathered in sc and empties it.
func (r *RCF) scoreRows(in []Row, sc *rowBatch, emit func(int, Row, error)) error {
	n := len(sc.rows)
	if n == 0 {
		return nil
	}
	d := len(r.dims)
	sc.recs = sc.recs[:0]
	for k := 0; k < n; k++ {
		sc.recs = append(sc.recs, sc.flat[k*d:(k+1)*d:(k+1)*d])
	}
	if cap(sc.scores) < n {
		sc.scores = make([]float64, n)
	}
	scores := sc.scores[:n]
	var attrs []Attribution
	if r.explain {
		for len(sc.attrs) < n {
			sc.attrs = append(sc.attrs, Attribution{})
		}
		attrs = sc.attrs[:n]
	}
	if err := r.forest.ProcessBatch(sc.recs, scores, attrs); err != nil {
		return err
	}
	for k, i := range sc.rows {
		row := in[i]
		out := make(Row, 0, len(r.out))
		out = append(out, row...)
		out = append(out, scores[k])
		if r.explain {
			out = append(out, r.explanationJSON(&attrs[k]))
		}
		if r.cal != nil {
			out = append(out, r.cal.Update(scores[k]))
		}
		emit(i, out, nil)
	}
	sc.flat, sc.rows, sc.recs = sc.flat[:0], sc.rows[:0], sc.recs[:0]
	return nil
}

// explanationJSON renders ANOMALY_EXPLANATION: per numeric column its
// ATTRIBUTION_SCORE (its share of the score; the shares sum to the score),
// STRENGTH (|high - low|, how one-sided the share is) and, if asked,
// DIRECTION (HIGH when the value is above what the model has seen, LOW
// otherwise, including while the model warms up).
func (r *RCF) explanationJSON(attr *Attribution) string {
	b := make([]byte, 0, 64*len(r.dims))
	b = append(b, '{')
	for k, i := range r.dims {
		if k > 0 {
			b = append(b, ',')
		}
		hi, lo := attr.High[k], attr.Low[k]
		b = strconv.AppendQuote(b, r.in[i].Name)
		b = append(b, `:{"ATTRIBUTION_SCORE":`...)
		b = appendNumber(b, hi+lo)
		b = append(b, `,"STRENGTH":`...)
		b = appendNumber(b, math.Abs(hi-lo))
		if r.params.WithDirectionality {
			if hi > lo {
				b = append(b, `,"DIRECTION":"HIGH"`...)
			} else {
				b = append(b, `,"DIRECTION":"LOW"`...)
			}
		}
		b = append(b, '}')
	}
	return string(append(b, '}'))
}

func appendNumber(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// Snapshot format of an RCF operator, version 1: "SRCO" u16(version), the
// input schema (u32 count, then per column str name, u8 type), the
// parameters (u32 trees, u32 sample size, u32 time decay, u32 shingle size,
// bool directionality, u64 seed, bool probability, f64 Horizon,
// u32 MinHistory, u32 OnsetWindow, f64 PriorWeight), bool explanation,
// the forest's snapshot (bytes), and with probability the calibrator's
// snapshot (bytes).
const (
	rcfMagic   = "SRCO"
	rcfVersion = 1
)

// MarshalBinary encodes the operator: its plan and its model.
func (r *RCF) MarshalBinary() ([]byte, error) { return r.appendBinary(nil), nil }

// appendBinary appends MarshalBinary's encoding to b.
func (r *RCF) appendBinary(b []byte) []byte {
	e := &enc{b: b}
	e.header(rcfMagic, rcfVersion)
	encodeSchema(e, r.in)
	p := r.params
	e.u32(uint32(p.NumberOfTrees))
	e.u32(uint32(p.SubSampleSize))
	e.u32(uint32(p.TimeDecay))
	e.u32(uint32(p.ShingleSize))
	e.bool(p.WithDirectionality)
	e.u64(p.Seed)
	e.bool(p.Probability)
	e.f64(p.Calibration.Horizon)
	e.u32(uint32(p.Calibration.MinHistory))
	e.u32(uint32(p.Calibration.OnsetWindow))
	e.f64(p.Calibration.PriorWeight)
	e.bool(r.explain)
	e.nested(r.forest.encode)
	if r.cal != nil {
		e.nested(r.cal.encode)
	}
	return e.b
}

// UnmarshalBinary restores an operator. Into a zero RCF it restores plan and
// model; into a planned one it also checks that the snapshot was taken by
// the same plan (schema, parameters, variant) and refuses it otherwise. On
// error r is unchanged; corrupt bytes give an error wrapping
// ErrCorruptSnapshot.
func (r *RCF) UnmarshalBinary(b []byte) error {
	d := &dec{b: b}
	if v := d.header(rcfMagic); d.err == nil && v != rcfVersion {
		d.fail("operator format version %d, this build reads %d", v, rcfVersion)
	}
	in := decodeSchema(d)
	var p RCFParams
	p.NumberOfTrees = int(d.u32())
	p.SubSampleSize = int(d.u32())
	p.TimeDecay = int(d.u32())
	p.ShingleSize = int(d.u32())
	p.WithDirectionality = d.bool()
	p.Seed = d.u64()
	p.Probability = d.bool()
	p.Calibration.Horizon = d.f64()
	p.Calibration.MinHistory = int(d.u32())
	p.Calibration.OnsetWindow = int(d.u32())
	p.Calibration.PriorWeight = d.f64()
	explain := d.bool()
	fb := d.bytes(len(b))
	var cb []byte
	if p.Probability {
		cb = d.bytes(len(b))
	}
	d.end()
	if d.err != nil {
		return d.err
	}
	g, err := planRCF(in, p, explain)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	if r.in != nil && !r.samePlan(g, true) {
		return fmt.Errorf("anomaly: snapshot is of a different RANDOM_CUT_FOREST plan (schema, parameters or variant differ)")
	}
	g.forest = &Forest{}
	if err := g.forest.UnmarshalBinary(fb); err != nil {
		return err
	}
	if g.forest.cfg != p.forestConfig(len(g.dims)).withDefaults() {
		return fmt.Errorf("%w: forest configuration disagrees with the operator's", ErrCorruptSnapshot)
	}
	if p.Probability {
		g.cal = &Calibrator{}
		if err := g.cal.UnmarshalBinary(cb); err != nil {
			return err
		}
		if g.cal.cfg != p.calibratorConfig().withDefaults() {
			return fmt.Errorf("%w: calibrator configuration disagrees with the operator's", ErrCorruptSnapshot)
		}
	}
	*r = *g
	return nil
}

// samePlan reports whether g was planned like r: same schema, variant and
// parameters, the seed compared only if withSeed (keyed operators derive
// one seed per key).
func (r *RCF) samePlan(g *RCF, withSeed bool) bool {
	a, b := r.params, g.params
	if !withSeed {
		a.Seed, b.Seed = 0, 0
	}
	if r.explain != g.explain || a != b || len(r.in) != len(g.in) {
		return false
	}
	for i := range r.in {
		if r.in[i] != g.in[i] {
			return false
		}
	}
	return true
}

func encodeSchema(e *enc, s Schema) {
	e.u32(uint32(len(s)))
	for _, c := range s {
		e.str(c.Name)
		e.u8(uint8(c.Type))
	}
}

func decodeSchema(d *dec) Schema {
	n := d.length(1 << 16)
	s := make(Schema, 0, min(n, 1024))
	for i := 0; i < n && d.err == nil; i++ {
		name := d.str(1 << 16)
		s = append(s, Column{Name: name, Type: ColumnType(d.u8())})
	}
	return s
}
