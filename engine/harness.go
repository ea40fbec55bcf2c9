package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/state"
)

// HarnessOptions configure a Harness.
type HarnessOptions struct {
	// Clock drives processing time. Default: a manual clock at the Unix
	// epoch.
	Clock *ManualClock
	// Subtask and Parallelism place the operator instance. Default 0 of 1.
	Subtask, Parallelism int
	// MaxParallelism is the number of key groups. Default 128.
	MaxParallelism int
	// BatchSize is the collector batch size. Default 1, so that every
	// emitted record reaches the output at once.
	BatchSize int
	// StateBackend is "memory" (default) or "pebble".
	StateBackend string
	// StateCacheEntries bounds the state cache (Config.StateCacheEntries);
	// a small one makes state spill to the store. Default 1<<18.
	StateCacheEntries int
	// RestoreFrom restores the operator from a snapshot that Harness.Snapshot
	// wrote (or a job's checkpoint or savepoint holding an operator named
	// "operator").
	RestoreFrom string
}

// Harness drives one operator instance deterministically, with no
// goroutines: a test feeds records, watermarks and processing time, and reads
// what the operator emitted, as Flink's operator test harnesses do.
type Harness[In, Out any] struct {
	t       *task
	inst    *opInstance
	in      Input[In]
	clk     *clock.Manual
	out     []Record[Out]
	wms     []int64
	sides   map[string][]Record[any]
	closed  bool
	cancel  func()
	outputs []string
	tmp     string // Pebble working directory
	nextCP  int64
}

// NewHarness opens op in a harness.
func NewHarness[In, Out any](op OneInputOperator[In, Out], opts HarnessOptions) (*Harness[In, Out], error) {
	return newHarness[In, Out](opts, func(t *task, n *node, outs [][]any) (*opInstance, []any, error) {
		return instantiateOneInput(t, n, opts.Subtask, op, outs)
	})
}

// NewKeyedHarness opens a keyed operator in a harness.
func NewKeyedHarness[In any, K comparable, Out any](op KeyedOperator[In, K, Out], opts HarnessOptions) (*Harness[In, Out], error) {
	return newHarness[In, Out](opts, func(t *task, n *node, outs [][]any) (*opInstance, []any, error) {
		codec, err := state.CodecFor[K]()
		if err != nil {
			return nil, nil, fmt.Errorf("engine: harness: %w", err)
		}
		n.keyed = true
		inst, err := instantiateKeyed[K, Out](t, n, opts.Subtask, outs, codec, op)
		if err != nil {
			return nil, nil, err
		}
		return inst, []any{Input[In](&oneInputAdapter[In]{inst: inst, fn: op.ProcessBatch})}, nil
	})
}

// NewProcessHarness opens a ProcessFunction in a harness.
func NewProcessHarness[In, Out any](fn ProcessFunction[In, Out], opts HarnessOptions) (*Harness[In, Out], error) {
	return NewHarness[In, Out](&processOp[In, Out]{fn: fn}, opts)
}

// NewKeyedProcessHarness opens a KeyedProcessFunction in a harness.
func NewKeyedProcessHarness[In any, K comparable, Out any](keyOf func(In) K, fn KeyedProcessFunction[K, In, Out], opts HarnessOptions) (*Harness[In, Out], error) {
	return NewKeyedHarness[In, K, Out](&keyedProcessOp[In, K, Out]{fn: fn, keyOf: keyOf}, opts)
}

func newHarness[In, Out any](opts HarnessOptions, build func(t *task, n *node, outs [][]any) (*opInstance, []any, error)) (*Harness[In, Out], error) {
	if opts.Clock == nil {
		opts.Clock = clock.NewManual(time.UnixMilli(0))
	}
	if opts.Parallelism == 0 {
		opts.Parallelism = 1
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 1
	}
	if opts.StateBackend == "" {
		opts.StateBackend = "memory"
	}
	cfg := Config{Parallelism: opts.Parallelism, MaxParallelism: opts.MaxParallelism, BatchSize: opts.BatchSize, Clock: opts.Clock, StateBackend: opts.StateBackend, StateCacheEntries: opts.StateCacheEntries}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Harness[In, Out]{clk: opts.Clock, sides: map[string][]Record[any]{}}
	j := NewJob("harness", cfg)
	n := j.addNode("operator", kindOneInput)
	n.parallelism = opts.Parallelism
	n.slots = []*slot{{kit: typedKit[Out]{}}}
	ctx, cancel := context.WithCancelCause(context.Background())
	h.cancel = func() { cancel(errJobFinished) }
	ex := &execution{job: j, cfg: cfg, ctx: ctx, cancel: cancel}
	if cfg.StateBackend == "pebble" {
		dir, err := os.MkdirTemp("", "sluice-harness-")
		if err != nil {
			return nil, err
		}
		ex.stateDir, h.tmp = dir, dir
	}
	if opts.RestoreFrom != "" {
		p, err := loadRestorePlan(opts.RestoreFrom)
		if err != nil {
			return nil, err
		}
		ex.restore = p
	}
	t := &task{exec: ex, cfg: cfg, ctx: ctx, name: "harness", subtask: opts.Subtask, parallelism: opts.Parallelism,
		batchSize: cfg.BatchSize, lastWm: MinTime, procAt: MaxTime, harnessSides: h.captureSide}
	h.t = t
	outs := [][]any{{Input[Out](inputFunc[Out](func(b []Record[Out]) error {
		h.out = append(h.out, b...)
		return nil
	}))}}
	inst, ins, err := build(t, n, outs)
	if err != nil {
		return nil, err
	}
	inst.downs = append(inst.downs, controlFunc(func(c control) error {
		if c.kind == ctlWatermark {
			h.wms = append(h.wms, c.wm)
		}
		return nil
	}))
	t.insts, t.head = []*opInstance{inst}, inst
	h.inst, h.in = inst, ins[0].(Input[In])
	if err := t.openAll(); err != nil {
		return nil, err
	}
	return h, nil
}

// captureSide records a side output's records in the harness.
func (h *Harness[In, Out]) captureSide(id string, rs []Record[any]) {
	if !slices.Contains(h.outputs, id) {
		h.outputs = append(h.outputs, id)
	}
	h.sides[id] = append(h.sides[id], rs...)
}

type controlFunc func(control) error

func (f controlFunc) control(c control) error { return f(c) }

// ProcessElement feeds one record.
func (h *Harness[In, Out]) ProcessElement(v In, ts int64) error {
	return h.in.ProcessBatch([]Record[In]{{Value: v, Time: ts}})
}

// ProcessBatch feeds a batch of records.
func (h *Harness[In, Out]) ProcessBatch(b []Record[In]) error { return h.in.ProcessBatch(b) }

// ProcessWatermark feeds a watermark: due event-time timers fire.
func (h *Harness[In, Out]) ProcessWatermark(wm int64) error {
	return h.t.emitWatermark(wm)
}

// SetProcessingTime moves the manual clock to ms (milliseconds since the
// epoch) and fires the processing-time timers and callbacks that are due.
func (h *Harness[In, Out]) SetProcessingTime(ms int64) error {
	h.clk.Set(time.UnixMilli(ms))
	return h.t.fireProcessingTime()
}

// EndInput signals the end of a bounded input: the final watermark, then
// end of input.
func (h *Harness[In, Out]) EndInput() error { return h.t.finish() }

// Output returns the main output so far.
func (h *Harness[In, Out]) Output() []Record[Out] { return slices.Clone(h.out) }

// OutputValues returns the values of the main output so far.
func (h *Harness[In, Out]) OutputValues() []Out {
	vs := make([]Out, len(h.out))
	for i, r := range h.out {
		vs[i] = r.Value
	}
	return vs
}

// Watermarks returns the watermarks the operator forwarded so far.
func (h *Harness[In, Out]) Watermarks() []int64 { return slices.Clone(h.wms) }

// UntypedSideOutput returns the records emitted so far to the side output
// whose tag has id tag, with their values untyped: for scripts that print
// the side outputs of several tags, of different types, alike (the
// operators' scripts print late records and Either values this way). A
// test of one tag uses SideOutputOf, which keeps the tag's type.
func (h *Harness[In, Out]) UntypedSideOutput(tag string) []Record[any] {
	return slices.Clone(h.sides[tag])
}

// SideOutputOf returns the records emitted to tag so far, typed as the tag
// says. A value of another type under the tag's id (two tags with one id)
// panics: the harness has no way to return it.
func SideOutputOf[X, In, Out any](h *Harness[In, Out], tag OutputTag[X]) []Record[X] {
	rs := h.sides[tag.ID()]
	out := make([]Record[X], len(rs))
	for i, r := range rs {
		v, ok := r.Value.(X)
		if !ok {
			panic(fmt.Sprintf("engine: harness: side output %q holds a %T, not the tag's %T", tag.ID(), r.Value, v))
		}
		out[i] = Record[X]{Value: v, Time: r.Time}
	}
	return out
}

// ClearOutput forgets the output gathered so far.
func (h *Harness[In, Out]) ClearOutput() {
	h.out, h.wms = nil, nil
	clear(h.sides)
}

// Snapshot writes the operator's state — keyed state, timers, operator
// state — into dir as a checkpoint that HarnessOptions.RestoreFrom (or a
// job's Checkpoint.RestoreFrom) can start from.
func (h *Harness[In, Out]) Snapshot(dir string) error {
	h.nextCP++
	cp := checkpointBarrier{id: h.nextCP}
	if err := h.t.snapshot(cp, dir, false); err != nil {
		return err
	}
	m := &Manifest{Version: ManifestVersion, Job: "harness", CheckpointID: cp.id, Time: h.clk.Now().UTC(),
		MaxParallelism: h.t.cfg.MaxParallelism, LayoutVersion: state.LayoutVersion}
	for _, p := range h.t.lastOps {
		n := p.inst.node
		snap := p.snap
		if p.write != nil {
			rel := filepath.Join(sanitize(n.uid), fmt.Sprint(p.inst.subtask))
			if err := writeStateSnapshot(p.write, filepath.Join(dir, rel), false, snap.StateFormat, snap.KeyGroups); err != nil {
				return err
			}
			snap.StateDir = rel
			if p.overlay != nil {
				if chunks := p.overlay(); chunks != nil {
					snap.Overlay = rel + ".overlay"
					err := state.WriteOverlayFile(filepath.Join(dir, snap.Overlay), chunks)
					state.ReleaseOverlay(chunks)
					if err != nil {
						return err
					}
				}
			}
		}
		m.Operators = append(m.Operators, ManifestOperator{UID: n.uid, Name: n.name, Parallelism: p.inst.parallelism, Subtasks: []SubtaskSnap{snap}})
	}
	b, err := encodeManifest(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, ManifestFile), b)
}

// NotifyCheckpointComplete tells the operator that the snapshot with the
// given id (the n-th Snapshot of this harness) completed.
func (h *Harness[In, Out]) NotifyCheckpointComplete(id int64) error {
	if l, ok := h.inst.checkpointListener(); ok {
		return h.inst.call(func() error { return l.NotifyCheckpointComplete(id) })
	}
	return nil
}

// Close closes the operator.
func (h *Harness[In, Out]) Close() error {
	if h.closed {
		return nil
	}
	h.closed = true
	defer h.cancel()
	err := h.t.closeAll()
	if h.tmp != "" {
		os.RemoveAll(h.tmp)
	}
	return err
}
