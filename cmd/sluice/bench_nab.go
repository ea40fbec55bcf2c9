package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/nabbench"
)

func init() {
	registerBench("nab", "Numenta Anomaly Benchmark v1.1 scores (standard, low FP, low FN) of RANDOM_CUT_FOREST at KDA's defaults and of its calibrated output, in-sample and cross-validated", benchNAB)
}

func benchNAB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench nab", stderr)
	out := benchFlags(fs, stdout)
	cfg := nabbench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs, each with another seed (medians are reported)")
	fs.StringVar(&cfg.Data, "data", cfg.Data, "NAB directory (default: $SLUICE_NAB_DIR, else ../shared/datasets/nab from the working directory or a parent)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "series scored in parallel")
	fs.BoolVar(&cfg.CV, "cv", cfg.CV, "also choose ANOMALY_PROBABILITY's constants by two-fold cross-validation over the series and report the held-out scores")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return nabbench.Run(ctx, cfg, out())
}
