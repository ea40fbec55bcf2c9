package main

import (
	"context"
	"io"
	"os"

	"github.com/sluicehq/sluice/internal/bench/s3ckptbench"
)

func init() {
	registerBench("s3checkpoint", "checkpoint duration and uploaded bytes of Pebble state to MinIO (incremental) vs a local directory, full and after a few updates", benchS3Checkpoint)
}

func benchS3Checkpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench s3checkpoint", stderr)
	out := benchFlags(fs, stdout)
	cfg := s3ckptbench.DefaultConfig
	fs.Var((*byteSize)(&cfg.StateBytes), "state-bytes", "bytes of keyed state before the first checkpoint (e.g. 1GiB)")
	fs.IntVar(&cfg.ValueBytes, "value-bytes", cfg.ValueBytes, "bytes of each (random) value")
	fs.IntVar(&cfg.Updates, "updates", cfg.Updates, "keys updated between the first and the second checkpoint")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", os.Getenv("SLUICE_S3_ENDPOINT"), "S3 endpoint (default: $SLUICE_S3_ENDPOINT, else a MinIO started from the CI cache)")
	fs.StringVar(&cfg.Dir, "dir", "", "directory of the state and the local checkpoints (default: a temporary directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.AccessKey, cfg.SecretKey = os.Getenv("SLUICE_S3_ACCESS_KEY"), os.Getenv("SLUICE_S3_SECRET_KEY")
	cfg.Log = stderr
	return s3ckptbench.Run(ctx, cfg, out())
}
