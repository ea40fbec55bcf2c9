package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/consumerbench"
)

func init() {
	registerBench("consumer", "KCL-style consumer library (polling and enhanced fan-out) over a 4-shard stream from the Kinesis wire server, beside a plain GetRecords loop", benchConsumer)
}

func benchConsumer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench consumer", stderr)
	out := benchFlags(fs, stdout)
	cfg := consumerbench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "records in the stream, read whole by each run")
	fs.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "the processor checkpoints after every N batches")
	fs.DurationVar(&cfg.Idle, "idle", cfg.Idle, "the consumer's IdleTimeBetweenReads")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return consumerbench.Run(ctx, cfg, out())
}
