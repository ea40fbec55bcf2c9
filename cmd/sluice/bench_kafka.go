package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/kafkabench"
)

func init() {
	registerBench("kafka", "Kafka engine source and sink against an in-process kfake cluster, each beside a plain franz-go consume or produce loop; exactly-once beside at-least-once", benchKafka)
}

func benchKafka(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench kafka", stderr)
	out := benchFlags(fs, stdout)
	cfg := kafkabench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "records per run")
	fs.IntVar(&cfg.Bytes, "bytes", cfg.Bytes, "value bytes per record")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of the topics")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "checkpoint interval of the sink cases")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return kafkabench.Run(ctx, cfg, out())
}
