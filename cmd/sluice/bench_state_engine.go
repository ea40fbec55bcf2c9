package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/benchjobs"
)

// The engine-level cases of `sluice bench state`: whole jobs with keyed
// state on Pebble, with and without checkpoints.

var benchCP struct {
	records  int64
	keys     int64
	interval time.Duration
	par      int

	pauseBytes int64
	valueSize  int
	pauseSlice bool

	recKeys int64

	jobKeys  int64
	jobChild bool
}

func init() {
	registerStateBenchCase(stateBenchCase{
		name:    "checkpoint-throughput",
		summary: "keyed count job with checkpoints every --cp-interval vs without, interleaved (baseline_ratio = with / without)",
		flags: func(fs *flag.FlagSet) {
			fs.Int64Var(&benchCP.records, "cp-records", 100_000_000, "checkpoint-throughput: records per run (runs must be longer than --cp-interval)")
			fs.Int64Var(&benchCP.keys, "cp-keys", 1_000_000, "checkpoint-throughput: distinct keys")
			fs.DurationVar(&benchCP.interval, "cp-interval", 10*time.Second, "checkpoint-throughput: checkpoint interval")
			fs.IntVar(&benchCP.par, "cp-parallelism", 1, "checkpoint-throughput: parallelism")
		},
		run: runBenchCheckpointThroughput,
	})
	registerStateBenchCase(stateBenchCase{
		name:    "checkpoint-pause",
		summary: "synchronous checkpoint pause of a job holding --pause-bytes of keyed state",
		flags: func(fs *flag.FlagSet) {
			fs.Int64Var(&benchCP.pauseBytes, "pause-bytes", 1<<30, "checkpoint-pause: bytes of keyed state (keys of 8 B plus values)")
			fs.IntVar(&benchCP.valueSize, "pause-value-size", 100, "checkpoint-pause: value size in bytes (with --pause-slices; otherwise 100-byte arrays)")
			fs.BoolVar(&benchCP.pauseSlice, "pause-slices", false, "checkpoint-pause: byte-slice values, which the pause encodes, instead of fixed-size arrays captured by copy-on-write")
		},
		run: runBenchCheckpointPause,
	})
	registerStateBenchCase(stateBenchCase{
		name:    "recovery",
		summary: "time from a task failure to every task running again with restored state (restart delay 0)",
		flags: func(fs *flag.FlagSet) {
			fs.Int64Var(&benchCP.recKeys, "recovery-keys", 5_000_000, "recovery: distinct keys in the restored state")
		},
		run: runBenchRecovery,
	})
	registerStateBenchCase(stateBenchCase{
		name:    "job-rss",
		summary: "maximum RSS of a process running a keyed count job over --job-keys distinct keys with checkpoints",
		flags: func(fs *flag.FlagSet) {
			fs.Int64Var(&benchCP.jobKeys, "job-keys", 10_000_000, "job-rss: distinct keys")
			fs.BoolVar(&benchCP.jobChild, "job-rss-child", false, "internal: run the job-rss workload in this process")
		},
		run: runBenchJobRSS,
	})
}

func runBenchCheckpointThroughput(env *stateBenchEnv) error {
	var with, without []bench.Sample
	var cps []float64
	var pauses []float64
	for r := 0; r < env.runs; r++ {
		for _, cp := range []bool{false, true} {
			cfg := engine.Config{Parallelism: benchCP.par, StateDir: filepath.Join(env.dir, "state")}
			if cp {
				cfg.Checkpoint = engine.CheckpointConfig{Interval: benchCP.interval, Dir: filepath.Join(env.dir, fmt.Sprintf("cp-%d", r))}
			}
			var res benchjobs.KeyedCountResult
			s, err := bench.Measure(func() (int64, int64, error) {
				var err error
				res, err = benchjobs.KeyedCount(env.ctx, benchCP.records, benchCP.keys, cfg, 0)
				return benchCP.records, benchCP.records * 16, err
			})
			if err != nil {
				return err
			}
			if cp {
				with = append(with, s)
				cps = append(cps, float64(res.Checkpoints))
				pauses = append(pauses, float64(res.MaxSyncPause)/1e6)
				env.logf("run %d with checkpoints: %.0f rec/s, %d checkpoints, last pause %v", r+1, s.RecordsPerSec(), res.Checkpoints, res.MaxSyncPause)
			} else {
				without = append(without, s)
				env.logf("run %d without checkpoints: %.0f rec/s", r+1, s.RecordsPerSec())
			}
		}
	}
	if err := env.print(bench.FromSamples("state/keyed-count/no-checkpoints", without)); err != nil {
		return err
	}
	return env.print(bench.FromSamples(fmt.Sprintf("state/keyed-count/checkpoint-every-%s", benchCP.interval), with).
		WithBaseline(without).
		Set("checkpoints", bench.MedianOf(cps)).
		Set("pause_ms", bench.MedianOf(pauses)))
}

func runBenchCheckpointPause(env *stateBenchEnv) error {
	vsize := 100
	if benchCP.pauseSlice {
		vsize = benchCP.valueSize
	}
	keys := benchCP.pauseBytes / int64(8+vsize)
	var samples []bench.Sample
	var pauses, totals []float64
	for r := 0; r < env.runs; r++ {
		cfg := engine.Config{Parallelism: 1, StateDir: filepath.Join(env.dir, "state"),
			Checkpoint: engine.CheckpointConfig{Dir: filepath.Join(env.dir, fmt.Sprintf("cp-%d", r))}}
		var st engine.CheckpointStats
		s, err := bench.Measure(func() (int64, int64, error) {
			var err error
			st, err = benchjobs.FillAndCheckpoint(env.ctx, keys, benchCP.valueSize, !benchCP.pauseSlice, cfg)
			return keys, keys * int64(8+vsize), err
		})
		if err != nil {
			return err
		}
		os.RemoveAll(filepath.Join(env.dir, fmt.Sprintf("cp-%d", r)))
		samples = append(samples, s)
		pauses = append(pauses, float64(st.MaxSyncPause)/1e6)
		totals = append(totals, float64(st.Duration)/1e6)
		env.logf("run %d: %d keys of %d B: pause %v, checkpoint %v", r+1, keys, vsize, st.MaxSyncPause, st.Duration)
	}
	kind := "arrays"
	if benchCP.pauseSlice {
		kind = "slices"
	}
	return env.print(bench.FromSamples(fmt.Sprintf("state/checkpoint-pause/%dMiB-%s", benchCP.pauseBytes>>20, kind), samples).
		Set("pause_ms", bench.MedianOf(pauses)).
		Set("checkpoint_ms", bench.MedianOf(totals)))
}

func runBenchRecovery(env *stateBenchEnv) error {
	var samples []bench.Sample
	var recs []float64
	n := benchCP.recKeys * 4
	for r := 0; r < env.runs; r++ {
		cfg := engine.Config{Parallelism: 2, StateDir: filepath.Join(env.dir, "state"),
			Checkpoint: engine.CheckpointConfig{Interval: 500 * time.Millisecond, Dir: filepath.Join(env.dir, fmt.Sprintf("rec-%d", r))},
			Restart:    engine.FixedDelay(3, 0)}
		var res benchjobs.KeyedCountResult
		s, err := bench.Measure(func() (int64, int64, error) {
			var err error
			res, err = benchjobs.KeyedCount(env.ctx, n, benchCP.recKeys, cfg, n/2)
			return n, n * 16, err
		})
		if err != nil {
			return err
		}
		os.RemoveAll(filepath.Join(env.dir, fmt.Sprintf("rec-%d", r)))
		samples = append(samples, s)
		recs = append(recs, float64(res.Recovery)/1e6)
		env.logf("run %d: recovery %v with %d keys", r+1, res.Recovery, benchCP.recKeys)
	}
	return env.print(bench.FromSamples(fmt.Sprintf("state/recovery/%dM-keys", benchCP.recKeys/1_000_000), samples).
		Set("recovery_ms", bench.MedianOf(recs)))
}

type jobRSSResult struct {
	Records int64 `json:"records"`
	WallNs  int64 `json:"wall_ns"`
	CPUNs   int64 `json:"cpu_ns"`
}

func runBenchJobRSS(env *stateBenchEnv) error {
	n := benchCP.jobKeys * 2
	if benchCP.jobChild {
		cfg := engine.Config{Parallelism: 2, StateDir: filepath.Join(env.dir, "state"),
			Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Second, Dir: filepath.Join(env.dir, "cp")}}
		s, err := bench.Measure(func() (int64, int64, error) {
			_, err := benchjobs.KeyedCount(env.ctx, n, benchCP.jobKeys, cfg, 0)
			return n, 0, err
		})
		if err != nil {
			return err
		}
		return json.NewEncoder(env.stdout).Encode(jobRSSResult{Records: s.Records, WallNs: int64(s.Wall), CPUNs: int64(s.CPU)})
	}
	var res jobRSSResult
	maxRSS, err := runBenchChild(env, "job-rss", &res, "bench", "state", "--cases=job-rss", "--job-rss-child",
		"--job-keys="+strconv.FormatInt(benchCP.jobKeys, 10), "--dir="+env.dir)
	if err != nil {
		return err
	}
	s := bench.Sample{Records: res.Records, Wall: time.Duration(res.WallNs), CPU: time.Duration(res.CPUNs)}
	return env.print(bench.FromSamples("state/job-rss/"+keyCountName(benchCP.jobKeys), []bench.Sample{s}).
		Set("max_rss_mb", maxRSS))
}
