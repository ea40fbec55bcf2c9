package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/pipelinebench"
)

func init() {
	registerBench("pipeline", "engine throughput: chained map/filter, keyed running sum (p=1, p=2), beside hand-written loops", benchPipeline)
}

func benchPipeline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench pipeline", stderr)
	out := benchFlags(fs, stdout)
	cfg := pipelinebench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case; figures are medians")
	fs.Int64Var(&cfg.ChainedRecords, "chained-records", cfg.ChainedRecords, "records per run of the chained case")
	fs.Int64Var(&cfg.KeyedRecords, "keyed-records", cfg.KeyedRecords, "records per run of the keyed cases")
	overhead := fs.Bool("metrics-overhead", false, "instead: the chained and keyed p=2 cases with metrics collection on (a job's figures read every 100ms, as sluice serve does) and off, side by side")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *overhead {
		return pipelinebench.RunMetricsOverhead(ctx, cfg, out())
	}
	return pipelinebench.Run(ctx, cfg, out())
}
