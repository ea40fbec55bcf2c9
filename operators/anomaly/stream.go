package anomaly

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// The engine operators: the anomaly functions inside jobs, over streams of
// Row, with each model kept in keyed state so that it is part of every
// checkpoint and savepoint (see doc.go, "Operators in jobs").

const (
	// CounterErrors counts the rows an anomaly operator refused (a NULL,
	// non-numeric, NaN or infinite value in a scored column, a wrong number
	// of values, a NULL key column) and sent to ErrorTag. It is the name
	// package operators uses for its error records too.
	CounterErrors = "error_records"
	// CounterModels counts the models a subtask created: keys seen for the
	// first time (a restored key's model is not counted again).
	CounterModels = "models_created"

	// DefaultMaxCachedModels is OperatorOptions.MaxCachedModels' default.
	DefaultMaxCachedModels = 32

	// modelState is the name of the keyed state holding the models.
	modelState = "anomaly-model"
)

// RejectedRow is a row an anomaly operator refused, on its error side
// output (ErrorTag): the row as it came in and why it was refused.
type RejectedRow struct {
	Row    Row
	Reason string
}

// ErrorTag is the side output of the rows the anomaly operators refuse;
// they never reach a model. Read it with engine.SideOutput(out,
// anomaly.ErrorTag()); unconsumed, the rows are counted (CounterErrors and
// the side output's count in engine.OperatorMetrics) and dropped.
func ErrorTag() engine.OutputTag[RejectedRow] {
	return engine.NewOutputTag[RejectedRow]("anomaly-errors")
}

// OperatorOptions are the engine-side options of an anomaly operator. The
// zero value means the defaults.
type OperatorOptions struct {
	// MaxCachedModels caps how many decoded models one subtask keeps in
	// memory (state.WithMaxCached); the others live encoded in the state
	// store. Default 32. A model at the defaults is about 2 MB at one
	// numeric column and 7 MB at ten (see doc.go), so memory is about
	// MaxCachedModels times that. A record whose key's model is not cached
	// pays a decode of the model, and the model it displaces an encode:
	// milliseconds instead of microseconds. Set it at least to the number
	// of keys a subtask serves actively, and spread keys over more subtasks
	// when that costs too much memory.
	MaxCachedModels int
	// KeyColumns are columns that identify the key (a device id, say): not
	// dimensions even when numeric; a row with NULL in one is refused.
	// They pass through to the output unchanged.
	KeyColumns []string
}

func (o OperatorOptions) withDefaults() OperatorOptions {
	if o.MaxCachedModels == 0 {
		o.MaxCachedModels = DefaultMaxCachedModels
	}
	return o
}

// Validate reports invalid options.
func (o OperatorOptions) Validate() error {
	if o.MaxCachedModels < 0 {
		return fmt.Errorf("anomaly: MaxCachedModels %d must not be negative", o.MaxCachedModels)
	}
	return nil
}

// Operator is a planned anomaly function: its parameters and schemas
// validated, ready to be added to jobs with Apply (one model for the whole
// stream, as KDA ran it) or ApplyByKey (one model per key). A SQL planner
// plans the table function call with PlanRandomCutForest and friends,
// reports their errors as planning errors, and uses OutputSchema for the
// columns that follow. An Operator is immutable and may be applied to any
// number of jobs.
type Operator struct {
	fn      string // the SQL function's name, for messages
	in      Schema // as given
	model   Schema // in, with key columns as pass-through
	out     Schema
	dims    []int
	keyCols []int
	opts    OperatorOptions

	rcf     RCFParams
	explain bool
	hot     HotspotsParams
}

// PlanRandomCutForest plans RANDOM_CUT_FOREST over rows of schema in: the
// output rows are the input rows followed by ANOMALY_SCORE (and, with
// p.Probability, ANOMALY_PROBABILITY).
func PlanRandomCutForest(in Schema, p RCFParams, opts OperatorOptions) (*Operator, error) {
	return planOperator("RANDOM_CUT_FOREST", in, opts, func(model Schema) (Schema, error) {
		r, err := planRCF(model, p, false)
		if err != nil {
			return nil, err
		}
		return r.out, nil
	}, func(o *Operator) { o.rcf = p.withDefaults() })
}

// PlanRandomCutForestWithExplanation plans
// RANDOM_CUT_FOREST_WITH_EXPLANATION: ANOMALY_SCORE, ANOMALY_EXPLANATION
// (and ANOMALY_PROBABILITY with p.Probability).
func PlanRandomCutForestWithExplanation(in Schema, p RCFParams, opts OperatorOptions) (*Operator, error) {
	return planOperator("RANDOM_CUT_FOREST_WITH_EXPLANATION", in, opts, func(model Schema) (Schema, error) {
		r, err := planRCF(model, p, true)
		if err != nil {
			return nil, err
		}
		return r.out, nil
	}, func(o *Operator) { o.rcf, o.explain = p.withDefaults(), true })
}

// PlanHotspots plans HOTSPOTS: the input rows followed by HOTSPOTS_RESULT.
func PlanHotspots(in Schema, p HotspotsParams, opts OperatorOptions) (*Operator, error) {
	return planOperator("HOTSPOTS", in, opts, func(model Schema) (Schema, error) {
		h, err := NewHotspots(model, p)
		if err != nil {
			return nil, err
		}
		return h.out, nil
	}, func(o *Operator) { o.hot = p })
}

func planOperator(fn string, in Schema, opts OperatorOptions, plan func(model Schema) (Schema, error), set func(*Operator)) (*Operator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	o := &Operator{fn: fn, in: slices.Clone(in), model: slices.Clone(in), opts: opts}
	for _, name := range opts.KeyColumns {
		i := slices.IndexFunc(in, func(c Column) bool { return c.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("anomaly: %s: key column %q not in the schema", fn, name)
		}
		o.model[i].Type = TypeOther
		o.keyCols = append(o.keyCols, i)
	}
	out, err := plan(o.model)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, fn)
	}
	// The key columns keep their types in the output.
	o.out = slices.Clone(out)
	for _, i := range o.keyCols {
		o.out[i].Type = in[i].Type
	}
	o.dims, _ = dimensions(o.model)
	set(o)
	return o, nil
}

// Function is the SQL name of the planned function.
func (o *Operator) Function() string { return o.fn }

// InputSchema is the schema the operator was planned for.
func (o *Operator) InputSchema() Schema { return slices.Clone(o.in) }

// OutputSchema is the input schema followed by the function's columns.
func (o *Operator) OutputSchema() Schema { return slices.Clone(o.out) }

// Apply adds the operator to s's job as Kinesis Data Analytics ran it: one
// model for the whole stream. A single model must see every record, in
// order, so the operator runs at parallelism 1 whatever the job's default
// (records from parallel upstream subtasks are merged as they arrive; for
// scores that do not depend on that interleaving, feed it from one
// partition or from parallelism 1). Its model is keyed state under one
// constant key, so checkpoints, savepoints and restores treat it like any
// keyed state. The model is seeded with the parameters' Seed, so its
// output equals that of NewRandomCutForest (or NewHotspots) fed the same
// rows.
func (o *Operator) Apply(s *engine.Stream[Row], name string) *engine.Stream[Row] {
	ks := engine.KeyBy(s, func(Row) uint8 { return 0 })
	return applyKeyed(o, ks, name, false).SetParallelism(1)
}

// ApplyByKey adds the operator to ks's job with one model per key (per
// device, say), created on the key's first record and kept in keyed state:
// it moves with its key group when the job is restored at another
// parallelism. A key's model is seeded with KeySeed(Seed, key bytes),
// where the key bytes are the key's encoding by ks's codec (for string
// keys the string itself, as NewKeyedRCF does), so each key's output
// depends on that key's records alone, however keys are spread over
// subtasks and interleaved.
func ApplyByKey[K comparable](o *Operator, ks *engine.KeyedStream[Row, K], name string) *engine.Stream[Row] {
	return applyKeyed(o, ks, name, true)
}

// RandomCutForestByKey is RANDOM_CUT_FOREST with a forest per key of ks:
// PlanRandomCutForest then ApplyByKey. A planning error is reported to the
// job (Validate and Execute return it).
func RandomCutForestByKey[K comparable](ks *engine.KeyedStream[Row, K], name string, in Schema, p RCFParams, opts OperatorOptions) *engine.Stream[Row] {
	o, err := PlanRandomCutForest(in, p, opts)
	return applyPlanned(o, err, ks, name)
}

// RandomCutForestWithExplanationByKey is RANDOM_CUT_FOREST_WITH_EXPLANATION
// with a forest per key of ks.
func RandomCutForestWithExplanationByKey[K comparable](ks *engine.KeyedStream[Row, K], name string, in Schema, p RCFParams, opts OperatorOptions) *engine.Stream[Row] {
	o, err := PlanRandomCutForestWithExplanation(in, p, opts)
	return applyPlanned(o, err, ks, name)
}

// HotspotsByKey is HOTSPOTS with a window per key of ks.
func HotspotsByKey[K comparable](ks *engine.KeyedStream[Row, K], name string, in Schema, p HotspotsParams, opts OperatorOptions) *engine.Stream[Row] {
	o, err := PlanHotspots(in, p, opts)
	return applyPlanned(o, err, ks, name)
}

func applyPlanned[K comparable](o *Operator, err error, ks *engine.KeyedStream[Row, K], name string) *engine.Stream[Row] {
	if err != nil {
		out := engine.TransformKeyed(ks, name, func() engine.KeyedOperator[Row, K, Row] { return failedOp[K]{err} })
		out.Job().ReportError(name, err)
		return out
	}
	return ApplyByKey(o, ks, name)
}

// KeyByColumn keys a stream of rows of schema in by the value of one
// column, formatted with %v (so that a key's model is seeded as
// NewKeyedRCF seeds it). Pass the column in OperatorOptions.KeyColumns too
// if it is numeric, so that it is not scored. A missing column is reported
// to the job.
func KeyByColumn(s *engine.Stream[Row], in Schema, column string) *engine.KeyedStream[Row, string] {
	i := slices.IndexFunc(in, func(c Column) bool { return c.Name == column })
	if i < 0 {
		s.Job().ReportError("KeyByColumn", fmt.Errorf("anomaly: key column %q not in the schema", column))
	}
	return engine.KeyBy(s, func(r Row) string {
		if i < 0 || i >= len(r) || r[i] == nil {
			return "" // refused by the operator (NULL key or bad row)
		}
		return fmt.Sprint(r[i])
	})
}

// rowModel is what the operators keep per key: *RCF or *Hotspots.
type rowModel interface {
	*RCF | *Hotspots
	Process(Row) (Row, error)
	processRows(in []Row, sc *rowBatch, emit func(i int, out Row, err error)) error
	appendBinary([]byte) []byte
	UnmarshalBinary([]byte) error
}

func applyKeyed[K comparable](o *Operator, ks *engine.KeyedStream[Row, K], name string, perKeySeed bool) *engine.Stream[Row] {
	if o == nil {
		err := errors.New("anomaly: nil Operator")
		out := engine.TransformKeyed(ks, name, func() engine.KeyedOperator[Row, K, Row] { return failedOp[K]{err} })
		out.Job().ReportError(name, err)
		return out
	}
	return engine.TransformKeyed(ks, name, keyedFactory(o, ks.KeyOf(), perKeySeed))
}

// keyedFactory returns the factory of the operator's parallel instances.
func keyedFactory[K comparable](o *Operator, keyOf func(Row) K, perKeySeed bool) func() engine.KeyedOperator[Row, K, Row] {
	if o.hot.WindowSize != 0 {
		return func() engine.KeyedOperator[Row, K, Row] {
			return newModelOp[K](o, keyOf, func(uint64) (*Hotspots, error) { return NewHotspots(o.model, o.hot) },
				func(b []byte) (*Hotspots, error) {
					h := &Hotspots{}
					if err := h.UnmarshalBinary(b); err != nil {
						return nil, err
					}
					if h.det.p != o.hot || !slices.Equal(h.in, o.model) {
						return nil, errPlanChanged(o)
					}
					return h, nil
				}, perKeySeed)
		}
	}
	tmpl, _ := planRCF(o.model, o.rcf, o.explain)
	return func() engine.KeyedOperator[Row, K, Row] {
		return newModelOp[K](o, keyOf, func(seed uint64) (*RCF, error) {
			p := o.rcf
			p.Seed = seed
			return newRCF(o.model, p, o.explain)
		}, func(b []byte) (*RCF, error) {
			r := &RCF{}
			if err := r.UnmarshalBinary(b); err != nil {
				return nil, err
			}
			// Keyed models have seeds of their own; the rest of the plan
			// must be the operator's.
			if !tmpl.samePlan(r, !perKeySeed) {
				return nil, errPlanChanged(o)
			}
			return r, nil
		}, perKeySeed)
	}
}

func errPlanChanged(o *Operator) error {
	return fmt.Errorf("anomaly: %s: a restored model was made by a different plan (schema, parameters or function); "+
		"a model cannot change its parameters: restore without this state (a new operator uid) to start new models", o.fn)
}

// modelOp is the keyed operator behind Apply and ApplyByKey: per record it
// checks the row, loads the key's model from keyed state (creating it on
// the key's first good row), lets the model score it, and marks the model
// dirty so that the next checkpoint writes it.
type modelOp[K comparable, M rowModel] struct {
	o          *Operator
	keyOf      func(Row) K
	newModel   func(seed uint64) (M, error)
	decode     func([]byte) (M, error)
	perKeySeed bool

	keys    *engine.Keys[K]
	out     *engine.Collector[Row]
	errOut  *engine.Collector[RejectedRow]
	errs    *engine.Counter
	created *engine.Counter
	models  *state.ValueState[M]
	probe   []float64

	// The run of same-key rows ProcessBatch is gathering, and the scratch
	// its model scores them with.
	run   []Row
	runTs []int64
	batch rowBatch
}

func newModelOp[K comparable, M rowModel](o *Operator, keyOf func(Row) K, newModel func(uint64) (M, error), decode func([]byte) (M, error), perKeySeed bool) *modelOp[K, M] {
	return &modelOp[K, M]{o: o, keyOf: keyOf, newModel: newModel, decode: decode, perKeySeed: perKeySeed}
}

func (m *modelOp[K, M]) Open(ctx *engine.OperatorContext[Row], keys *engine.Keys[K]) error {
	m.keys, m.out = keys, ctx.Output()
	m.errOut = engine.SideCollector(ctx, ErrorTag())
	m.errs, m.created = ctx.Counter(CounterErrors), ctx.Counter(CounterModels)
	m.probe = make([]float64, len(m.o.dims))
	codec := state.FuncCodec[M]{
		AppendFunc: func(dst []byte, v M) []byte { return v.appendBinary(dst) },
		DecodeFunc: m.decode,
	}
	var err error
	m.models, err = state.NewValueState[M](keys.Backend(), modelState, codec, state.WithMaxCached(m.o.opts.MaxCachedModels))
	return err
}

// check returns why row must go to the error output, or nil.
func (m *modelOp[K, M]) check(row Row) error {
	if err := extract(m.o.model, m.o.dims, row, m.probe); err != nil {
		return err
	}
	for _, i := range m.o.keyCols {
		if row[i] == nil {
			return fmt.Errorf("%w: key column %q is NULL", ErrBadRecord, m.o.in[i].Name)
		}
	}
	return nil
}

// ProcessBatch hands the model of each run of consecutive good rows with
// the same key all of the run at once (for RCF, one Forest.ProcessBatch
// call), which scores exactly as row by row would. Outputs and rejections
// keep the batch's order: a run is flushed before a bad row is rejected.
func (m *modelOp[K, M]) ProcessBatch(b []engine.Record[Row]) error {
	var (
		runKey K
		start  = -1 // first record of the run, -1 when there is none
	)
	m.run = m.run[:0]
	for i := range b {
		row := b[i].Value
		if err := m.check(row); err != nil {
			if err := m.flush(b, start); err != nil {
				return err
			}
			start = -1
			m.reject(row, b[i].Time, err)
			continue
		}
		k := m.keyOf(row)
		if start >= 0 && k != runKey {
			if err := m.flush(b, start); err != nil {
				return err
			}
			start = -1
		}
		if start < 0 {
			start, runKey = i, k
			m.run = m.run[:0]
		}
		m.run = append(m.run, row)
		m.runTs = append(m.runTs[:len(m.run)-1], b[i].Time)
	}
	return m.flush(b, start)
}

// flush scores the run gathered in m.run (records of one key starting at
// b[start]) against that key's model, creating it on its first rows.
func (m *modelOp[K, M]) flush(b []engine.Record[Row], start int) error {
	if start < 0 || len(m.run) == 0 {
		return nil
	}
	defer func() {
		clear(m.run)
		m.run = m.run[:0]
	}()
	m.keys.SetCurrentKey(m.keyOf(b[start].Value))
	model, ok, err := m.models.Value()
	if err != nil {
		return fmt.Errorf("anomaly: %s: load model: %w", m.o.fn, err)
	}
	if !ok {
		seed := m.o.seed()
		if m.perKeySeed {
			key, _ := m.keys.Backend().CurrentKey()
			seed = KeySeed(seed, string(key))
		}
		if model, err = m.newModel(seed); err != nil {
			return fmt.Errorf("anomaly: %s: new model: %w", m.o.fn, err)
		}
		m.created.Inc()
	}
	err = model.processRows(m.run, &m.batch, func(i int, res Row, err error) {
		if err != nil {
			// check has already refused every row a model refuses; this
			// is a second line of defence, and the model is untouched.
			m.reject(m.run[i], m.runTs[i], err)
			return
		}
		m.out.Collect(res, m.runTs[i])
	})
	if err != nil {
		return fmt.Errorf("anomaly: %s: %w", m.o.fn, err)
	}
	// The model changed in place: mark it dirty so that the next
	// checkpoint (or an eviction from the cache) writes it.
	return m.models.Update(model)
}

func (m *modelOp[K, M]) reject(row Row, ts int64, err error) {
	m.errs.Inc()
	m.errOut.Collect(RejectedRow{Row: row, Reason: err.Error()}, ts)
}

func (m *modelOp[K, M]) OnTimer(engine.TimerFiring) error { return nil }
func (m *modelOp[K, M]) Close() error                     { return nil }

// seed is the base seed of the operator's models.
func (o *Operator) seed() uint64 { return o.rcf.Seed }

// failedOp stands in for an operator whose planning failed; the job
// reports the planning error before it runs, so Open is never reached.
type failedOp[K comparable] struct{ err error }

func (f failedOp[K]) Open(*engine.OperatorContext[Row], *engine.Keys[K]) error { return f.err }
func (f failedOp[K]) ProcessBatch([]engine.Record[Row]) error                  { return f.err }
func (f failedOp[K]) OnTimer(engine.TimerFiring) error                         { return nil }
func (f failedOp[K]) Close() error                                             { return nil }
