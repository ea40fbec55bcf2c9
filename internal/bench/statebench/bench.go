package statebench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/state"
)

// Config is the configuration of Run: the common fields, then each case's
// own (named after the flags of `sluice bench state`).
type Config struct {
	Runs  int      // runs per case; figures are medians (rss runs RSSRuns times)
	Cases []string // the cases to run, of CaseNames(); they run in that order
	// Dir is the directory for the benchmark's stores (a local disk: it
	// measures the disk too); each case gets a scratch directory in it,
	// removed after the case.
	Dir string
	// Log receives progress lines (the heavy cases take minutes); nil
	// discards them.
	Log io.Writer
	// Self is the command line that runs `sluice bench state` in a child
	// process (the sluice binary and "bench", "state"); the rss and job-rss
	// cases run their workload there, so that its peak memory is measured
	// alone, with the flags --cases, --rss-child or --job-rss-child,
	// --rss-keys or --job-keys, and --dir. The command must answer those by
	// calling RunChild.
	Self []string

	Keys, Records int // updates: size of the key space, updates per run

	SnapshotBytes, UpdateBytes int64 // snapshot: bytes of state, bytes of updates between snapshots

	RSSKeys int64 // rss: distinct keys
	RSSRuns int   // rss: runs

	CPRecords     int64         // checkpoint-throughput: records per run
	CPKeys        int64         // checkpoint-throughput: distinct keys
	CPInterval    time.Duration // checkpoint-throughput: checkpoint interval
	CPParallelism int           // checkpoint-throughput: parallelism

	PauseBytes     int64 // checkpoint-pause: bytes of keyed state (keys of 8 B plus values)
	PauseValueSize int   // checkpoint-pause: value size with PauseSlices
	PauseSlices    bool  // checkpoint-pause: byte-slice values instead of 100-byte arrays

	RecoveryKeys int64 // recovery: distinct keys in the restored state

	JobKeys int64 // job-rss: distinct keys
}

// DefaultConfig is the configuration of the published figures: every case,
// in the system's temporary directory.
var DefaultConfig = Config{
	Runs: 5, Cases: CaseNames(), Dir: os.TempDir(),
	Keys: 2_000_000, Records: 2_000_000,
	SnapshotBytes: 256 << 20, UpdateBytes: 32 << 20,
	RSSKeys: 10_000_000, RSSRuns: 1,
	CPRecords: 100_000_000, CPKeys: 1_000_000, CPInterval: 10 * time.Second, CPParallelism: 1,
	PauseBytes: 1 << 30, PauseValueSize: 100,
	RecoveryKeys: 5_000_000,
	JobKeys:      10_000_000,
}

// stateBenchCase is one case of `sluice bench state`.
type stateBenchCase struct {
	name    string
	summary string
	run     func(env *stateBenchEnv) error
}

// cases are the cases in the order they run.
var cases = []stateBenchCase{
	{"updates", "keyed ValueState read-modify-write through a Backend on Pebble (default cache) beside raw Pebble batch writes of the same keys", runBenchUpdates},
	{"snapshot", "synchronous pause of a Pebble snapshot (and its background write) with --snapshot-bytes of state; restore at the same and other key-group ranges", runBenchSnapshot},
	{"rss", "maximum RSS of a process that pushes --rss-keys distinct keys through a Backend on Pebble (default cache)", runBenchRSS},
	{"checkpoint-throughput", "keyed count job with checkpoints every --cp-interval vs without, interleaved (baseline_ratio = with / without)", runBenchCheckpointThroughput},
	{"checkpoint-pause", "synchronous checkpoint pause of a job holding --pause-bytes of keyed state", runBenchCheckpointPause},
	{"recovery", "time from a task failure to every task running again with restored state (restart delay 0)", runBenchRecovery},
	{"job-rss", "maximum RSS of a process running a keyed count job over --job-keys distinct keys with checkpoints", runBenchJobRSS},
}

// CaseNames returns the names of the cases in the order they run.
func CaseNames() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

// stateBenchEnv is what every case gets.
type stateBenchEnv struct {
	ctx  context.Context
	cfg  *Config
	emit bench.Emit
	// child is the case whose workload runs in this process for a parent
	// (RunChild), or "".
	child  string
	stdout io.Writer // where a child writes its figures
	// dir is a scratch directory for the case's stores, removed after the
	// case.
	dir string
}

// logf writes progress to cfg.Log (the heavy cases take minutes).
func (env *stateBenchEnv) logf(format string, args ...any) {
	if env.cfg.Log != nil {
		fmt.Fprintf(env.cfg.Log, "bench state: "+format+"\n", args...)
	}
}

// Run runs the cases of cfg.Cases and hands each result to emit as it
// finishes. It blocks until they are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	return run(ctx, &cfg, emit, "", nil)
}

// RunChild runs the workload of case name (rss or job-rss) in this process
// for a parent's Run and writes its figures to w as one JSON object.
func RunChild(ctx context.Context, cfg Config, name string, w io.Writer) error {
	if name != "rss" && name != "job-rss" {
		return bench.ConfigError("no child workload for case %q", name)
	}
	cfg.Cases = []string{name}
	return run(ctx, &cfg, nil, name, w)
}

func run(ctx context.Context, cfg *Config, emit bench.Emit, child string, stdout io.Writer) error {
	if cfg.Runs < 1 {
		return bench.ConfigError("--runs must be at least 1")
	}
	names := CaseNames()
	want := map[string]bool{}
	for _, n := range cfg.Cases {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(names, n) {
			return bench.ConfigError("unknown case %q (cases: %s)", n, strings.Join(names, ", "))
		}
		want[n] = true
	}
	for _, c := range cases {
		if !want[c.name] {
			continue
		}
		scratch, err := os.MkdirTemp(cfg.Dir, "sluice-bench-state-*")
		if err != nil {
			return err
		}
		env := &stateBenchEnv{ctx: ctx, cfg: cfg, emit: emit, child: child, stdout: stdout, dir: scratch}
		err = c.run(env)
		if rerr := os.RemoveAll(scratch); err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("case %s: %w", c.name, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func sizeName(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b >= 1<<20:
		return fmt.Sprintf("%dMiB", b>>20)
	}
	return fmt.Sprintf("%dB", b)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func durationsMs(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// --- updates: ValueState read-modify-write through a Backend vs raw Pebble.

func runBenchUpdates(env *stateBenchEnv) error {
	if env.cfg.Keys < 1 || env.cfg.Records < 1 {
		return bench.ConfigError("--keys and --records must be positive")
	}
	opts := state.PebbleOptions{}
	for _, dist := range []Distribution{Skewed, Uniform} {
		seq, err := KeySequence(dist, uint64(env.cfg.Keys), env.cfg.Records, 1)
		if err != nil {
			return err
		}
		want := CountBaseline(seq)
		distinct := map[int64]struct{}{}
		for _, k := range seq {
			distinct[k] = struct{}{}
		}
		var eng, base []bench.Sample
		for r := 0; r < env.cfg.Runs; r++ {
			if err := env.ctx.Err(); err != nil {
				return err
			}
			dir := filepath.Join(env.dir, fmt.Sprintf("%s-%d", dist, r))
			s, err := state.OpenPebble(filepath.Join(dir, "store"), opts)
			if err != nil {
				return err
			}
			var got int64
			smp, err := bench.Measure(func() (int64, int64, error) {
				var err error
				got, err = BackendRMW(s, seq, 0)
				return int64(len(seq)), int64(len(seq)) * 16, err
			})
			if cerr := s.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s: the Backend counted %d, the map %d", dist, got, want)
			}
			eng = append(eng, smp)

			raw, err := OpenRawPebble(filepath.Join(dir, "raw"), opts)
			if err != nil {
				return err
			}
			bmp, err := bench.Measure(func() (int64, int64, error) {
				return int64(len(seq)), int64(len(seq)) * 16, raw.Write(seq)
			})
			if cerr := raw.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			base = append(base, bmp)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			env.logf("updates/%s run %d: backend %.0f/s, raw pebble %.0f/s", dist, r+1, smp.RecordsPerSec(), bmp.RecordsPerSec())
		}
		res := bench.FromSamples("state/value-rmw/"+string(dist), eng).WithBaseline(base).
			Set("keys", len(distinct)).
			Set("cache_entries", 1<<18).
			Set("baseline", "raw pebble batch writes of the same keys").
			Set("baseline_records_per_cpu_sec", bench.Median(base, bench.Sample.RecordsPerCPUSec))
		if err := env.emit(res); err != nil {
			return err
		}
	}
	return nil
}

// --- snapshot: the synchronous pause of a Pebble snapshot, and restores.

const snapshotValueSize = 1000

func runBenchSnapshot(env *stateBenchEnv) error {
	size, update := env.cfg.SnapshotBytes, env.cfg.UpdateBytes
	s, err := state.OpenPebble(filepath.Join(env.dir, "store"), state.PebbleOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	t0 := time.Now()
	keys, err := Fill(s, size, snapshotValueSize, 1)
	if err != nil {
		return err
	}
	env.logf("snapshot: filled %d keys (%s) in %v", keys, sizeName(size), time.Since(t0).Round(time.Millisecond))

	var pauses, writes []time.Duration
	var samples []bench.Sample
	var last string
	var files int
	var snapBytes int64
	for r := 0; r < env.cfg.Runs; r++ {
		if err := env.ctx.Err(); err != nil {
			return err
		}
		// The writes between two checkpoints: the snapshot copies the WAL
		// of those not yet flushed.
		if err := Update(s, keys, update, snapshotValueSize, uint64(r)); err != nil {
			return err
		}
		dir := filepath.Join(env.dir, fmt.Sprintf("cp-%d", r))
		res, err := TimeSnapshot(s, dir)
		if err != nil {
			return err
		}
		pauses = append(pauses, res.Pause)
		writes = append(writes, res.Write)
		samples = append(samples, bench.Sample{Records: keys, Bytes: res.Bytes, Wall: res.Pause, CPU: res.Pause})
		files, snapBytes = res.Files, res.Bytes
		if last != "" {
			if err := os.RemoveAll(last); err != nil {
				return err
			}
		}
		last = dir
		env.logf("snapshot run %d: pause %v, write %v, %d files, %d MiB", r+1, res.Pause.Round(time.Microsecond), res.Write.Round(time.Millisecond), res.Files, res.Bytes>>20)
	}
	name := "state/snapshot-pause/" + sizeName(size)
	res := bench.FromSamples(name, samples).
		Set("pause_ms", bench.MedianOf(durationsMs(pauses))).
		Set("pause_max_ms", ms(maxDuration(pauses))).
		Set("write_ms", bench.MedianOf(durationsMs(writes))).
		Set("state_bytes", snapBytes).
		Set("files", files).
		Set("update_bytes_between", update)
	if err := env.emit(res); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}

	// Restores from the last snapshot: the same key groups (links), half of
	// them (links and an excise: scale-out), and all of them from two
	// parts (links for one, sstables ingested for the other: scale-in).
	const maxP = state.DefaultMaxParallelism
	all := state.KeyGroupRange{Start: 0, End: maxP - 1}
	lo, hi := state.KeyGroupRange{Start: 0, End: maxP/2 - 1}, state.KeyGroupRange{Start: maxP / 2, End: maxP - 1}
	second := filepath.Join(env.dir, "cp-copy")
	if err := copyTree(last, second); err != nil {
		return err
	}
	restores := []struct {
		name  string
		parts []state.SnapshotPart
		want  state.KeyGroupRange
	}{
		{"same", []state.SnapshotPart{{Dir: last, KeyGroups: all}}, all},
		{"half", []state.SnapshotPart{{Dir: last, KeyGroups: all}}, lo},
		{"merge", []state.SnapshotPart{{Dir: last, KeyGroups: lo}, {Dir: second, KeyGroups: hi}}, all},
	}
	for _, rc := range restores {
		var times []time.Duration
		var samples []bench.Sample
		for r := 0; r < min(env.cfg.Runs, 3); r++ {
			dir := filepath.Join(env.dir, fmt.Sprintf("restore-%s-%d", rc.name, r))
			smp, err := bench.Measure(func() (int64, int64, error) {
				rs, err := state.OpenPebbleFrom(dir, state.PebbleOptions{}, rc.parts, rc.want)
				if err != nil {
					return 0, 0, err
				}
				return keys * int64(rc.want.Len()) / maxP, 0, rs.Close()
			})
			if err != nil {
				return err
			}
			times = append(times, smp.Wall)
			samples = append(samples, smp)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			env.logf("restore %s run %d: %v", rc.name, r+1, smp.Wall.Round(time.Millisecond))
		}
		res := bench.FromSamples("state/restore/"+sizeName(size)+"/"+rc.name, samples).
			Set("restore_ms", bench.MedianOf(durationsMs(times))).
			Set("key_groups", fmt.Sprintf("%d of %d", rc.want.Len(), maxP))
		if err := env.emit(res); err != nil {
			return err
		}
	}
	return nil
}

// copyTree copies the regular files of src into a new directory dst (a
// second snapshot for the merge restore, with files of its own).
func copyTree(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// --- rss: memory with many keys, measured in a child process.

type rssChildResult struct {
	Records   int64 `json:"records"`
	WallNs    int64 `json:"wall_ns"`
	CPUNs     int64 `json:"cpu_ns"`
	DiskBytes int64 `json:"disk_bytes"`
}

func runBenchRSS(env *stateBenchEnv) error {
	if env.cfg.RSSKeys < 1 || env.cfg.RSSRuns < 1 {
		return bench.ConfigError("--rss-keys and --rss-runs must be positive")
	}
	if env.child == "rss" {
		// A checkpoint-like flush every million keys.
		s, err := state.OpenPebble(filepath.Join(env.dir, "store"), state.PebbleOptions{})
		if err != nil {
			return err
		}
		smp, err := bench.Measure(func() (int64, int64, error) {
			return env.cfg.RSSKeys, 0, DistinctKeys(s, env.cfg.RSSKeys, 1_000_000)
		})
		disk := int64(s.DiskUsage())
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return json.NewEncoder(env.stdout).Encode(rssChildResult{Records: smp.Records, WallNs: int64(smp.Wall), CPUNs: int64(smp.CPU), DiskBytes: disk})
	}
	var samples []bench.Sample
	var rss []float64
	var disk int64
	for r := 0; r < env.cfg.RSSRuns; r++ {
		var res rssChildResult
		maxRSS, err := runBenchChild(env, "rss", &res, "--cases=rss", "--rss-child",
			"--rss-keys="+strconv.FormatInt(env.cfg.RSSKeys, 10), "--dir="+env.dir)
		if err != nil {
			return err
		}
		samples = append(samples, bench.Sample{Records: res.Records, Wall: time.Duration(res.WallNs), CPU: time.Duration(res.CPUNs)})
		rss = append(rss, maxRSS)
		disk = res.DiskBytes
		env.logf("rss run %d: %d keys in %v, max RSS %.0f MiB", r+1, res.Records, time.Duration(res.WallNs).Round(time.Millisecond), maxRSS)
	}
	res := bench.FromSamples("state/rss/"+keyCountName(env.cfg.RSSKeys), samples).
		Set("max_rss_mb", bench.MedianOf(rss)).
		Set("disk_bytes", disk).
		Set("cache_entries", 1<<18)
	return env.emit(res)
}

// runBenchChild runs cfg.Self with args in a child process, so that its
// peak memory is measured alone; the child prints one JSON object, decoded
// into res. It returns the child's maximum RSS in MiB.
func runBenchChild(env *stateBenchEnv, what string, res any, args ...string) (float64, error) {
	if len(env.cfg.Self) == 0 {
		return 0, bench.ConfigError("the %s case needs Config.Self to run its child", what)
	}
	cmd := exec.CommandContext(env.ctx, env.cfg.Self[0], append(slices.Clone(env.cfg.Self[1:]), args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, env.cfg.Log
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s child: %w", what, err)
	}
	if err := json.Unmarshal(out.Bytes(), res); err != nil {
		return 0, fmt.Errorf("%s child printed %q: %w", what, out.String(), err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, fmt.Errorf("%s: no resource usage of the child on this platform", what)
	}
	return float64(ru.Maxrss) / 1024, nil // Maxrss is in KiB on Linux
}

// keyCountName names a case by its key count: "10M-keys", or the exact
// count when it is not whole millions.
func keyCountName(n int64) string {
	if n%1_000_000 == 0 {
		return fmt.Sprintf("%dM-keys", n/1_000_000)
	}
	return fmt.Sprintf("%d-keys", n)
}
