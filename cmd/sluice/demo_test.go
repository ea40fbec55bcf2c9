package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/examples/clickcount"
)

// runDeadline runs the sluice command line with a deadline and fails the
// test if the command does not end by then.
func runDeadline(t *testing.T, d time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errb) }()
	select {
	case code = <-done:
	case <-time.After(d + 10*time.Second):
		t.Fatalf("sluice %s: still running %v after its context ended", strings.Join(args, " "), d+10*time.Second)
	}
	if ctx.Err() != nil {
		t.Fatalf("sluice %s: ran into its %v deadline (exit %d): %s", strings.Join(args, " "), d, code, errb.String())
	}
	return code, out.String(), errb.String()
}

// TestDemoRefusesMeaninglessFlags: values that mean nothing end the demo
// at once with a usage error (exit 2) naming the flag, before anything is
// started or removed. --events=-5 used to hang until interrupted.
func TestDemoRefusesMeaninglessFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	earlier := filepath.Join(out, "part-c1-s0.jsonl")
	if err := os.WriteFile(earlier, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ flag, want string }{
		{"--events=-5", "--events"},
		{"--shards=0", "--shards"},
		{"--shards=-1", "--shards"},
		{"--parallelism=0", "--parallelism"},
		{"--users=0", "--users"},
		{"--rate=-1", "--rate"},
		{"--rate=NaN", "--rate"},
		{"--out=", "--out"},
	} {
		code, stdout, stderr := runDeadline(t, 20*time.Second, "demo", "--out="+out, c.flag)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("demo %s: exit %d, stdout %q, stderr %q; want exit 2 naming %s and no banner", c.flag, code, stdout, stderr, c.want)
		}
	}
	if _, err := os.Stat(earlier); err != nil {
		t.Errorf("a refused demo removed earlier output: %v", err)
	}
}

// TestDemoSmallRun: a small bounded demo ends with its summary, twice into
// the same output directory.
func TestDemoSmallRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for i := 0; i < 2; i++ {
		code, stdout, stderr := runDeadline(t, 2*time.Minute, "demo", "--out="+out, "--events=20000", "--users=7", "--shards=2", "--parallelism=2")
		if code != 0 || !strings.Contains(stdout, "done:") {
			t.Fatalf("run %d: exit %d\nstdout %s\nstderr %s", i, code, stdout, stderr)
		}
		// stderr is not a terminal here: progress still shows, as plain
		// lines; the output is summarised, not listed file by file.
		if !strings.Contains(stderr, "put ") || strings.Contains(stderr, "\r") {
			t.Fatalf("run %d: no plain progress line on a non-terminal stderr: %q", i, stderr)
		}
		if !strings.Contains(stdout, "wrote ") || !strings.Contains(stdout, "part-c<checkpoint>-s<subtask>.jsonl") || strings.Count(stdout, ".jsonl\n") > 1 {
			t.Fatalf("run %d: output not summarised: %q", i, stdout)
		}
	}
}

// TestDemoProgressRates: the rates are over the last interval, not the
// whole run, and plain lines come every few seconds.
func TestDemoProgressRates(t *testing.T) {
	d := &demoProgress{}
	d.line(clickcount.Progress{Elapsed: 10 * time.Second, Put: 1_000_000})
	l := d.line(clickcount.Progress{Elapsed: 11 * time.Second, Put: 1_000_500, Read: 400})
	if !strings.Contains(l, "put 1000500 (500/s)") || !strings.Contains(l, "read 400 (400/s)") {
		t.Fatalf("line %q: want the rate over the last second", l)
	}
	if !d.due(clickcount.Progress{Elapsed: 0}) || d.due(clickcount.Progress{Elapsed: 4 * time.Second}) || !d.due(clickcount.Progress{Elapsed: 5 * time.Second}) {
		t.Fatal("plain lines are not every 5 seconds")
	}
}
