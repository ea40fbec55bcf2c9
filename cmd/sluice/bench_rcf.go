package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/bench/rcfbench"
)

func init() {
	registerBench("rcf", "random cut forest µs/record (100 trees, 256 samples; 1, 4, 10 dims, with and without explanation) and HOTSPOTS records/s (window 1000)", benchRCF)
}

func benchRCF(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench rcf", stderr)
	out := benchFlags(fs, stdout)
	cfg := rcfbench.DefaultConfig
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "records per forest run")
	fs.IntVar(&cfg.TimeDecay, "time-decay", cfg.TimeDecay, "forest timeDecay in records (2560 = AWS library default; KDA's is 100000)")
	fs.IntVar(&cfg.HotspotsRecords, "hotspots-records", cfg.HotspotsRecords, "records per HOTSPOTS run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return rcfbench.Run(ctx, cfg, out())
}
