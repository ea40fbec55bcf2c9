package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/rcfbench"
)

func init() {
	registerBench("rcf", "random cut forest µs/record at KDA defaults (100 trees, 256 samples, time decay 100000; 1, 4, 10 dims, explanation at 10), interleaved with the previous layout, bytes per forest; HOTSPOTS records/s (window 1000)", benchRCF)
}

func benchRCF(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench rcf", stderr)
	out := benchFlags(fs, stdout)
	cfg := rcfbench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "records per forest run")
	fs.IntVar(&cfg.TimeDecay, "time-decay", cfg.TimeDecay, "forest timeDecay in records (100000 = KDA's default; AWS's library defaults to 2560)")
	fs.IntVar(&cfg.HotspotsRecords, "hotspots-records", cfg.HotspotsRecords, "records per HOTSPOTS run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return rcfbench.Run(ctx, cfg, out())
}
