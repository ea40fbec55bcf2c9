package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
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
	rep := &demoProgress{}
	var last clickcount.Progress
	err := clickcount.Run(ctx, o, func(p clickcount.Progress) {
		last = p
		line := rep.line(p)
		switch {
		case live:
			fmt.Fprintf(stderr, "\r%s", line)
		case rep.due(p):
			// Not a terminal (CI logs, nohup, systemd): a plain line every
			// few seconds instead of one rewritten in place.
			fmt.Fprintln(stderr, strings.TrimRight(line, " "))
		}
	})
	if live {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %s\n", strings.TrimRight(summaryLine(last), " "))
	return summariseOutput(stdout, *out)
}

// plainEvery is how often progress is printed when stderr is not a
// terminal.
const plainEvery = 5 * time.Second

// demoProgress turns the example's cumulative counters into rates over the
// last report interval.
type demoProgress struct {
	prev      clickcount.Progress
	lastPlain time.Duration
	printed   bool
}

// due reports whether a plain progress line is due at p.
func (d *demoProgress) due(p clickcount.Progress) bool {
	if d.printed && p.Elapsed-d.lastPlain < plainEvery {
		return false
	}
	d.printed, d.lastPlain = true, p.Elapsed
	return true
}

// line shows the counters with the put and read rates since the previous
// call (records per second over that interval, not over the whole run).
func (d *demoProgress) line(p clickcount.Progress) string {
	dt := (p.Elapsed - d.prev.Elapsed).Seconds()
	putRate, readRate := 0.0, 0.0
	if dt > 0 {
		putRate = float64(p.Put-d.prev.Put) / dt
		readRate = float64(p.Read-d.prev.Read) / dt
	}
	d.prev = p
	return fmt.Sprintf("[%5.1fs] %-5s put %d (%s/s)  read %d (%s/s)  counts %d  late %d  watermark %s   ",
		p.Elapsed.Seconds(), p.Phase, p.Put, rate(putRate), p.Read, rate(readRate), p.Counts, p.Late, watermarkText(p.Watermark))
}

// summaryLine is the final line: totals and the average rates of the run.
func summaryLine(p clickcount.Progress) string {
	sec := max(p.Elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("%d clicks put and %d read in %.1fs (%s/s on average), %d counts, %d late clicks, watermark %s",
		p.Put, p.Read, p.Elapsed.Seconds(), rate(float64(p.Read)/sec), p.Counts, p.Late, watermarkText(p.Watermark))
}

func rate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fK", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

func watermarkText(wm int64) string {
	switch {
	case wm == engine.MaxTime:
		return "end of input"
	case wm > engine.MinTime:
		return time.UnixMilli(wm).UTC().Format(time.RFC3339)
	}
	return "-"
}

// summariseOutput says what was written, instead of listing every file:
// how many files, rows and bytes, where, and how the files are named.
func summariseOutput(w io.Writer, dir string) error {
	files, err := clickcount.OutputFiles(dir)
	if err != nil {
		return err
	}
	var rows, bytes int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		bytes += int64(len(b))
		rows += int64(strings.Count(string(b), "\n"))
	}
	fmt.Fprintf(w, "wrote %d rows (%d bytes) in %d files under %s/\n", rows, bytes, len(files), dir)
	fmt.Fprintf(w, "  each file is part-c<checkpoint>-s<subtask>.jsonl: the counts subtask <subtask> committed at checkpoint <checkpoint>, one JSON object per line (user, window start and end, clicks)\n")
	if len(files) > 0 {
		fmt.Fprintf(w, "  e.g. head -3 %s\n", files[0])
	}
	return nil
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
