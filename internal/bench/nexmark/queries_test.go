package nexmark

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	nx "github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
)

// testConfig is a small run: 1,000 events per second of event time, so
// that 24,000 events span 24 s — every kind of window opens and fires
// during the run — starting 12 s before midnight, so that the daily
// queries see two days.
func testConfig(seed uint64, events int64, p int, t *testing.T) JobConfig {
	return JobConfig{
		Generator: nx.Config{Seed: seed, EventsPerSecond: 1000, BaseTime: nx.DefaultBaseTime - 12_000},
		Events:    events,
		Engine:    engine.Config{Parallelism: p, MaxParallelism: 32, StateDir: t.TempDir()},
	}
}

// TestQueriesMatchReference runs every query at parallelism 1 and 2 with
// Pebble state and compares its materialised output with the in-memory
// reference over the same events.
func TestQueriesMatchReference(t *testing.T) {
	seed := testseed.Seed(t)
	const events = 24_000
	for _, q := range Queries {
		if q.reference == nil {
			continue
		}
		t.Run(q.Name, func(t *testing.T) {
			want, err := Reference(q, testConfig(seed, events, 1, t))
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("seed %d: the reference of %s has no rows: the test shows nothing", seed, q.Name)
			}
			for _, p := range []int{1, 2} {
				got, _, err := Rows(context.Background(), q, testConfig(seed, events, p, t))
				if err != nil {
					t.Fatalf("seed %d p=%d: %v", seed, p, err)
				}
				compareRows(t, fmt.Sprintf("seed %d %s p=%d", seed, q.Name, p), got, want)
			}
		})
	}
}

func compareRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	g, w := "(none)", "(none)"
	if i < len(got) {
		g = got[i]
	}
	if i < len(want) {
		w = want[i]
	}
	t.Fatalf("%s: %d rows, reference %d; first difference at sorted row %d:\n got  %.300s\n want %.300s", what, len(got), len(want), i, g, w)
}

// TestCommittedOutputAfterFailures fails q5 and q8 at random points
// (seeded); each restarts from its latest checkpoint, and the committed
// output must equal a failure-free run's.
func TestCommittedOutputAfterFailures(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 14))
	const events = 24_000
	for _, name := range []string{"q5", "q8"} {
		q, _ := QueryByName(name)
		clean, _, err := Rows(context.Background(), q, testConfig(seed, events, 2, t))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int{1, 3} {
			cfg := testConfig(seed, events, p, t)
			// Points anywhere in the run: every point is reached (each event
			// passes the hook at least once), so every failure fires; those
			// after the first checkpoint restore it, earlier ones restart
			// from the beginning.
			in := enginetest.RandomInjector(rng, events, 1+rng.IntN(3))
			cfg.Inject = in.Panic
			cfg.RatePerSecond = 40_000 // about 0.6 s: many checkpoints
			cfg.Engine.Checkpoint = engine.CheckpointConfig{Interval: 5 * time.Millisecond, Dir: t.TempDir()}
			cfg.Engine.Restart = engine.FixedDelay(10, time.Millisecond)
			var restored atomic.Int64
			cfg.Engine.Events = func(e engine.Event) {
				if e.Kind == engine.EventRestored {
					restored.Add(1)
				}
			}
			got, r, err := Rows(context.Background(), q, cfg)
			if err != nil {
				t.Fatalf("seed %d %s p=%d (failures at %v): %v", seed, name, p, in.Points(), err)
			}
			if in.Fired() == 0 {
				t.Fatalf("seed %d %s p=%d: no failure fired (points %v, %d calls)", seed, name, p, in.Points(), in.Calls())
			}
			if r.Attempt() == 0 {
				t.Fatalf("seed %d %s p=%d: %d failures and no restart", seed, name, p, in.Fired())
			}
			t.Logf("%s p=%d: %d failures at %v, %d restarts, %d from a checkpoint, %d rows", name, p, in.Fired(), in.Points(), r.Attempt(), restored.Load(), len(got))
			compareRows(t, fmt.Sprintf("seed %d %s p=%d after failures", seed, name, p), got, clean)
		}
	}
}

// gatedSource generates events [0, half) at once and [half, n) only after
// release is closed; while it waits, Read returns without records so that
// its task flushes what it emitted.
type gatedSource struct {
	g       *nx.Generator
	n, half int64
	release chan struct{}
}

func (s *gatedSource) Open(_ context.Context, info engine.SourceInfo) (engine.SourceReader[nx.Event], error) {
	return &gatedReader{s: s, next: int64(info.Subtask), step: int64(info.Parallelism)}, nil
}

type gatedReader struct {
	s          *gatedSource
	next, step int64
}

func (r *gatedReader) Read(ctx context.Context, out *engine.SourceOutput[nx.Event]) error {
	if r.next >= r.s.n {
		return io.EOF
	}
	if r.next >= r.s.half {
		select {
		case <-r.s.release:
		case <-ctx.Done():
			return nil
		case <-time.After(time.Millisecond): // poll: the task flushes between reads
			return nil
		}
	}
	for k := out.Room(); k > 0 && r.next < r.s.n && (r.next < r.s.half || isClosed(r.s.release)); k-- {
		out.Collect(r.s.g.Event(r.next))
		r.next += r.step
	}
	return nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (r *gatedReader) Close() error { return nil }

// TestQ12ProcessingTimeWindows drives q12's processing-time windows with
// a manual clock: the first half of the events all fall in one window,
// which fires when the clock passes its end; the second half falls in the
// next, which is still open when the input ends and so never fires (as in
// Flink). The rows must be exactly the first half's counts per bidder.
func TestQ12ProcessingTimeWindows(t *testing.T) {
	seed := testseed.Seed(t)
	q, _ := QueryByName("q12")
	const n, half = 20_000, 10_000
	for _, p := range []int{1, 2} {
		g, err := nx.NewGenerator(nx.Config{Seed: seed, EventsPerSecond: 1000})
		if err != nil {
			t.Fatal(err)
		}
		start := time.UnixMilli(1_000_000_000) // on a 10 s boundary
		clk := engine.NewManualClock(start.Add(time.Second))
		j := engine.NewJob("q12", engine.Config{Parallelism: p, MaxParallelism: 32, StateDir: t.TempDir(), Clock: clk})
		src := &gatedSource{g: g, n: n, half: half, release: make(chan struct{})}
		o := &output{collect: true}
		q.build(engine.SourceOf(j, "nexmark", engine.Source[nx.Event](src), nx.Watermarks()), o)
		want := map[int64]int64{}
		firstHalfBids := int64(0)
		for i := range int64(half) {
			if e := g.Event(i); e.Kind == nx.KindBid {
				want[e.Bid.Bidder]++
				firstHalfBids++
			}
		}
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute) // a safety bound, not a timing
		for windowIn(r) < firstHalfBids {
			if time.Now().After(deadline) {
				r.Cancel()
				t.Fatalf("seed %d p=%d: the window operator took in %d of the first half's %d bids", seed, p, windowIn(r), firstHalfBids)
			}
			time.Sleep(time.Millisecond)
		}
		clk.Advance(10 * time.Second)
		close(src.release)
		if err := r.Wait(); err != nil {
			t.Fatalf("seed %d p=%d: %v", seed, p, err)
		}
		var rows []string
		for bidder, c := range want {
			rows = append(rows, fmt.Sprintf("%d|%d|%d|%d", bidder, c, start.UnixMilli(), start.UnixMilli()+10_000))
		}
		slices.Sort(rows)
		compareRows(t, fmt.Sprintf("seed %d q12 p=%d", seed, p), o.rows(), rows)
	}
}

func windowIn(r *engine.Running) int64 {
	for _, om := range r.Metrics().Operators {
		if om.Name == "q12-windows" {
			return om.RecordsIn
		}
	}
	return 0
}
