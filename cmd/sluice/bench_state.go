package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/bench/statebench"
)

func init() {
	registerBench("state", "keyed state on Pebble: ValueState updates vs raw Pebble writes, snapshot pause and restore, RSS with 10 M keys", benchState)
}

func benchState(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench state", stderr)
	out := benchFlags(fs, stdout)
	cfg := statebench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case; figures are medians (the rss case runs --rss-runs times)")
	names := strings.Join(statebench.CaseNames(), ",")
	cases := fs.String("cases", names, "comma-separated cases to run, of: "+strings.ReplaceAll(names, ",", ", "))
	fs.StringVar(&cfg.Dir, "dir", cfg.Dir, "directory for the benchmark's stores (a local disk: it measures the disk too)")

	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "updates: size of the key space (the Backend's default cache holds 262144 entries)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "updates: updates per run")
	fs.Var((*byteSize)(&cfg.SnapshotBytes), "snapshot-bytes", "snapshot: bytes of state (e.g. 1GiB for the headline figure)")
	fs.Var((*byteSize)(&cfg.UpdateBytes), "update-bytes", "snapshot: bytes of updates written between snapshots")
	fs.Int64Var(&cfg.RSSKeys, "rss-keys", cfg.RSSKeys, "rss: distinct keys")
	fs.IntVar(&cfg.RSSRuns, "rss-runs", cfg.RSSRuns, "rss: runs (each takes about a minute per 10 M keys)")
	rssChild := fs.Bool("rss-child", false, "internal: run the rss workload in this process and print its figures")
	fs.Int64Var(&cfg.CPRecords, "cp-records", cfg.CPRecords, "checkpoint-throughput: records per run (runs must be longer than --cp-interval)")
	fs.Int64Var(&cfg.CPKeys, "cp-keys", cfg.CPKeys, "checkpoint-throughput: distinct keys")
	fs.DurationVar(&cfg.CPInterval, "cp-interval", cfg.CPInterval, "checkpoint-throughput: checkpoint interval")
	fs.IntVar(&cfg.CPParallelism, "cp-parallelism", cfg.CPParallelism, "checkpoint-throughput: parallelism")
	fs.Int64Var(&cfg.PauseBytes, "pause-bytes", cfg.PauseBytes, "checkpoint-pause: bytes of keyed state (keys of 8 B plus values)")
	fs.IntVar(&cfg.PauseValueSize, "pause-value-size", cfg.PauseValueSize, "checkpoint-pause: value size in bytes (with --pause-slices; otherwise 100-byte arrays)")
	fs.BoolVar(&cfg.PauseSlices, "pause-slices", cfg.PauseSlices, "checkpoint-pause: byte-slice values, which the pause encodes, instead of fixed-size arrays captured by copy-on-write")
	fs.Int64Var(&cfg.RecoveryKeys, "recovery-keys", cfg.RecoveryKeys, "recovery: distinct keys in the restored state")
	fs.Int64Var(&cfg.JobKeys, "job-keys", cfg.JobKeys, "job-rss: distinct keys")
	jobChild := fs.Bool("job-rss-child", false, "internal: run the job-rss workload in this process")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Cases = strings.Split(*cases, ",")
	cfg.Log = stderr
	switch {
	case *rssChild:
		return statebench.RunChild(ctx, cfg, "rss", stdout)
	case *jobChild:
		return statebench.RunChild(ctx, cfg, "job-rss", stdout)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Self = []string{self, "bench", "state"}
	return statebench.Run(ctx, cfg, out())
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
