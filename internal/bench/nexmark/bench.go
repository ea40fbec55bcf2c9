package nexmark

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
)

// Config is the configuration of Run (`sluice bench nexmark`).
type Config struct {
	Query              string        // one query (q0 ... q22), unless All
	All                bool          // every query, in order
	API                string        // "go", "sql" or "both" (each query in both forms, the SQL one with its ratio to Go's)
	Events             int64         // events per run
	EventsPerSecond    int64         // event-time rate of the generator
	Parallelism        int           // parallelism of the job
	CheckpointInterval time.Duration // 0: no checkpoints
	StateBackend       string        // pebble or memory
	Runs               int           // runs per query; figures are medians
	Seed               uint64        // the generator's seed
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Query: "q5", API: "go", Events: 20_000_000, EventsPerSecond: 10_000_000, Parallelism: 1,
	CheckpointInterval: 10 * time.Second, StateBackend: "pebble", Runs: 3, Seed: 1}

// Run runs the chosen queries over the Nexmark generator with the
// configured state backend and exactly-once checkpoints, Runs times each,
// and emits one result per query: events/s (wall), events per second of
// process CPU time, output rows, latency percentiles (see meter), the
// live state's size on disk and the checkpoints' size at the last
// checkpoint, and checkpoint durations.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	var qs []Query
	switch {
	case cfg.Runs < 1:
		return bench.ConfigError("--runs must be at least 1")
	case cfg.Events < 1:
		return bench.ConfigError("--events must be at least 1")
	case cfg.EventsPerSecond < 1:
		return bench.ConfigError("--rate must be at least 1")
	case cfg.Parallelism < 1:
		return bench.ConfigError("--parallelism must be at least 1")
	case cfg.CheckpointInterval < 0:
		return bench.ConfigError("--checkpoint-interval must not be negative")
	case cfg.StateBackend != "pebble" && cfg.StateBackend != "memory":
		return bench.ConfigError("--state-backend must be pebble or memory")
	case cfg.API != "go" && cfg.API != "sql" && cfg.API != "both":
		return bench.ConfigError("--api must be go, sql or both, not %q", cfg.API)
	case cfg.All:
		qs = Queries
	default:
		q, ok := QueryByName(cfg.Query)
		if !ok {
			names := ""
			for _, q := range Queries {
				names += " " + q.Name
			}
			return bench.ConfigError("--query %q is not one of%s", cfg.Query, names)
		}
		qs = []Query{q}
	}
	apis := []string{cfg.API}
	if cfg.API == "both" {
		apis = []string{"go", "sql"}
	}
	if cfg.API != "go" && !cfg.All {
		if q := qs[0]; !hasSQL(q.Name) {
			return bench.ConfigError("--api %s: %s has no SQL form (%s)", cfg.API, q.Name, noSQL[q.Name])
		}
	}
	for _, q := range qs {
		var goRes *bench.Result
		for _, api := range apis {
			if api == "sql" && !hasSQL(q.Name) {
				continue
			}
			c := cfg
			c.API = api
			res, err := runQuery(ctx, q, c)
			if err != nil {
				return err
			}
			if api == "go" {
				goRes = &res
			} else if goRes != nil {
				res = withRatio(res, *goRes)
			}
			if err := emit(res); err != nil {
				return err
			}
		}
	}
	return nil
}

// runStats are one run's figures beside its Sample.
type runStats struct {
	rows              int64
	p50, p99          time.Duration
	latencyRows       int64
	checkpoints       int
	checkpointMs      []float64
	stateBytes        int64 // live state on disk, largest seen at a checkpoint
	checkpointBytes   int64 // the last completed checkpoint's files
	maxSyncPauseMs    float64
	restoredOrRestart int
}

func runQuery(ctx context.Context, q Query, cfg Config) (bench.Result, error) {
	var samples, loops []bench.Sample
	var all []runStats
	for range cfg.Runs {
		st, s, err := runOnce(ctx, q, cfg)
		if err != nil {
			return bench.Result{}, fmt.Errorf("nexmark %s: %w", q.Name, err)
		}
		samples = append(samples, s)
		all = append(all, st)
		// The hand-written loop, if q has one, in the same run (handloop.go).
		ls, lr, ok, err := measureLoop(q, cfg)
		if err != nil {
			return bench.Result{}, err
		}
		if ok {
			// The SQL form may emit a changelog (q5's updating plan), so
			// only the Go form's rows are the loop's, one for one.
			if cfg.API != "sql" && lr.rows != st.rows {
				return bench.Result{}, fmt.Errorf("nexmark %s: the job emitted %d rows, the hand loop %d", q.Name, st.rows, lr.rows)
			}
			loops = append(loops, ls)
		}
	}
	res := bench.FromSamples(fmt.Sprintf("nexmark/%s/%s/p%d", q.Name, cfg.API, cfg.Parallelism), samples)
	if len(loops) > 0 {
		res = res.WithBaseline(loops)
	}
	med := func(f func(runStats) float64) float64 {
		vs := make([]float64, len(all))
		for i, st := range all {
			vs[i] = f(st)
		}
		return bench.MedianOf(vs)
	}
	var cpMs []float64
	for _, st := range all {
		cpMs = append(cpMs, st.checkpointMs...)
	}
	res = res.Set("about", q.About).
		Set("rows", med(func(s runStats) float64 { return float64(s.rows) })).
		Set("latency_p50_ms", med(func(s runStats) float64 { return float64(s.p50) / 1e6 })).
		Set("latency_p99_ms", med(func(s runStats) float64 { return float64(s.p99) / 1e6 })).
		Set("latency_rows", med(func(s runStats) float64 { return float64(s.latencyRows) })).
		Set("checkpoints", med(func(s runStats) float64 { return float64(s.checkpoints) })).
		Set("state_bytes", med(func(s runStats) float64 { return float64(s.stateBytes) })).
		Set("checkpoint_bytes", med(func(s runStats) float64 { return float64(s.checkpointBytes) })).
		Set("max_sync_pause_ms", med(func(s runStats) float64 { return s.maxSyncPauseMs })).
		Set("state_backend", cfg.StateBackend).
		Set("event_rate", cfg.EventsPerSecond).
		Set("cores", runtime.NumCPU())
	if len(cpMs) > 0 {
		res = res.Set("checkpoint_ms_median", bench.MedianOf(cpMs)).Set("checkpoint_ms_max", maxOf(cpMs))
	}
	return res, nil
}

func maxOf(vs []float64) float64 {
	m := vs[0]
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}

func runOnce(ctx context.Context, q Query, cfg Config) (runStats, bench.Sample, error) {
	var st runStats
	dir, err := os.MkdirTemp("", "sluice-bench-nexmark-")
	if err != nil {
		return st, bench.Sample{}, err
	}
	defer os.RemoveAll(dir)
	gen := genConfig(cfg)
	g, err := nx.NewGenerator(gen)
	if err != nil {
		return st, bench.Sample{}, err
	}
	lastTs := g.Timestamp(cfg.Events - 1)
	m := newMeter(g.Config().BaseTime, lastTs-g.Config().BaseTime)
	stateDir := filepath.Join(dir, "state")
	ecfg := engine.Config{Parallelism: cfg.Parallelism, StateBackend: cfg.StateBackend}
	if cfg.StateBackend == "pebble" {
		ecfg.StateDir = stateDir
	}
	var (
		running atomic.Pointer[engine.Running]
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	if cfg.CheckpointInterval > 0 {
		ecfg.Checkpoint = engine.CheckpointConfig{Interval: cfg.CheckpointInterval, Dir: filepath.Join(dir, "checkpoints")}
		ecfg.Events = func(e engine.Event) {
			if e.Kind != engine.EventCheckpointCompleted {
				return
			}
			r := running.Load()
			if r == nil {
				return
			}
			cs := r.LastCheckpointStats()
			wg.Add(1)
			go func() { // sizes are measured off the coordinator's goroutine
				defer wg.Done()
				live, cp := dirSize(stateDir), dirSize(cs.Dir)
				mu.Lock()
				defer mu.Unlock()
				st.checkpoints++
				st.checkpointMs = append(st.checkpointMs, float64(cs.Duration)/1e6)
				st.maxSyncPauseMs = max(st.maxSyncPauseMs, float64(cs.MaxSyncPause)/1e6)
				st.stateBytes = max(st.stateBytes, live)
				st.checkpointBytes = cp
			}()
		}
	}
	build := func(j *engine.Job) error {
		src, err := source(j, JobConfig{Generator: gen, Events: cfg.Events}, m)
		if err != nil {
			return err
		}
		q.build(src, &output{meter: m})
		return nil
	}
	if cfg.API == "sql" {
		p, err := PlanSQL(q.Name, gen, cfg.Events, 0)
		if err != nil {
			return st, bench.Sample{}, err
		}
		defer p.Close()
		build = func(j *engine.Job) error { return buildSQL(p, q.Name, j, g, m) }
	}
	j := engine.NewJob("nexmark-"+q.Name, ecfg)
	s, err := bench.Measure(func() (int64, int64, error) {
		if err := build(j); err != nil {
			return 0, 0, err
		}
		r, err := j.Start(ctx)
		if err != nil {
			return 0, 0, err
		}
		running.Store(r)
		return cfg.Events, 0, r.Wait()
	})
	wg.Wait()
	if err != nil {
		return st, s, err
	}
	st.rows = m.rows.Load()
	st.p50, st.p99 = m.hist.percentile(50), m.hist.percentile(99)
	st.latencyRows = m.hist.n
	return st, s, nil
}

func genConfig(cfg Config) nx.Config {
	return nx.Config{Seed: cfg.Seed, EventsPerSecond: cfg.EventsPerSecond}
}

// dirSize is the size of the regular files under dir (0 if it is gone).
func dirSize(dir string) int64 {
	var n int64
	// The walk itself never fails: unreadable entries are skipped.
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // files come and go while the job runs
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
