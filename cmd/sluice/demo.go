package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/examples/clickcount"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "run the main example job: clicks through the built-in log, counted per user per minute of event time, into ./out",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	out := fs.String("out", "out", "directory for the results")
	logDir := fs.String("log-dir", "", "data directory of the embedded log (default: a temporary directory, removed at the end)")
	events := fs.Int64("events", 2_000_000, "clicks to generate (0: run until interrupted)")
	rate := fs.Float64("rate", 0, "clicks per second (0: as fast as possible)")
	users := fs.Int("users", 200, "distinct users")
	shards := fs.Int("shards", 4, "shards of the clicks stream")
	par := fs.Int("parallelism", 2, "parallelism of the counting job")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Refused before anything starts or is removed: in clickcount.Options
	// zero means the default, which the banner would misreport.
	switch {
	case *events < 0:
		return usageError("--events %d: give a number of clicks, or 0 to run until interrupted", *events)
	case !(*rate >= 0) || math.IsInf(*rate, 1):
		return usageError("--rate %v: give clicks per second, or 0 for as fast as possible", *rate)
	case *users <= 0:
		return usageError("--users %d must be at least 1", *users)
	case *shards <= 0:
		return usageError("--shards %d must be at least 1", *shards)
	case *par <= 0:
		return usageError("--parallelism %d must be at least 1", *par)
	case *out == "":
		return usageError("--out needs a directory")
	}
	// Results of an earlier run would mix with this run's.
	old, _ := clickcount.OutputFiles(*out)
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	o := clickcount.Options{Events: *events, Rate: *rate, Users: *users, Parallelism: *par, OutDir: *out, LogDir: *logDir, Shards: *shards}
	where := "a temporary embedded log"
	if *logDir != "" {
		where = "the embedded log in " + *logDir
	}
	fmt.Fprintf(stdout, "clickcount: clicks into stream %q of %s (%d shards), counted per user per minute of event time into %s/\n",
		clickcount.Stream, where, *shards, *out)
	live := isTerminal(stderr)
	var last clickcount.Progress
	err := clickcount.Run(ctx, o, func(p clickcount.Progress) {
		last = p
		if live {
			fmt.Fprintf(stderr, "\r%s", progressLine(p))
		}
	})
	if live {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %s\n", progressLine(last))
	files, _ := clickcount.OutputFiles(*out)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	return nil
}

// progressLine summarises the example's progress: clicks put into the log,
// read from it by the counting job, counts written, late clicks, and the
// event time the counting job has reached.
func progressLine(p clickcount.Progress) string {
	wm := "-"
	switch {
	case p.Watermark == engine.MaxTime:
		wm = "end of input"
	case p.Watermark > engine.MinTime:
		wm = time.UnixMilli(p.Watermark).UTC().Format(time.RFC3339)
	}
	sec := max(p.Elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("[%5.1fs] %-5s put %d (%.0f/s)  read %d  counts %d  late %d  watermark %s   ",
		p.Elapsed.Seconds(), p.Phase, p.Put, float64(p.Put)/sec, p.Read, p.Counts, p.Late, wm)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
