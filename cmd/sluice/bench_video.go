package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/videobench"
)

func init() {
	registerBench("video", "video streams: PutMedia ingest with fsynced acknowledgements (fragments, MB/s, per CPU second) and PERSISTED-to-live-GetMedia latency", benchVideo)
}

func benchVideo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench video", stderr)
	out := benchFlags(fs, stdout)
	cfg := videobench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs (medians are reported)")
	fs.IntVar(&cfg.Fragments, "fragments", cfg.Fragments, "fragments per run")
	fs.IntVar(&cfg.FramesPerFrag, "frames", cfg.FramesPerFrag, "frames per fragment")
	fs.IntVar(&cfg.FrameBytes, "frame-bytes", cfg.FrameBytes, "bytes per frame")
	fs.StringVar(&cfg.Dir, "dir", "", "directory of the stores (default: a temporary one)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return videobench.Run(ctx, cfg, out())
}
