package anomaly

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
)

// The rows of the engine tests: a device, its record number, two scored
// columns. seq is OTHER so that it passes through unscored.
var streamSchema = Schema{{"device", TypeVarchar}, {"seq", TypeOther}, {"temp", TypeDouble}, {"load", TypeBigint}}

// streamRows returns parts partitions of rows; each device lives in one
// partition, its rows in order, so that every key's input order is fixed
// however the job runs. Every 97th row of a device is a spike.
func streamRows(parts, devicesPer, n int, seed uint64) [][]Row {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([][]Row, parts)
	seqs := map[string]int{}
	for p := range out {
		for i := 0; i < n; i++ {
			dev := fmt.Sprintf("p%d-d%d", p, r.IntN(devicesPer))
			seqs[dev]++
			s := seqs[dev]
			temp := 20 + 2*math.Sin(float64(s)/15) + r.NormFloat64()*0.3
			load := int64(500 + r.IntN(50))
			if s%97 == 0 {
				temp += 15
			}
			out[p] = append(out[p], Row{dev, s, temp, load})
		}
	}
	return out
}

// rowKey identifies an output row.
func rowKey(r Row) string { return fmt.Sprintf("%v/%v", r[0], r[1]) }

// variant is one anomaly function under test, with its reference: the
// plain core operator a key's (or the stream's) model must match.
type variant struct {
	name string
	plan func(opts OperatorOptions) (*Operator, error)
	core func(seed uint64) (interface{ Process(Row) (Row, error) }, error)
}

func variants() []variant {
	rcf := RCFParams{NumberOfTrees: 12, SubSampleSize: 32, TimeDecay: 400, Seed: 11}
	expl := RCFParams{NumberOfTrees: 10, SubSampleSize: 24, TimeDecay: 300, ShingleSize: 2, WithDirectionality: true, Probability: true, Seed: 12}
	hot := HotspotsParams{WindowSize: 100, ScanRadius: 1.5, MinimumNumberOfPointsInAHotspot: 5}
	model := slices.Clone(streamSchema)
	model[0].Type = TypeOther
	withSeed := func(p RCFParams, seed uint64) RCFParams { p.Seed = seed; return p }
	return []variant{
		{"rcf", func(o OperatorOptions) (*Operator, error) { return PlanRandomCutForest(streamSchema, rcf, o) },
			func(seed uint64) (interface{ Process(Row) (Row, error) }, error) {
				return NewRandomCutForest(model, withSeed(rcf, seed))
			}},
		{"explanation", func(o OperatorOptions) (*Operator, error) {
			return PlanRandomCutForestWithExplanation(streamSchema, expl, o)
		}, func(seed uint64) (interface{ Process(Row) (Row, error) }, error) {
			return NewRandomCutForestWithExplanation(model, withSeed(expl, seed))
		}},
		{"hotspots", func(o OperatorOptions) (*Operator, error) { return PlanHotspots(streamSchema, hot, o) },
			func(uint64) (interface{ Process(Row) (Row, error) }, error) { return NewHotspots(model, hot) }},
	}
}

func keyOpts() OperatorOptions { return OperatorOptions{KeyColumns: []string{"device"}} }

// expectByKey computes what a per-key operator must output for every row:
// each device's rows through its own core model seeded with KeySeed.
func expectByKey(t *testing.T, v variant, seed uint64, parts [][]Row) map[string]Row {
	t.Helper()
	models := map[string]interface{ Process(Row) (Row, error) }{}
	want := map[string]Row{}
	for _, part := range parts {
		for _, r := range part {
			dev := r[0].(string)
			m, ok := models[dev]
			if !ok {
				var err error
				if m, err = v.core(KeySeed(seed, dev)); err != nil {
					t.Fatal(err)
				}
				models[dev] = m
			}
			out, err := m.Process(r)
			if err != nil {
				t.Fatal(err)
			}
			want[rowKey(r)] = out
		}
	}
	return want
}

func sameRow(a, b Row) bool { return reflect.DeepEqual(a, b) }

// keyedHarness opens a per-device instance of o in a harness.
func keyedHarness(t *testing.T, o *Operator, opts engine.HarnessOptions) *engine.Harness[Row, Row] {
	t.Helper()
	keyOf := func(r Row) string { return r[0].(string) }
	h, err := engine.NewKeyedHarness[Row, string, Row](keyedFactory(o, keyOf, true)(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func feed(t *testing.T, h *engine.Harness[Row, Row], rows []Row) []Row {
	t.Helper()
	h.ClearOutput()
	for i, r := range rows {
		if err := h.ProcessElement(r, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	return h.OutputValues()
}

func checkRows(t *testing.T, what string, got []Row, want map[string]Row) {
	t.Helper()
	for _, g := range got {
		w, ok := want[rowKey(g)]
		if !ok {
			t.Fatalf("%s: unexpected row %v", what, g)
		}
		if !sameRow(g, w) {
			t.Fatalf("%s: row %s\n got %v\nwant %v", what, rowKey(g), g, w)
		}
	}
}

// A harness snapshot restored into a new instance continues every key's
// outputs exactly as the uninterrupted instance, with each state backend
// and with a cache so small that models go through the store on every key
// change; all of it equals the core models fed alone.
func TestOperatorSnapshotRestoreIdentical(t *testing.T) {
	parts := streamRows(1, 4, 1200, 1)
	rows := parts[0]
	for _, v := range variants() {
		want := expectByKey(t, v, seedOf(v), parts)
		for _, backend := range []string{"memory", "pebble"} {
			for _, cached := range []int{0, 1} {
				name := fmt.Sprintf("%s/%s/cached=%d", v.name, backend, cached)
				t.Run(name, func(t *testing.T) {
					opts := keyOpts()
					opts.MaxCachedModels = cached
					o, err := v.plan(opts)
					if err != nil {
						t.Fatal(err)
					}
					hopts := engine.HarnessOptions{StateBackend: backend}
					a := keyedHarness(t, o, hopts)
					first := feed(t, a, rows[:700])
					checkRows(t, "before snapshot", first, want)
					dir := filepath.Join(t.TempDir(), "snap")
					if err := a.Snapshot(dir); err != nil {
						t.Fatal(err)
					}
					cont := feed(t, a, rows[700:])
					hopts.RestoreFrom = dir
					b := keyedHarness(t, o, hopts)
					restored := feed(t, b, rows[700:])
					if len(restored) != len(rows)-700 || len(cont) != len(restored) {
						t.Fatalf("%d rows after restore, %d uninterrupted, want %d", len(restored), len(cont), len(rows)-700)
					}
					for i := range restored {
						if !sameRow(restored[i], cont[i]) {
							t.Fatalf("row %d after restore:\n got %v\nwant %v", i, restored[i], cont[i])
						}
					}
					checkRows(t, "after restore", restored, want)
				})
			}
		}
	}
}

func seedOf(v variant) uint64 {
	o, err := v.plan(OperatorOptions{})
	if err != nil {
		panic(err)
	}
	return o.seed()
}

// Bad rows go to the error side output with a reason, never into a model:
// the good rows around them score as if the bad ones had not been there,
// and a bad first row of a key creates no model.
func TestOperatorBadRowsToErrorOutput(t *testing.T) {
	parts := streamRows(1, 2, 400, 2)
	v := variants()[0]
	want := expectByKey(t, v, seedOf(v), parts)
	o, err := v.plan(keyOpts())
	if err != nil {
		t.Fatal(err)
	}
	h := keyedHarness(t, o, engine.HarnessOptions{})
	bad := []Row{
		{"p0-d0", -1, math.NaN(), int64(1)},
		{"p0-d1", -2, 20.0, "high"},
		{"p0-d0", -3, math.Inf(1), int64(1)},
		{"p0-d1", -4, 20.0},
		{nil, -5, 20.0, int64(1)},
		{"new-device", -6, math.Inf(-1), int64(1)},
		{"p0-d0", -7, nil, int64(1)},
	}
	var in []Row
	for i, r := range parts[0] {
		in = append(in, r)
		if i%50 == 10 && len(bad) > 0 {
			in = append(in, bad[0])
			bad = bad[1:]
		}
	}
	for i, r := range in {
		if err := h.ProcessElement(r, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := h.OutputValues()
	if len(got) != len(parts[0]) {
		t.Fatalf("%d good rows out, want %d", len(got), len(parts[0]))
	}
	checkRows(t, "around bad rows", got, want)
	rej := engine.SideOutputOf(h, ErrorTag())
	if len(rej) != 7 {
		t.Fatalf("%d rejected rows, want 7", len(rej))
	}
	for _, r := range rej {
		rr := r.Value
		if rr.Reason == "" || !strings.HasPrefix(rr.Reason, "anomaly: bad record") {
			t.Errorf("rejected %v: reason %q", rr.Row, rr.Reason)
		}
	}
	if s := rej[4].Value.Reason; !strings.Contains(s, `key column "device" is NULL`) {
		t.Errorf("NULL key: %q", s)
	}
}

func TestOperatorPlanning(t *testing.T) {
	if _, err := PlanRandomCutForest(streamSchema, RCFParams{NumberOfTrees: 5000}, OperatorOptions{}); err == nil {
		t.Error("5000 trees accepted")
	}
	if _, err := PlanHotspots(streamSchema, HotspotsParams{WindowSize: 10}, OperatorOptions{}); err == nil {
		t.Error("window 10 accepted")
	}
	if _, err := PlanRandomCutForest(streamSchema, RCFParams{}, OperatorOptions{KeyColumns: []string{"nope"}}); err == nil {
		t.Error("missing key column accepted")
	}
	if _, err := PlanRandomCutForest(Schema{{"id", TypeBigint}}, RCFParams{}, OperatorOptions{KeyColumns: []string{"id"}}); err == nil {
		t.Error("schema whose only numeric column is the key accepted")
	}
	if _, err := PlanRandomCutForest(streamSchema, RCFParams{}, OperatorOptions{MaxCachedModels: -1}); err == nil {
		t.Error("negative cache accepted")
	}
	o, err := PlanRandomCutForestWithExplanation(Schema{{"id", TypeBigint}, {"x", TypeDouble}}, RCFParams{Probability: true},
		OperatorOptions{KeyColumns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Schema{{"id", TypeBigint}, {"x", TypeDouble}, {ColAnomalyScore, TypeDouble},
		{ColAnomalyExplanation, TypeVarchar}, {ColAnomalyProbability, TypeDouble}}
	if !slices.Equal(o.OutputSchema(), want) {
		t.Errorf("output schema %v", o.OutputSchema())
	}
	// A planning error of the convenience form fails the job at Validate.
	j := engine.NewJob("bad", engine.Config{})
	src := engine.FromSlice(j, "rows", []Row{{"a", 1, 1.0, int64(1)}}, engine.WatermarkStrategy[Row]{})
	engine.Collect(RandomCutForestByKey(KeyByColumn(src, streamSchema, "device"), "rcf", streamSchema,
		RCFParams{SubSampleSize: 5}, keyOpts()), "sink")
	if err := j.Validate(); err == nil || !strings.Contains(err.Error(), "subSampleSize") {
		t.Errorf("Validate: %v", err)
	}
}

// newInjector is the shared enginetest.Injector failing the calls numbered
// points, counted from the first completed checkpoint (armed by the job's
// events, so that restarts restore state), with every call before that
// and every tenth call after it slowed a little so that checkpoints
// complete before and between failures.
func newInjector(points ...int64) (in *enginetest.Injector, events func(engine.Event), fail func() error) {
	in = enginetest.NewInjector(points...).ArmLater()
	var seen atomic.Int64
	var armed atomic.Bool
	events = func(e engine.Event) {
		if e.Kind == engine.EventCheckpointCompleted {
			in.Arm()
			armed.Store(true)
		}
	}
	fail = func() error {
		// Until the first checkpoint completes every call waits a little,
		// so that the input cannot run out before the injector is armed
		// (a run with no failure would test nothing; on a loaded machine
		// a short input could otherwise end before any checkpoint).
		if n := seen.Add(1); n%10 == 0 || !armed.Load() {
			time.Sleep(time.Millisecond)
		}
		return in.Fail()
	}
	return in, events, fail
}

func testSeed(t *testing.T) uint64 { return testseed.Seed(t) }

// checkCommitted requires every expected row committed exactly once.
func checkCommitted(t *testing.T, seed uint64, got []Row, want map[string]Row) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range got {
		k := rowKey(g)
		if seen[k] {
			t.Fatalf("seed %d: row %s committed twice", seed, k)
		}
		seen[k] = true
	}
	checkRows(t, fmt.Sprintf("seed %d", seed), got, want)
	if len(got) != len(want) {
		t.Fatalf("seed %d: %d rows committed, want %d", seed, len(got), len(want))
	}
}

// A job with periodic checkpoints and failures injected at random points
// restarts from its checkpoints and commits exactly the rows of a
// failure-free run: every model restored from a checkpoint continues as
// if nothing had happened.
func TestOperatorExactlyOnceWithFailures(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 5))
	for _, v := range variants() {
		parts := streamRows(1+rng.IntN(3), 3, 500+rng.IntN(400), rng.Uint64())
		want := expectByKey(t, v, seedOf(v), parts)
		var points []int64
		for f := 0; f < 1+rng.IntN(3); f++ {
			points = append(points, 1+rng.Int64N(int64(len(want)/8)))
		}
		in, events, fail := newInjector(points...)
		p := 1 + rng.IntN(3)
		backend := []string{"memory", "pebble"}[rng.IntN(2)]
		cfg := engine.Config{
			Parallelism: p, MaxParallelism: 16, StateBackend: backend, BatchSize: []int{7, 64}[rng.IntN(2)],
			Checkpoint: engine.CheckpointConfig{Interval: time.Duration(2+rng.IntN(8)) * time.Millisecond, Dir: t.TempDir()},
			Restart:    engine.FixedDelay(10, time.Millisecond),
			Events:     events,
		}
		o, err := v.plan(OperatorOptions{KeyColumns: []string{"device"}, MaxCachedModels: rng.IntN(3)})
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("anomaly-exactly-once", cfg)
		src := engine.FromPartitions(j, "rows", parts, engine.WatermarkStrategy[Row]{})
		pre := engine.Map(src, "maybe-fail", func(r Row) Row {
			if err := fail(); err != nil {
				panic(err)
			}
			return r
		})
		out := engine.CollectExactlyOnce(ApplyByKey(o, KeyByColumn(pre, streamSchema, "device"), v.name), "sink")
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			t.Fatalf("seed %d %s (p=%d, %s): %v", seed, v.name, p, backend, err)
		}
		restored := 0
		for _, e := range r.Events() {
			if e.Kind == engine.EventRestored && e.CheckpointID > 0 {
				restored++
			}
		}
		t.Logf("%s: p=%d %s, %d failures fired, %d restarts, %d from a checkpoint", v.name, p, backend, in.Fired(), r.Attempt(), restored)
		if restored == 0 {
			t.Fatalf("seed %d %s: no restart restored a checkpoint", seed, v.name)
		}
		checkCommitted(t, seed, out.CommittedValues(), want)
	}
}

// The unkeyed form (one model for the stream, as KDA ran it) equals the
// core operator fed the stream, across failures and restarts.
func TestOperatorStreamFormExactlyOnce(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 6))
	parts := streamRows(1, 3, 1500, rng.Uint64())
	v := variants()[1]
	core, err := v.core(seedOf(v))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Row{}
	for _, r := range parts[0] {
		out, err := core.Process(r)
		if err != nil {
			t.Fatal(err)
		}
		want[rowKey(r)] = out
	}
	in, events, fail := newInjector(1+rng.Int64N(500), 1+rng.Int64N(500))
	o, err := v.plan(OperatorOptions{KeyColumns: []string{"device"}})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("anomaly-stream", engine.Config{Parallelism: 3, MaxParallelism: 16, StateBackend: "pebble", BatchSize: 16,
		Checkpoint: engine.CheckpointConfig{Interval: 3 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(10, time.Millisecond), Events: events})
	src := engine.FromPartitions(j, "rows", parts, engine.WatermarkStrategy[Row]{})
	pre := engine.Map(src, "maybe-fail", func(r Row) Row {
		if err := fail(); err != nil {
			panic(err)
		}
		return r
	}).SetParallelism(1)
	out := engine.CollectExactlyOnce(o.Apply(pre, "rcf"), "sink")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	restored := 0
	for _, e := range r.Events() {
		if e.Kind == engine.EventRestored && e.CheckpointID > 0 {
			restored++
		}
	}
	if restored == 0 {
		t.Fatalf("seed %d: no restart restored a checkpoint (%d failures)", seed, in.Fired())
	}
	ran := false
	for _, m := range r.Metrics().Operators {
		if m.Name == "rcf" {
			ran = true
			if m.Parallelism != 1 {
				t.Errorf("stream form ran at parallelism %d", m.Parallelism)
			}
		}
	}
	if !ran {
		t.Error("no metrics of the operator")
	}
	checkCommitted(t, seed, out.CommittedValues(), want)
}

// A savepoint taken at parallelism 2 and restored at parallelism 3 moves
// key groups, and their models with them, between subtasks: every row the
// restored job emits equals the uninterrupted per-key outputs, and every
// key continues where the savepoint left it.
func TestOperatorSavepointAtOtherParallelism(t *testing.T) {
	parts := streamRows(4, 3, 900, 9)
	v := variants()[1]
	want := expectByKey(t, v, seedOf(v), parts)
	o, err := v.plan(keyOpts())
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(t.TempDir(), "sp")
	var gate atomic.Int64
	build := func(p int, throttle bool, restore string) (*engine.Job, *engine.CollectSink[Row]) {
		j := engine.NewJob("anomaly-sp", engine.Config{Parallelism: p, MaxParallelism: 32, BatchSize: 8,
			Checkpoint: engine.CheckpointConfig{RestoreFrom: restore}})
		src := engine.FromPartitions(j, "rows", parts, engine.WatermarkStrategy[Row]{})
		slow := engine.Map(src, "slow", func(r Row) Row {
			if throttle && gate.Add(1) > 1200 {
				time.Sleep(time.Millisecond)
			}
			return r
		})
		c := engine.Collect(ApplyByKey(o, KeyByColumn(slow, streamSchema, "device"), "rcf"), "sink")
		return j, c
	}
	j1, c1 := build(2, true, "")
	r1, err := j1.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for len(c1.Values()) < 600 {
		time.Sleep(2 * time.Millisecond)
	}
	if err := r1.Savepoint(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	r1.Cancel()
	r1.Wait()
	checkRows(t, "before savepoint", c1.Values(), want)

	j2, c2 := build(3, false, sp)
	r2, err := j2.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Wait(); err != nil {
		t.Fatal(err)
	}
	got := c2.Values()
	checkRows(t, "after restore", got, want)
	// Per device, the restored run emits a contiguous run of records up to
	// the device's last, starting after the savepoint: at least one device
	// must not start from its first record, or nothing was restored.
	first, last, count := map[string]int{}, map[string]int{}, map[string]int{}
	for _, r := range got {
		d, s := r[0].(string), r[1].(int)
		if f, ok := first[d]; !ok || s < f {
			first[d] = s
		}
		last[d] = max(last[d], s)
		count[d]++
	}
	resumed := 0
	for _, part := range parts {
		total := map[string]int{}
		for _, r := range part {
			total[r[0].(string)]++
		}
		for d, n := range total {
			if count[d] == 0 {
				continue // all of it before the savepoint
			}
			if last[d] != n || count[d] != last[d]-first[d]+1 {
				t.Fatalf("device %s: %d records in %d..%d after restore, want a run ending at %d", d, count[d], first[d], last[d], n)
			}
			if first[d] > 1 {
				resumed++
			}
		}
	}
	if resumed == 0 {
		t.Fatal("no device resumed from the savepoint")
	}
}

// Counters: refused rows and models created, in the job's metrics.
func TestOperatorCounters(t *testing.T) {
	rows := streamRows(1, 3, 300, 4)[0]
	rows = append(rows, Row{"p0-d0", -1, math.NaN(), int64(1)}, Row{"ghost", -2, "x", int64(1)})
	o, err := PlanRandomCutForest(streamSchema, RCFParams{NumberOfTrees: 5, SubSampleSize: 16, TimeDecay: 100}, keyOpts())
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("counters", engine.Config{Parallelism: 2, StateBackend: "memory"})
	src := engine.FromSlice(j, "rows", rows, engine.WatermarkStrategy[Row]{})
	out := ApplyByKey(o, KeyByColumn(src, streamSchema, "device"), "rcf")
	good := engine.Collect(out, "sink")
	bad := engine.Collect(engine.SideOutput(out, ErrorTag()), "errors")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(good.Values()) != 300 || len(bad.Values()) != 2 {
		t.Fatalf("%d good, %d bad rows", len(good.Values()), len(bad.Values()))
	}
	for _, m := range r.Metrics().Operators {
		if m.Name != "rcf" {
			continue
		}
		if m.Counters[CounterErrors] != 2 || m.Counters[CounterModels] != 3 {
			t.Errorf("counters %v, want 2 errors and 3 models", m.Counters)
		}
		return
	}
	t.Fatal("no metrics for rcf")
}

// A model restored into an operator planned differently is refused with
// an error that says so.
func TestOperatorRefusesChangedPlan(t *testing.T) {
	rows := streamRows(1, 2, 200, 5)[0]
	o1, _ := PlanRandomCutForest(streamSchema, RCFParams{NumberOfTrees: 5, SubSampleSize: 16, TimeDecay: 100}, keyOpts())
	o2, _ := PlanRandomCutForest(streamSchema, RCFParams{NumberOfTrees: 6, SubSampleSize: 16, TimeDecay: 100}, keyOpts())
	a := keyedHarness(t, o1, engine.HarnessOptions{})
	feed(t, a, rows[:100])
	dir := filepath.Join(t.TempDir(), "snap")
	if err := a.Snapshot(dir); err != nil {
		t.Fatal(err)
	}
	b := keyedHarness(t, o2, engine.HarnessOptions{RestoreFrom: dir})
	err := b.ProcessElement(rows[100], 0)
	if err == nil || !strings.Contains(err.Error(), "different plan") {
		t.Fatalf("changed plan: %v", err)
	}
}

// Rows delivered in engine batches of any size (runs of one key, runs
// broken by bad rows and key changes) give the outputs and rejections that
// row-by-row delivery gives, in the same order, for every function.
func TestOperatorBatchesEqualRowByRow(t *testing.T) {
	seed := testSeed(t)
	for _, v := range variants() {
		for _, devices := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/devices=%d", v.name, devices), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, uint64(devices)))
				var in []Row
				for i, row := range streamRows(1, devices, 1500, seed)[0] {
					in = append(in, row)
					if r.IntN(40) == 0 {
						in = append(in, Row{row[0], -i, math.NaN(), int64(1)})
					}
				}
				o, err := v.plan(keyOpts())
				if err != nil {
					t.Fatal(err)
				}
				one := keyedHarness(t, o, engine.HarnessOptions{})
				batched := keyedHarness(t, o, engine.HarnessOptions{})
				var recs []engine.Record[Row]
				for i, row := range in {
					if err := one.ProcessElement(row, int64(i)); err != nil {
						t.Fatal(err)
					}
					recs = append(recs, engine.Record[Row]{Value: row, Time: int64(i)})
				}
				for len(recs) > 0 {
					n := min(len(recs), 1+r.IntN(600))
					if err := batched.ProcessBatch(recs[:n]); err != nil {
						t.Fatal(err)
					}
					recs = recs[n:]
				}
				if got, want := batched.Output(), one.Output(); !reflect.DeepEqual(got, want) {
					t.Fatalf("batched outputs differ from row by row (%d vs %d rows)", len(got), len(want))
				}
				if got, want := engine.SideOutputOf(batched, ErrorTag()), engine.SideOutputOf(one, ErrorTag()); len(want) == 0 || !reflect.DeepEqual(got, want) {
					t.Fatalf("batched rejections differ: %d vs %d", len(got), len(want))
				}
			})
		}
	}
}
