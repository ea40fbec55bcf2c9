package main

import (
	"context"
	"io"
	"os"

	"github.com/sluicehq/sluice/internal/bench/firehosebench"
)

func init() {
	registerBench("firehose", "JSON→Parquet conversion vs a hand-written parquet-go loop; delivery to MinIO, plain and through the exactly-once sink in a job", benchFirehose)
}

func benchFirehose(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench firehose", stderr)
	out := benchFlags(fs, stdout)
	cfg := firehosebench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "records per run")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", os.Getenv("SLUICE_S3_ENDPOINT"), "S3 endpoint for the delivery cases (default: $SLUICE_S3_ENDPOINT, else a MinIO started from the CI cache)")
	fs.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", cfg.CheckpointInterval, "checkpoint interval of the exactly-once sink job (objects are cut at every checkpoint)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.AccessKey, cfg.SecretKey = os.Getenv("SLUICE_S3_ACCESS_KEY"), os.Getenv("SLUICE_S3_SECRET_KEY")
	cfg.Log = stderr
	return firehosebench.Run(ctx, cfg, out())
}
