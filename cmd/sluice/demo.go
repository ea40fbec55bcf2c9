package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/examples/clickcount"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "run the main example job: clicks per user per minute in event time, into ./out",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	out := fs.String("out", "out", "directory for the results")
	events := fs.Int64("events", 2_000_000, "clicks to generate (0: run until interrupted)")
	rate := fs.Float64("rate", 0, "clicks per second (0: as fast as possible)")
	users := fs.Int("users", 200, "distinct users")
	par := fs.Int("parallelism", 2, "parallelism of the job")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := clickcount.Options{Events: *events, Rate: *rate, Users: *users, Parallelism: *par, OutDir: *out}
	fmt.Fprintf(stdout, "clickcount: counting clicks per user per minute of event time into %s/\n", *out)
	live := isTerminal(stderr)
	var last engine.Metrics
	err := clickcount.Run(ctx, o, func(m engine.Metrics) {
		last = m
		if live {
			fmt.Fprintf(stderr, "\r%s", progressLine(m))
		}
	})
	if live {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %s\n", progressLine(last))
	files, _ := filepath.Glob(filepath.Join(*out, "part-*.jsonl"))
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	return nil
}

// progressLine summarises a job's metrics: records in at the sources, out
// at the sinks, late records, and the event time reached.
func progressLine(m engine.Metrics) string {
	var in, out, late int64
	for _, om := range m.Operators {
		if om.IsSource {
			in += om.RecordsOut
		}
		if om.IsSink {
			out += om.RecordsIn
		}
		late += om.Counters[clickcount.LateCounter]
	}
	wm := "-"
	switch {
	case m.Watermark == engine.MaxTime:
		wm = "end of input"
	case m.Watermark > engine.MinTime:
		wm = time.UnixMilli(m.Watermark).UTC().Format(time.RFC3339)
	}
	rate := float64(in) / max(m.Elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("[%5.1fs] in %d (%.0f/s)  out %d  late %d  watermark %s   ", m.Elapsed.Seconds(), in, rate, out, late, wm)
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
