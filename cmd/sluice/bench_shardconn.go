package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/shardconnbench"
)

func init() {
	registerBench("shardconn", "shardlog engine source and sink: a job reading a 4-shard stream, a sink writer putting one, each beside a hand-written loop on the embedded API", benchShardconn)
}

func benchShardconn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench shardconn", stderr)
	out := benchFlags(fs, stdout)
	cfg := shardconnbench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "records per run")
	fs.IntVar(&cfg.Parallelism, "parallelism", cfg.Parallelism, "parallelism of the reading job")
	fs.StringVar(&cfg.Sync, "sync", cfg.Sync, "log acknowledgement for the sink case: always (fsync) or none")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return shardconnbench.Run(ctx, cfg, out())
}
