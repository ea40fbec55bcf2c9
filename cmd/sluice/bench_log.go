package main

import (
	"context"
	"io"
	"os"

	"github.com/sluicehq/sluice/internal/bench/logbench"
)

func init() {
	registerBench("log", "built-in sharded log: embedded append/read, SDK put/get vs kinesalite and kinesis-local, put->get latency", benchLog)
}

func benchLog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench log", stderr)
	out := benchFlags(fs, stdout)
	cfg := logbench.DefaultConfig()
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per case (medians are reported)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of each timed SDK phase")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent SDK clients")
	fs.IntVar(&cfg.Shards, "shards", cfg.Shards, "shards per stream")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "records per PutRecords")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "record data bytes")
	fs.StringVar(&cfg.Peers, "peers", cfg.Peers, "kinesalite and kinesis-local: auto (install with npm if missing), installed (only if present), off")
	fs.StringVar(&cfg.PeersDir, "peers-dir", cfg.PeersDir, "npm prefix of the peers ($SLUICE_LOG_PEERS_DIR)")
	child := fs.String("peer-child", "", "internal: run the client half against a peer and answer on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Log = stderr
	if *child != "" {
		return logbench.RunPeerChild(ctx, *child, cfg, os.Stdin, stdout)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Sluice = self
	return logbench.Run(ctx, cfg, out())
}
