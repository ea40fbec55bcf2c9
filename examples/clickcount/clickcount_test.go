package clickcount

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// want computes the counts per (user, window start) of clicks 0..n-1
// directly from the generator.
func want(o Options, n int64) map[[2]string]int64 {
	o.defaults()
	gen := Gen(o)
	w := o.Window.Milliseconds()
	out := map[[2]string]int64{}
	for i := int64(0); i < n; i++ {
		c := gen(i)
		start := c.Time - mod(c.Time, w)
		out[[2]string{c.User, time.UnixMilli(start).UTC().Format(time.RFC3339)}]++
	}
	return out
}

// readCounts reads every committed count file, refusing a window emitted
// twice.
func readCounts(t *testing.T, dir string) map[[2]string]int64 {
	t.Helper()
	files, err := OutputFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]string]int64{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var c Count
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			k := [2]string{c.User, c.WindowStart}
			if _, dup := got[k]; dup {
				t.Fatalf("window %v emitted twice", k)
			}
			got[k] = c.Clicks
		}
		fh.Close()
	}
	return got
}

// TestRunCountsEveryClick runs the example (clicks put into the built-in
// log, counted by a job reading it) and checks its output files against
// counts computed directly from the generator.
func TestRunCountsEveryClick(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(t.TempDir(), "log")
	o := Options{Events: 50_000, Users: 37, Window: 10 * time.Second, OutDir: dir, Parallelism: 3, LogDir: logDir, Shards: 5, CheckpointInterval: 50 * time.Millisecond}
	var last Progress
	phases := map[string]bool{}
	if err := Run(context.Background(), o, func(p Progress) { last = p; phases[p.Phase] = true }); err != nil {
		t.Fatal(err)
	}
	if last.Put != o.Events || last.Read != o.Events || last.Late != 0 || last.Watermark != engine.MaxTime || !phases["put"] || !phases["count"] {
		t.Fatalf("last progress %+v, phases %v", last, phases)
	}
	wantCounts := want(o, o.Events)
	got := readCounts(t, dir)
	if last.Counts != int64(len(wantCounts)) {
		t.Fatalf("progress reports %d counts, want %d", last.Counts, len(wantCounts))
	}
	if len(got) != len(wantCounts) {
		t.Fatalf("%d windows, want %d", len(got), len(wantCounts))
	}
	for k, n := range wantCounts {
		if got[k] != n {
			t.Fatalf("window %v: %d clicks, want %d", k, got[k], n)
		}
	}
	// The log directory was kept, with the stream in it.
	if _, err := os.Stat(filepath.Join(logDir, "streams")); err != nil {
		t.Fatal(err)
	}
}

// TestRunUnbounded produces and counts at once until the context ends: every
// window committed by then holds exactly its clicks.
func TestRunUnbounded(t *testing.T) {
	dir := t.TempDir()
	o := Options{Rate: 40_000, Users: 11, Window: 2 * time.Second, Lateness: time.Second, OutDir: dir, CheckpointInterval: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	var last Progress
	if err := Run(ctx, o, func(p Progress) { last = p }); err != nil {
		t.Fatal(err)
	}
	got := readCounts(t, dir)
	if len(got) == 0 {
		t.Fatalf("no window committed (progress %+v)", last)
	}
	// Every committed window is complete: its clicks all come before the
	// last one put.
	wantCounts := want(o, last.Put)
	for k, n := range got {
		if wantCounts[k] != n {
			t.Fatalf("window %v: %d clicks, want %d", k, n, wantCounts[k])
		}
	}
	t.Logf("%d clicks put, %d read, %d windows committed", last.Put, last.Read, len(got))
}

func TestJSONRoundTrip(t *testing.T) {
	for _, c := range []Click{
		{User: "user-0001", Page: "/page/3", Time: 1767225600000},
		{User: `we"ird\`, Page: "tab\there", Time: -5},
		{User: "ünïcode", Page: "", Time: 0},
	} {
		b := AppendJSON(nil, c)
		var viaStd Click
		if err := json.Unmarshal(b, &viaStd); err != nil || viaStd != c {
			t.Fatalf("%s: encoding/json reads %+v, %v", b, viaStd, err)
		}
		got, err := DecodeJSON(b)
		if err != nil || got != c {
			t.Fatalf("%s: decoded %+v, %v", b, got, err)
		}
	}
	if _, err := DecodeJSON([]byte("not json")); err == nil {
		t.Fatal("garbage decoded")
	}
}

// TestRunRefusesBadOptions: options that mean nothing are refused before
// anything starts.
func TestRunRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Events: -5}, {Users: -1}, {Parallelism: -2}, {Shards: -1}, {Rate: -1}, {Rate: math.NaN()},
		{Window: -time.Second}, {Lateness: -time.Second}, {CheckpointInterval: -time.Second},
	} {
		o.OutDir = t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := Run(ctx, o, nil)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "must not be negative") {
			t.Errorf("%+v: %v, want it refused", o, err)
		}
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := Run(ctx, Options{Events: 10, OutDir: plain}, nil); err == nil || !strings.Contains(err.Error(), "output directory") {
		t.Errorf("output directory a file: %v", err)
	}
}

// TestRunEndsWhenProducerFails: in an unbounded run, a producer that fails
// (at once, while the counting job is still starting, or later) ends Run
// with its error, long before the deadline.
func TestRunEndsWhenProducerFails(t *testing.T) {
	defer func(g func(Options) func(int64) Click) { genFor = g }(genFor)
	for _, at := range []int64{0, 2000} {
		genFor = func(o Options) func(int64) Click {
			gen := Gen(o)
			return func(i int64) Click {
				if i == at {
					panic(fmt.Sprintf("generator failure at click %d", i))
				}
				return gen(i)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := Run(ctx, Options{Rate: 20_000, OutDir: t.TempDir(), CheckpointInterval: 50 * time.Millisecond}, nil)
		expired := ctx.Err() != nil
		cancel()
		if expired || err == nil || !strings.Contains(err.Error(), fmt.Sprintf("generator failure at click %d", at)) {
			t.Fatalf("producer failing at click %d: Run returned %v (deadline passed: %v), want the producer's error", at, err, expired)
		}
		t.Logf("producer failing at click %d: %v", at, err)
	}
}
