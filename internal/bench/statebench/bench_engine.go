package statebench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
)

// The engine-level cases of `sluice bench state`: whole jobs with keyed
// state on Pebble, with and without checkpoints.

func runBenchCheckpointThroughput(env *stateBenchEnv) error {
	var with, without []bench.Sample
	var cps []float64
	var pauses []float64
	for r := 0; r < env.cfg.Runs; r++ {
		for _, cp := range []bool{false, true} {
			cfg := engine.Config{Parallelism: env.cfg.CPParallelism, StateDir: filepath.Join(env.dir, "state")}
			if cp {
				cfg.Checkpoint = engine.CheckpointConfig{Interval: env.cfg.CPInterval, Dir: filepath.Join(env.dir, fmt.Sprintf("cp-%d", r))}
			}
			var res KeyedCountResult
			s, err := bench.Measure(func() (int64, int64, error) {
				var err error
				res, err = KeyedCount(env.ctx, env.cfg.CPRecords, env.cfg.CPKeys, cfg, 0)
				return env.cfg.CPRecords, env.cfg.CPRecords * 16, err
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
	if err := env.emit(bench.FromSamples("state/keyed-count/no-checkpoints", without)); err != nil {
		return err
	}
	return env.emit(bench.FromSamples(fmt.Sprintf("state/keyed-count/checkpoint-every-%s", env.cfg.CPInterval), with).
		WithBaseline(without).
		Set("checkpoints", bench.MedianOf(cps)).
		Set("pause_ms", bench.MedianOf(pauses)))
}

func runBenchCheckpointPause(env *stateBenchEnv) error {
	vsize := 100
	if env.cfg.PauseSlices {
		vsize = env.cfg.PauseValueSize
	}
	keys := env.cfg.PauseBytes / int64(8+vsize)
	var samples []bench.Sample
	var pauses, totals []float64
	for r := 0; r < env.cfg.Runs; r++ {
		cfg := engine.Config{Parallelism: 1, StateDir: filepath.Join(env.dir, "state"),
			Checkpoint: engine.CheckpointConfig{Dir: filepath.Join(env.dir, fmt.Sprintf("cp-%d", r))}}
		var st engine.CheckpointStats
		s, err := bench.Measure(func() (int64, int64, error) {
			var err error
			st, err = FillAndCheckpoint(env.ctx, keys, env.cfg.PauseValueSize, !env.cfg.PauseSlices, cfg)
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
	if env.cfg.PauseSlices {
		kind = "slices"
	}
	return env.emit(bench.FromSamples(fmt.Sprintf("state/checkpoint-pause/%dMiB-%s", env.cfg.PauseBytes>>20, kind), samples).
		Set("pause_ms", bench.MedianOf(pauses)).
		Set("checkpoint_ms", bench.MedianOf(totals)))
}

func runBenchRecovery(env *stateBenchEnv) error {
	var samples []bench.Sample
	var recs []float64
	n := env.cfg.RecoveryKeys * 4
	for r := 0; r < env.cfg.Runs; r++ {
		cfg := engine.Config{Parallelism: 2, StateDir: filepath.Join(env.dir, "state"),
			Checkpoint: engine.CheckpointConfig{Interval: 500 * time.Millisecond, Dir: filepath.Join(env.dir, fmt.Sprintf("rec-%d", r))},
			Restart:    engine.FixedDelay(3, 0)}
		var res KeyedCountResult
		s, err := bench.Measure(func() (int64, int64, error) {
			var err error
			res, err = KeyedCount(env.ctx, n, env.cfg.RecoveryKeys, cfg, n/2)
			return n, n * 16, err
		})
		if err != nil {
			return err
		}
		os.RemoveAll(filepath.Join(env.dir, fmt.Sprintf("rec-%d", r)))
		samples = append(samples, s)
		recs = append(recs, float64(res.Recovery)/1e6)
		env.logf("run %d: recovery %v with %d keys", r+1, res.Recovery, env.cfg.RecoveryKeys)
	}
	return env.emit(bench.FromSamples(fmt.Sprintf("state/recovery/%dM-keys", env.cfg.RecoveryKeys/1_000_000), samples).
		Set("recovery_ms", bench.MedianOf(recs)))
}

type jobRSSResult struct {
	Records int64 `json:"records"`
	WallNs  int64 `json:"wall_ns"`
	CPUNs   int64 `json:"cpu_ns"`
}

func runBenchJobRSS(env *stateBenchEnv) error {
	n := env.cfg.JobKeys * 2
	if env.child == "job-rss" {
		cfg := engine.Config{Parallelism: 2, StateDir: filepath.Join(env.dir, "state"),
			Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Second, Dir: filepath.Join(env.dir, "cp")}}
		s, err := bench.Measure(func() (int64, int64, error) {
			_, err := KeyedCount(env.ctx, n, env.cfg.JobKeys, cfg, 0)
			return n, 0, err
		})
		if err != nil {
			return err
		}
		return json.NewEncoder(env.stdout).Encode(jobRSSResult{Records: s.Records, WallNs: int64(s.Wall), CPUNs: int64(s.CPU)})
	}
	var res jobRSSResult
	maxRSS, err := runBenchChild(env, "job-rss", &res, "--cases=job-rss", "--job-rss-child",
		"--job-keys="+strconv.FormatInt(env.cfg.JobKeys, 10), "--dir="+env.dir)
	if err != nil {
		return err
	}
	s := bench.Sample{Records: res.Records, Wall: time.Duration(res.WallNs), CPU: time.Duration(res.CPUNs)}
	return env.emit(bench.FromSamples("state/job-rss/"+keyCountName(env.cfg.JobKeys), []bench.Sample{s}).
		Set("max_rss_mb", maxRSS))
}
