package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/exchangebench"
)

func init() {
	registerBench("exchange", "a keyed job with its exchange over in-process channels beside the TCP transport with credit-based flow control (engine/netexchange) on loopback: records/s, per CPU second, MB/s, latency", benchExchange)
}

func benchExchange(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench exchange", stderr)
	out := benchFlags(fs, stdout)
	cfg := exchangebench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.Int64Var(&cfg.Records, "records", cfg.Records, "records per run")
	fs.IntVar(&cfg.Parallelism, "parallelism", cfg.Parallelism, "parallelism of the source and the keyed operator")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "records per exchanged batch")
	fs.IntVar(&cfg.Capacity, "capacity", cfg.Capacity, "batches each channel queues (over TCP: its credits)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return exchangebench.Run(ctx, cfg, out())
}
