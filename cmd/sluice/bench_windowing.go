// This file is bench_windowing.go, not bench_windows.go: Go builds files
// ending in _windows.go on Windows only.

package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/windowbench"
)

func init() {
	registerBench("windows", "event-time windows: count per key in tumbling 10 s and hop 10 s / 2 s windows, checkpoints every 10 s, beside hand-written loops", benchWindows)
}

func benchWindows(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench windows", stderr)
	out := benchFlags(fs, stdout)
	cfg := windowbench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case; figures are medians")
	fs.Int64Var(&cfg.Records, "records", cfg.Records, "records per run (100,000 per second of event time)")
	fs.IntVar(&cfg.Parallelism, "parallelism", cfg.Parallelism, "parallelism of the job")
	fs.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", cfg.CheckpointInterval, "checkpoint interval (0: no checkpoints)")
	fs.StringVar(&cfg.StateBackend, "state-backend", cfg.StateBackend, "state backend: pebble or memory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return windowbench.Run(ctx, cfg, out())
}
