package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/nexmark"
)

func init() {
	registerBench("nexmark", "the Nexmark queries (q0–q22) over the Nexmark generator, Pebble state, exactly-once checkpoints every 10 s", benchNexmark)
}

func benchNexmark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench nexmark", stderr)
	out := benchFlags(fs, stdout)
	cfg := nexmark.DefaultConfig
	fs.StringVar(&cfg.Query, "query", cfg.Query, "the query to run: q0 q1 q2 q3 q4 q5 q7 q8 q9 q11 q12 q14 ... q22")
	fs.BoolVar(&cfg.All, "all", cfg.All, "run every query in turn")
	fs.StringVar(&cfg.API, "api", cfg.API, "the form of the queries: go, sql (the Flink nexmark suite's SQL) or both (side by side, with the SQL/Go ratio)")
	fs.Int64Var(&cfg.Events, "events", cfg.Events, "events per run")
	fs.Int64Var(&cfg.EventsPerSecond, "rate", cfg.EventsPerSecond, "events per second of event time (the generator's inter-event delay)")
	fs.IntVar(&cfg.Parallelism, "parallelism", cfg.Parallelism, "parallelism of the job")
	fs.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", cfg.CheckpointInterval, "checkpoint interval (0: no checkpoints)")
	fs.StringVar(&cfg.StateBackend, "state-backend", cfg.StateBackend, "state backend: pebble or memory")
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per query; figures are medians")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "the generator's seed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return nexmark.Run(ctx, cfg, out())
}
