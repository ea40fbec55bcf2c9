package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
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
	"github.com/sluicehq/sluice/state/statebench"
)

func init() {
	registerBench("state", "keyed state on Pebble: ValueState updates vs raw Pebble writes, snapshot pause and restore, RSS with 10 M keys", benchState)
}

// stateBenchCase is one case of `sluice bench state`. Cases run in the
// order they were registered; --cases selects some. A case registers its
// own flags and prints its own results, so that cases (the engine-level
// checkpoint and recovery cases) can be added from other files with
// registerStateBenchCase.
type stateBenchCase struct {
	name    string
	summary string
	// flags adds the case's flags to the command's flag set.
	flags func(fs *flag.FlagSet)
	run   func(env *stateBenchEnv) error
}

var stateBenchCases []stateBenchCase

func registerStateBenchCase(c stateBenchCase) {
	for _, o := range stateBenchCases {
		if o.name == c.name {
			panic("sluice: bench state case registered twice: " + c.name)
		}
	}
	stateBenchCases = append(stateBenchCases, c)
}

// stateBenchEnv is what every case gets.
type stateBenchEnv struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	asJSON bool
	runs   int
	// dir is a scratch directory for the case's stores, removed after the
	// case.
	dir string
}

func (env *stateBenchEnv) print(r bench.Result) error {
	return bench.Print(env.stdout, r, env.asJSON)
}

// logf writes progress to stderr (the heavy cases take minutes).
func (env *stateBenchEnv) logf(format string, args ...any) {
	fmt.Fprintf(env.stderr, "bench state: "+format+"\n", args...)
}

func benchState(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench state", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	runs := fs.Int("runs", 5, "runs per case; figures are medians (the rss case runs --rss-runs times)")
	var names []string
	for _, c := range stateBenchCases {
		names = append(names, c.name)
	}
	cases := fs.String("cases", strings.Join(names, ","), "comma-separated cases to run, of: "+strings.Join(names, ", "))
	dir := fs.String("dir", os.TempDir(), "directory for the benchmark's stores (a local disk: it measures the disk too)")
	for _, c := range stateBenchCases {
		if c.flags != nil {
			c.flags(fs)
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *runs < 1 {
		return usageError("--runs must be at least 1")
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*cases, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(names, n) {
			return usageError("unknown case %q (cases: %s)", n, strings.Join(names, ", "))
		}
		want[n] = true
	}
	for _, c := range stateBenchCases {
		if !want[c.name] {
			continue
		}
		scratch, err := os.MkdirTemp(*dir, "sluice-bench-state-*")
		if err != nil {
			return err
		}
		env := &stateBenchEnv{ctx: ctx, stdout: stdout, stderr: stderr, asJSON: *asJSON, runs: *runs, dir: scratch}
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

// byteSize is a flag value with a binary unit: 1GiB, 256MiB, 64KiB, 1000.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("bad size %q (want e.g. 1GiB, 256MiB)", s)
	}
	*b = byteSize(n * float64(mult))
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

var benchUpdates = struct {
	keys, records int
}{}

func init() {
	registerStateBenchCase(stateBenchCase{
		name:    "updates",
		summary: "keyed ValueState read-modify-write through a Backend on Pebble (default cache) beside raw Pebble batch writes of the same keys",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&benchUpdates.keys, "keys", 2_000_000, "updates: size of the key space (the Backend's default cache holds 262144 entries)")
			fs.IntVar(&benchUpdates.records, "records", 2_000_000, "updates: updates per run")
		},
		run: runBenchUpdates,
	})
}

func runBenchUpdates(env *stateBenchEnv) error {
	if benchUpdates.keys < 1 || benchUpdates.records < 1 {
		return usageError("--keys and --records must be positive")
	}
	opts := state.PebbleOptions{}
	for _, dist := range []statebench.Distribution{statebench.Skewed, statebench.Uniform} {
		seq, err := statebench.KeySequence(dist, uint64(benchUpdates.keys), benchUpdates.records, 1)
		if err != nil {
			return err
		}
		want := statebench.CountBaseline(seq)
		distinct := map[int64]struct{}{}
		for _, k := range seq {
			distinct[k] = struct{}{}
		}
		var eng, base []bench.Sample
		for r := 0; r < env.runs; r++ {
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
				got, err = statebench.BackendRMW(s, seq, 0)
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

			raw, err := statebench.OpenRawPebble(filepath.Join(dir, "raw"), opts)
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
		if err := env.print(res); err != nil {
			return err
		}
	}
	return nil
}

// --- snapshot: the synchronous pause of a Pebble snapshot, and restores.

var benchSnapshot = struct {
	size, update byteSize
	valueSize    int
}{size: 256 << 20, update: 32 << 20, valueSize: 1000}

func init() {
	registerStateBenchCase(stateBenchCase{
		name:    "snapshot",
		summary: "synchronous pause of a Pebble snapshot (and its background write) with --snapshot-bytes of state; restore at the same and other key-group ranges",
		flags: func(fs *flag.FlagSet) {
			fs.Var(&benchSnapshot.size, "snapshot-bytes", "snapshot: bytes of state (e.g. 1GiB for the headline figure)")
			fs.Var(&benchSnapshot.update, "update-bytes", "snapshot: bytes of updates written between snapshots")
		},
		run: runBenchSnapshot,
	})
}

func runBenchSnapshot(env *stateBenchEnv) error {
	size, update := int64(benchSnapshot.size), int64(benchSnapshot.update)
	s, err := state.OpenPebble(filepath.Join(env.dir, "store"), state.PebbleOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	t0 := time.Now()
	keys, err := statebench.Fill(s, size, benchSnapshot.valueSize, 1)
	if err != nil {
		return err
	}
	env.logf("snapshot: filled %d keys (%s) in %v", keys, sizeName(size), time.Since(t0).Round(time.Millisecond))

	var pauses, writes []time.Duration
	var samples []bench.Sample
	var last string
	var files int
	var snapBytes int64
	for r := 0; r < env.runs; r++ {
		if err := env.ctx.Err(); err != nil {
			return err
		}
		// The writes between two checkpoints: the snapshot copies the WAL
		// of those not yet flushed.
		if err := statebench.Update(s, keys, update, benchSnapshot.valueSize, uint64(r)); err != nil {
			return err
		}
		dir := filepath.Join(env.dir, fmt.Sprintf("cp-%d", r))
		res, err := statebench.TimeSnapshot(s, dir)
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
	if err := env.print(res); err != nil {
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
		for r := 0; r < min(env.runs, 3); r++ {
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
		if err := env.print(res); err != nil {
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

var benchRSS = struct {
	keys  int64
	runs  int
	child bool
}{}

func init() {
	registerStateBenchCase(stateBenchCase{
		name:    "rss",
		summary: "maximum RSS of a process that pushes --rss-keys distinct keys through a Backend on Pebble (default cache)",
		flags: func(fs *flag.FlagSet) {
			fs.Int64Var(&benchRSS.keys, "rss-keys", 10_000_000, "rss: distinct keys")
			fs.IntVar(&benchRSS.runs, "rss-runs", 1, "rss: runs (each takes about a minute per 10 M keys)")
			fs.BoolVar(&benchRSS.child, "rss-child", false, "internal: run the rss workload in this process and print its figures")
		},
		run: runBenchRSS,
	})
}

type rssChildResult struct {
	Records   int64 `json:"records"`
	WallNs    int64 `json:"wall_ns"`
	CPUNs     int64 `json:"cpu_ns"`
	DiskBytes int64 `json:"disk_bytes"`
}

func runBenchRSS(env *stateBenchEnv) error {
	if benchRSS.keys < 1 || benchRSS.runs < 1 {
		return usageError("--rss-keys and --rss-runs must be positive")
	}
	if benchRSS.child {
		// A checkpoint-like flush every million keys.
		s, err := state.OpenPebble(filepath.Join(env.dir, "store"), state.PebbleOptions{})
		if err != nil {
			return err
		}
		smp, err := bench.Measure(func() (int64, int64, error) {
			return benchRSS.keys, 0, statebench.DistinctKeys(s, benchRSS.keys, 1_000_000)
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
	for r := 0; r < benchRSS.runs; r++ {
		var res rssChildResult
		maxRSS, err := runBenchChild(env, "rss", &res, "bench", "state", "--cases=rss", "--rss-child",
			"--rss-keys="+strconv.FormatInt(benchRSS.keys, 10), "--dir="+env.dir)
		if err != nil {
			return err
		}
		samples = append(samples, bench.Sample{Records: res.Records, Wall: time.Duration(res.WallNs), CPU: time.Duration(res.CPUNs)})
		rss = append(rss, maxRSS)
		disk = res.DiskBytes
		env.logf("rss run %d: %d keys in %v, max RSS %.0f MiB", r+1, res.Records, time.Duration(res.WallNs).Round(time.Millisecond), maxRSS)
	}
	res := bench.FromSamples("state/rss/"+keyCountName(benchRSS.keys), samples).
		Set("max_rss_mb", bench.MedianOf(rss)).
		Set("disk_bytes", disk).
		Set("cache_entries", 1<<18)
	return env.print(res)
}

// runBenchChild runs this binary with args in a child process, so that its
// peak memory is measured alone; the child prints one JSON object, decoded
// into res. It returns the child's maximum RSS in MiB.
func runBenchChild(env *stateBenchEnv, what string, res any, args ...string) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(env.ctx, exe, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, env.stderr
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
