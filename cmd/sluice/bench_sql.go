package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/sqlbench"
)

func init() {
	registerBench("sql", "SQL filter+project, tumbling and hop counts, a 4-aggregate window, a regular join, a Top-N (sql/planner, datagen into blackhole), each beside the hand-written Go API job", benchSQL)
}

func benchSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench sql", stderr)
	out := benchFlags(fs, stdout)
	cfg := sqlbench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case; figures are medians")
	fs.Int64Var(&cfg.Records, "records", cfg.Records, "generated rows per run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return sqlbench.Run(ctx, cfg, out())
}
