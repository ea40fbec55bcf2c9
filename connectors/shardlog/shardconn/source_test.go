package shardconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// The connector tests put records "k<key>/<seq>" with partition key
// "k<key>": seq counts each key's records from 0, so every record is
// identified, and per-key order is checkable anywhere downstream.

type keySeq struct {
	Key string
	Seq int
}

func parseKeySeq(data []byte) (keySeq, error) {
	s := string(data)
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return keySeq{}, fmt.Errorf("no '/' in %q", s)
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return keySeq{}, err
	}
	return keySeq{s[:i], n}, nil
}

func openTestLog(t testing.TB, o shardlog.Options) *shardlog.Log {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = -1
	}
	if o.Sync == shardlog.SyncAlways {
		o.Sync = shardlog.SyncNone // the tests are about order and positions, not fsync
	}
	l, err := shardlog.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// producer puts records of nKeys keys, each key's in order.
type producer struct {
	l      *shardlog.Log
	stream shardlog.StreamRef
	nKeys  int
	mu     sync.Mutex
	seq    map[string]int
	rng    *rand.Rand
}

func newProducer(l *shardlog.Log, stream string, nKeys int, seed uint64) *producer {
	return &producer{l: l, stream: shardlog.StreamRef{Name: stream}, nKeys: nKeys, seq: map[string]int{}, rng: rand.New(rand.NewPCG(seed, 3))}
}

// put stores n records in batches, retrying throttled ones in order.
func (p *producer) put(t testing.TB, n int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for n > 0 {
		m := min(n, 1+p.rng.IntN(200))
		// One record per key per batch keeps each key's order whatever
		// the shard does with the batch.
		seen := map[string]bool{}
		var es []shardlog.PutEntry
		for len(es) < m {
			k := "k" + strconv.Itoa(p.rng.IntN(p.nKeys))
			if seen[k] {
				if len(seen) == p.nKeys {
					break
				}
				continue
			}
			seen[k] = true
			es = append(es, shardlog.PutEntry{PartitionKey: k, Data: []byte(k + "/" + strconv.Itoa(p.seq[k]))})
			p.seq[k]++
		}
		res, err := p.l.PutRecords(context.Background(), p.stream, es, nil)
		if err != nil {
			t.Error(err)
			return
		}
		for _, r := range res {
			if r.ErrorCode != "" {
				t.Errorf("put: %s %v", r.ErrorCode, r.Err)
				return
			}
		}
		n -= len(es)
	}
}

func (p *producer) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.seq {
		n += c
	}
	return n
}

func (p *producer) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.seq)
}

// checkOnceInOrder checks that got holds each key's records 0..want[k]-1
// exactly once, in order.
func checkOnceInOrder(t *testing.T, got []keySeq, want map[string]int) {
	t.Helper()
	next := map[string]int{}
	for i, g := range got {
		if g.Seq != next[g.Key] {
			t.Fatalf("record %d: %s seq %d, want %d (%d records)", i, g.Key, g.Seq, next[g.Key], len(got))
		}
		next[g.Key]++
	}
	for k, n := range want {
		if next[k] != n {
			t.Fatalf("key %s: %d records, want %d", k, next[k], n)
		}
	}
	if len(next) != len(want) {
		t.Fatalf("%d keys, want %d", len(next), len(want))
	}
}

// reshardWithLineage puts records around a split, a merge and a uniform
// rescale so that the stream has closed parents with children.
func reshardWithLineage(t *testing.T, l *shardlog.Log, p *producer, per int) {
	t.Helper()
	ref := p.stream
	p.put(t, per)
	if err := l.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(4)[0].Midpoint().String()); err != nil {
		t.Fatal(err)
	}
	p.put(t, per)
	// Merge shards 1 and 2 (adjacent, both open).
	if err := l.MergeShards(ref, "shardId-000000000001", "shardId-000000000002"); err != nil {
		t.Fatal(err)
	}
	p.put(t, per)
	if _, err := l.UpdateShardCount(ref, 3, shardlog.UniformScaling); err != nil {
		t.Fatal(err)
	}
	p.put(t, per)
}

// keyedPass is a keyed identity: it routes each key's records through one
// subtask, as a keyed operator of a real job does.
type keyedPass struct{}

func (keyedPass) ProcessElement(v keySeq, ctx *engine.KeyedContext[string, keySeq]) error {
	ctx.Emit(v)
	return nil
}

func parseRecords(s *engine.Stream[SourceRecord]) *engine.Stream[keySeq] {
	return engine.Map(s, "parse", func(r SourceRecord) keySeq {
		v, err := parseKeySeq(r.Data)
		if err != nil || v.Key != r.PartitionKey {
			panic(fmt.Sprintf("record %s: %q under key %s: %v", r.SequenceNumber, r.Data, r.PartitionKey, err))
		}
		return v
	})
}

// TestSourceEveryRecordOnceInKeyOrder reads a stream with closed parents and
// their children at parallelism 1 (no checkpoints) and 3 (checkpoints):
// every record once, each key's in order, through a keyed operator.
func TestSourceEveryRecordOnceInKeyOrder(t *testing.T) {
	for _, p := range []int{1, 3} {
		t.Run(fmt.Sprintf("p%d", p), func(t *testing.T) {
			l := openTestLog(t, shardlog.Options{})
			if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 4}); err != nil {
				t.Fatal(err)
			}
			prod := newProducer(l, "s", 40, 1)
			reshardWithLineage(t, l, prod, 1500)
			cfg := engine.Config{Parallelism: p, BatchSize: 64}
			if p > 1 {
				cfg.Checkpoint = engine.CheckpointConfig{Interval: 5 * time.Millisecond, Dir: t.TempDir()}
			}
			src, err := NewSource(l, SourceOptions{Stream: shardlog.StreamRef{Name: "s"}, Bounded: true, Checkpointed: p > 1})
			if err != nil {
				t.Fatal(err)
			}
			j := engine.NewJob("read", cfg)
			recs := parseRecords(engine.SourceOf(j, "log", src, engine.NoWatermarks[SourceRecord]()))
			out := engine.Collect(engine.KeyedProcess(engine.KeyBy(recs, func(v keySeq) string { return v.Key }), "pass",
				engine.KeyedProcessFunction[string, keySeq, keySeq](keyedPass{})), "out")
			if err := j.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkOnceInOrder(t, out.Values(), prod.counts())
		})
	}
}

// TestSourceReshardingWhileRunning splits, merges and rescales the stream
// while an unbounded job reads it at parallelism 3 with checkpoints: the
// committed output holds every record once, each key's in order.
func TestSourceReshardingWhileRunning(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	prod := newProducer(l, "s", 30, 2)
	src, err := NewSource(l, SourceOptions{Stream: shardlog.StreamRef{Name: "s"}, Checkpointed: true, DiscoveryInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("live", engine.Config{Parallelism: 3, BatchSize: 32,
		Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Millisecond, Dir: t.TempDir()}})
	recs := parseRecords(engine.SourceOf(j, "log", src, engine.NoWatermarks[SourceRecord]()))
	// The job lags behind the producer, so that shards are closed while
	// their tails are still unread.
	recs = engine.Map(recs, "pace", func(v keySeq) keySeq {
		time.Sleep(20 * time.Microsecond)
		return v
	})
	out := engine.CollectExactlyOnce(engine.KeyedProcess(engine.KeyBy(recs, func(v keySeq) string { return v.Key }), "pass",
		engine.KeyedProcessFunction[string, keySeq, keySeq](keyedPass{})), "out")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ref := shardlog.StreamRef{Name: "s"}
	// openAt is the id of the i-th open shard in hash key order.
	openAt := func(i int) string {
		sh, err := l.ListShards(ref, "", shardlog.ShardFilter{Type: shardlog.FilterAtLatest})
		if err != nil || i >= len(sh) {
			return fmt.Sprintf("(no open shard %d: %v)", i, err)
		}
		sort.Slice(sh, func(a, b int) bool { return sh[a].HashKeyRange.Start.Cmp(sh[b].HashKeyRange.Start) < 0 })
		return sh[i].ShardID
	}
	steps := []func() error{
		func() error {
			return l.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(2)[0].Midpoint().String())
		},
		func() error { _, err := l.UpdateShardCount(ref, 4, shardlog.UniformScaling); return err },
		func() error { return l.MergeShards(ref, openAt(1), openAt(2)) },
		func() error {
			return l.SplitShard(ref, openAt(2), shardlog.UniformRanges(4)[3].Midpoint().String())
		},
		func() error { _, err := l.UpdateShardCount(ref, 2, shardlog.UniformScaling); return err },
	}
	for _, step := range steps {
		prod.put(t, 700)
		time.Sleep(15 * time.Millisecond)
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	prod.put(t, 700)
	total := prod.total()
	deadline := time.Now().Add(30 * time.Second)
	for len(out.Committed()) < total && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Cancel()
	if err := r.Wait(); !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatalf("job: %v", err)
	}
	shards, _ := l.ListShards(ref, "", shardlog.ShardFilter{})
	t.Logf("%d records, %d shards in the end", total, len(shards))
	checkOnceInOrder(t, out.CommittedValues(), prod.counts())
}

// failer fails the job at chosen record counts, once each.
type failer struct {
	n      atomic.Int64
	points []int64
	fired  atomic.Int64
}

func (f *failer) check() {
	c := f.n.Add(1)
	for _, p := range f.points {
		if c == p {
			f.fired.Add(1)
			panic(fmt.Sprintf("injected failure at record %d", c))
		}
	}
}

// TestSourceRestoreAtOtherParallelism stops a bounded job at parallelism 2
// after some checkpoints, adds records (beyond the bound, so never read),
// and resumes it at parallelism 3 with injected failures and restarts: the
// committed output is the input exactly once, each key's in order.
func TestSourceRestoreAtOtherParallelism(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 11))
	l := openTestLog(t, shardlog.Options{})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 4}); err != nil {
		t.Fatal(err)
	}
	prod := newProducer(l, "s", 25, seed)
	reshardWithLineage(t, l, prod, 1200)
	want := prod.counts()
	total := prod.total()
	dir := t.TempDir()
	tx := engine.NewTxCollect[keySeq]()
	build := func(p int, slow bool, f *failer) *engine.Job {
		src, err := NewSource(l, SourceOptions{Stream: shardlog.StreamRef{Name: "s"}, Bounded: true, Checkpointed: true})
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("rescale", engine.Config{Parallelism: p, BatchSize: 16, MaxParallelism: 32,
			Checkpoint: engine.CheckpointConfig{Interval: 3 * time.Millisecond, Dir: dir, Resume: true},
			Restart:    engine.FixedDelay(10, time.Millisecond)})
		recs := parseRecords(engine.SourceOf(j, "log", src, engine.NoWatermarks[SourceRecord]()))
		var n atomic.Int64
		recs = engine.Map(recs, "pace", func(v keySeq) keySeq {
			if slow && n.Add(1) > 800 {
				time.Sleep(300 * time.Microsecond)
			}
			if f != nil {
				f.check()
			}
			return v
		})
		engine.SinkTo(engine.KeyedProcess(engine.KeyBy(recs, func(v keySeq) string { return v.Key }), "pass",
			engine.KeyedProcessFunction[string, keySeq, keySeq](keyedPass{})), "out", tx)
		return j
	}
	r1, err := build(2, true, nil).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if id, _ := r1.LatestCheckpoint(); id >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r1.Cancel()
	if err := r1.Wait(); !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatalf("first run: %v", err)
	}
	first := len(tx.Committed())
	if first == 0 || first >= total {
		t.Fatalf("first run committed %d of %d records: not mid-stream", first, total)
	}
	// Records after the bound: the restored job must not read them.
	prod.put(t, 500)
	f := &failer{}
	for i := 0; i < 3; i++ {
		f.points = append(f.points, 1+rng.Int64N(int64(total-first)))
	}
	r2, err := build(3, false, f).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Wait(); err != nil {
		t.Fatalf("seed %d: second run: %v", seed, err)
	}
	if evs := r2.Events(); len(evs) == 0 || evs[0].Kind != engine.EventRestored {
		t.Fatalf("second run did not restore: %v", evs)
	}
	t.Logf("first run committed %d of %d; %d failures injected, %d restarts", first, total, f.fired.Load(), r2.Attempt())
	checkOnceInOrder(t, tx.CommittedValues(), want)
}

// windowCount counts records per key in tumbling event-time windows in
// keyed state and emits each window's count when the watermark passes it.
type windowCount struct {
	size   int64
	counts *state.MapState[int64, int64] // window end -> records
}

type winOut struct {
	Key   string
	Start int64
	Count int64
}

func (w *windowCount) Open(rc *engine.RuntimeContext) error {
	var err error
	w.counts, err = engine.GetMapState[int64, int64](rc, "counts")
	return err
}

func (w *windowCount) ProcessElement(r SourceRecord, ctx *engine.KeyedContext[string, winOut]) error {
	ts := ctx.Timestamp()
	end := ts - ts%w.size + w.size - 1
	if end <= ctx.CurrentWatermark() {
		return fmt.Errorf("late record %s at %d behind watermark %d", r.SequenceNumber, ts, ctx.CurrentWatermark())
	}
	n, _, err := w.counts.Get(end)
	if err != nil {
		return err
	}
	if err := w.counts.Put(end, n+1); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(end)
}

func (w *windowCount) OnTimer(ts int64, ctx *engine.KeyedContext[string, winOut]) error {
	n, _, err := w.counts.Get(ts)
	if err != nil {
		return err
	}
	ctx.Emit(winOut{Key: ctx.CurrentKey(), Start: ts + 1 - w.size, Count: n})
	return w.counts.Remove(ts)
}

// TestSourceEventTimeWindowsOverArrivalTime puts records at times set by
// the log's fake clock and counts them in one-second windows of arrival
// time, with per-shard watermarks: every window holds exactly the records
// that arrived in it, and none is late.
func TestSourceEventTimeWindowsOverArrivalTime(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := shardlog.NewManualClock(start)
	l := openTestLog(t, shardlog.Options{Clock: clk})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	want := map[winOut]bool{}
	counts := map[[2]any]int64{}
	rng := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 3000; i++ {
		clk.Advance(time.Duration(1+rng.IntN(7)) * time.Millisecond)
		k := "k" + strconv.Itoa(rng.IntN(12))
		if _, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: "s"}, shardlog.PutEntry{PartitionKey: k, Data: []byte(k)}, ""); err != nil {
			t.Fatal(err)
		}
		ms := clk.Now().UnixMilli()
		counts[[2]any{k, ms - ms%1000}]++
		if i == 1500 {
			if err := l.SplitShard(shardlog.StreamRef{Name: "s"}, "shardId-000000000001", shardlog.UniformRanges(3)[1].Midpoint().String()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, n := range counts {
		want[winOut{Key: k[0].(string), Start: k[1].(int64), Count: n}] = true
	}
	src, err := NewSource(l, SourceOptions{Stream: shardlog.StreamRef{Name: "s"}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("windows", engine.Config{Parallelism: 1, StateBackend: "memory", WatermarkInterval: -1})
	s := engine.SourceOf(j, "log", src, engine.SourceTimestamps[SourceRecord](0))
	out := engine.Collect(engine.KeyedProcess(engine.KeyBy(s, func(r SourceRecord) string { return r.PartitionKey }), "count",
		engine.KeyedProcessFunction[string, SourceRecord, winOut](&windowCount{size: 1000})), "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.Values()
	if len(got) != len(want) {
		t.Fatalf("%d windows, want %d", len(got), len(want))
	}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("window %+v not expected", g)
		}
	}
}

// readAll drives one reader with a test output until it returns io.EOF or
// stop says so.
func readAll(t *testing.T, r engine.SourceReader[SourceRecord], out *engine.SourceOutput[SourceRecord], stop func() bool) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for !stop() {
		err := r.Read(ctx, out)
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("reader made no progress")
		}
	}
}

func values(rs []SourceRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Data))
	}
	return out
}

// TestSourceStartPositions checks each iterator type on a fresh start.
func TestSourceStartPositions(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := shardlog.NewManualClock(start)
	l := openTestLog(t, shardlog.Options{Clock: clk})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	var seqs []shardlog.SequenceNumber
	for i := 0; i < 10; i++ {
		clk.Advance(time.Second)
		r, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "k", Data: []byte(strconv.Itoa(i))}, "")
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r.SequenceNumber)
	}
	cases := []struct {
		name string
		opts SourceOptions
		want string
	}{
		{"trim-horizon", SourceOptions{}, "0 1 2 3 4 5 6 7 8 9"},
		{"latest", SourceOptions{Start: shardlog.StartPosition{Type: shardlog.Latest}}, ""},
		{"at-timestamp", SourceOptions{Start: shardlog.StartPosition{Type: shardlog.AtTimestamp, Timestamp: start.Add(7 * time.Second)}}, "6 7 8 9"},
		{"at-sequence", SourceOptions{Start: shardlog.StartPosition{Type: shardlog.AtSequenceNumber, SequenceNumber: seqs[3].String()}}, "3 4 5 6 7 8 9"},
		{"after-sequence", SourceOptions{Start: shardlog.StartPosition{Type: shardlog.AfterSequenceNumber, SequenceNumber: seqs[3].String()}}, "4 5 6 7 8 9"},
		{"shard-starts", SourceOptions{ShardStarts: map[string]shardlog.StartPosition{"shardId-000000000000": {Type: shardlog.AfterSequenceNumber, SequenceNumber: seqs[8].String()}}}, "9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Stream, c.opts.Bounded = ref, true
			src, err := NewSource(l, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			r, err := src.Open(context.Background(), engine.SourceInfo{Parallelism: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			out, got := engine.NewTestSourceOutput[SourceRecord](4)
			readAll(t, r, out, func() bool { return false })
			if g := strings.Join(values(got()), " "); g != c.want {
				t.Fatalf("read %q, want %q", g, c.want)
			}
		})
	}
	// LATEST, unbounded: only what is put after the start.
	src, err := NewSource(l, SourceOptions{Stream: ref, Start: shardlog.StartPosition{Type: shardlog.Latest}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(context.Background(), engine.SourceInfo{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, got := engine.NewTestSourceOutput[SourceRecord](4)
	if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "k", Data: []byte("new")}, ""); err != nil {
		t.Fatal(err)
	}
	readAll(t, r, out, func() bool { return len(got()) > 0 })
	if g := strings.Join(values(got()), " "); g != "new" {
		t.Fatalf("LATEST read %q", g)
	}
	// Bad options are refused up front.
	for _, o := range []SourceOptions{
		{},
		{Stream: ref, Start: shardlog.StartPosition{Type: "NEWEST"}},
		{Stream: ref, Start: shardlog.StartPosition{Type: shardlog.AtTimestamp}},
		{Stream: ref, Start: shardlog.StartPosition{Type: shardlog.AtSequenceNumber, SequenceNumber: "12"}},
		{Stream: ref, ShardStarts: map[string]shardlog.StartPosition{"shardId-000000000001": {Type: shardlog.AtSequenceNumber, SequenceNumber: seqs[0].String()}}},
		{Stream: ref, IdleWait: time.Second},
	} {
		if _, err := NewSource(l, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	src, _ = NewSource(l, SourceOptions{Stream: ref, ShardStarts: map[string]shardlog.StartPosition{"shardId-000000000009": {Type: shardlog.TrimHorizon}}})
	if _, err := src.Open(context.Background(), engine.SourceInfo{Parallelism: 1}); err == nil || !strings.Contains(err.Error(), "shardId-000000000009") {
		t.Fatalf("unknown shard in ShardStarts: %v", err)
	}
}

// TestSourceReaderSnapshotAndRestore reads part of a stream with two
// readers, snapshots them, and restores the positions into three readers
// of a new source: together they read exactly the rest.
func TestSourceReaderSnapshotAndRestore(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 5}); err != nil {
		t.Fatal(err)
	}
	prod := newProducer(l, "s", 20, 9)
	prod.put(t, 2000)
	src, err := NewSource(l, SourceOptions{Stream: ref, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var positions []engine.SourcePosition
	var first []SourceRecord
	for sub := 0; sub < 2; sub++ {
		r, err := src.Open(ctx, engine.SourceInfo{Subtask: sub, Parallelism: 2})
		if err != nil {
			t.Fatal(err)
		}
		out, got := engine.NewTestSourceOutput[SourceRecord](16)
		for i := 0; i < 20; i++ {
			if err := r.Read(ctx, out); err != nil {
				t.Fatal(err)
			}
		}
		pos, err := r.(engine.CheckpointedReader).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, engine.SourcePosition{Subtask: sub, Parallelism: 2, Data: pos})
		first = append(first, got()...)
		r.Close()
	}
	cancel()
	// Not read by the first readers: beyond the bound.
	prod.put(t, 300)
	src2, _ := NewSource(l, SourceOptions{Stream: ref, Bounded: true})
	var rest []SourceRecord
	for sub := 0; sub < 3; sub++ {
		r, err := src2.Open(context.Background(), engine.SourceInfo{Subtask: sub, Parallelism: 3, Restored: positions})
		if err != nil {
			t.Fatal(err)
		}
		out, got := engine.NewTestSourceOutput[SourceRecord](16)
		readAll(t, r, out, func() bool { return false })
		rest = append(rest, got()...)
		r.Close()
	}
	if len(first) == 0 || len(first) >= 2000 {
		t.Fatalf("first readers read %d records", len(first))
	}
	seen := map[string]int{}
	for _, r := range append(first, rest...) {
		seen[string(r.Data)]++
	}
	if len(seen) != 2000 {
		t.Fatalf("%d distinct records, want 2000", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s read %d times", k, n)
		}
	}
	// Each shard's records in sequence order, and records carry their
	// shard.
	last := map[string]shardlog.SequenceNumber{}
	for _, r := range append(first, rest...) {
		if shardlog.ShardID(r.SequenceNumber.Shard) != r.ShardID {
			t.Fatalf("record %s says shard %s", r.SequenceNumber, r.ShardID)
		}
		if p, ok := last[r.ShardID]; ok && p.Pos >= r.SequenceNumber.Pos {
			t.Fatalf("%s: %s after %s", r.ShardID, r.SequenceNumber, p)
		}
		last[r.ShardID] = r.SequenceNumber
	}
	// A re-created stream is refused.
	if err := l.DeleteStream(ref, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 5}); err != nil {
		t.Fatal(err)
	}
	src3, _ := NewSource(l, SourceOptions{Stream: ref})
	if _, err := src3.Open(context.Background(), engine.SourceInfo{Parallelism: 2, Restored: positions}); err == nil || !strings.Contains(err.Error(), "re-created") {
		t.Fatalf("restore into a re-created stream: %v", err)
	}
}

func TestPositionsEncoding(t *testing.T) {
	ents := []posEntry{{idx: 3, pos: 17, bound: noBound}, {idx: 0, finished: true, bound: noBound}, {idx: 9, pos: 1 << 40, bound: 1<<40 + 5}}
	b := encodePositions(1234567, true, slices.Clone(ents))
	created, bounded, got, err := decodePositions(b)
	if err != nil || created != 1234567 || !bounded {
		t.Fatalf("decode: %v %d %v", err, created, bounded)
	}
	slices.SortFunc(ents, func(a, b posEntry) int { return int(a.idx) - int(b.idx) })
	if !slices.Equal(got, ents) {
		t.Fatalf("got %+v, want %+v", got, ents)
	}
	// Every truncation and a wrong version are refused, never a panic.
	for i := 0; i < len(b); i++ {
		if _, _, _, err := decodePositions(b[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", i)
		}
	}
	if _, _, _, err := decodePositions(append([]byte{9}, b[1:]...)); err == nil || !strings.Contains(err.Error(), "format 9") {
		t.Fatalf("version 9: %v", err)
	}
	if _, _, _, err := decodePositions(append(slices.Clone(b), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func FuzzDecodePositions(f *testing.F) {
	f.Add(encodePositions(5, false, []posEntry{{idx: 1, pos: 2, bound: noBound}}))
	f.Add([]byte{1, 0, 0, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		created, bounded, ents, err := decodePositions(b)
		if err != nil {
			return
		}
		again := encodePositions(created, bounded, slices.Clone(ents))
		c2, b2, e2, err := decodePositions(again)
		slices.SortStableFunc(ents, func(a, b posEntry) int { return int(a.idx) - int(b.idx) })
		if err != nil || c2 != created || b2 != bounded || !slices.Equal(e2, ents) {
			t.Fatalf("re-encoding changed the positions")
		}
	})
}

// ev is the decoding test's event: key, sequence and its own event time.
type ev struct {
	Key string
	Seq int
	TS  int64
}

func decodeEv(r *shardlog.Record) (ev, error) {
	parts := strings.Split(string(r.Data), "/")
	if len(parts) != 3 {
		return ev{}, fmt.Errorf("want key/seq/ts, got %q", r.Data)
	}
	seq, err := strconv.Atoi(parts[1])
	if err != nil {
		return ev{}, err
	}
	ts, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return ev{}, err
	}
	return ev{parts[0], seq, ts}, nil
}

// TestDecodingSource: decoded values carry the event time of their own
// field; records that do not decode go to the DecodeErrors side output,
// counted, without a timestamp; FailOnDecodeError fails the job instead.
func TestDecodingSource(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	var es []shardlog.PutEntry
	bad := map[string]bool{}
	for i := 0; i < 400; i++ {
		k := "k" + strconv.Itoa(i%7)
		d := fmt.Sprintf("%s/%d/%d", k, i, 1_000_000+int64(i)*10)
		if i%37 == 5 {
			d = "garbage-" + strconv.Itoa(i)
			bad[d] = true
		}
		es = append(es, shardlog.PutEntry{PartitionKey: k, Data: []byte(d)})
		if len(es) == 100 {
			if _, err := l.PutRecords(context.Background(), ref, es, nil); err != nil {
				t.Fatal(err)
			}
			es = es[:0]
		}
	}
	src, err := NewDecodingSource(l, SourceOptions{Stream: ref, Bounded: true}, decodeEv)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("decode", engine.Config{Parallelism: 2})
	s := SourceOfDecoded(j, "log", src, engine.BoundedOutOfOrderness(time.Second, func(e ev) int64 { return e.TS }))
	good := engine.Collect(s, "good")
	errs := engine.Collect(engine.SideOutput(s, DecodeErrors), "errors")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, rec := range good.Records() {
		if rec.Time != rec.Value.TS {
			t.Fatalf("%+v has timestamp %d", rec.Value, rec.Time)
		}
	}
	if n := len(good.Records()); n != 400-len(bad) {
		t.Fatalf("%d decoded, want %d", n, 400-len(bad))
	}
	if n := len(errs.Records()); n != len(bad) || src.Failures() != int64(len(bad)) {
		t.Fatalf("%d errors emitted, %d counted, want %d", n, src.Failures(), len(bad))
	}
	for _, rec := range errs.Records() {
		e := rec.Value
		if !bad[string(e.Data)] || e.Err == nil || rec.Time != engine.NoTimestamp || e.ShardID != shardlog.ShardID(e.SequenceNumber.Shard) || e.PartitionKey == "" {
			t.Fatalf("error record %+v at %d", e, rec.Time)
		}
	}
	var ctr int64
	for _, om := range r.Metrics().Operators {
		ctr += om.Counters[DecodeErrorCounter]
	}
	if ctr != int64(len(bad)) {
		t.Fatalf("counter %s = %d, want %d", DecodeErrorCounter, ctr, len(bad))
	}

	strict, _ := NewDecodingSource(l, SourceOptions{Stream: ref, Bounded: true, FailOnDecodeError: true}, decodeEv)
	j2 := engine.NewJob("strict", engine.Config{})
	engine.Collect(SourceOfDecoded(j2, "log", strict, engine.NoWatermarks[ev]()), "good")
	if err := j2.Execute(context.Background()); err == nil || !strings.Contains(err.Error(), "want key/seq/ts") {
		t.Fatalf("FailOnDecodeError: %v", err)
	}
}

// TestSourceIdleSubtasks: at parallelism 3 a 1-shard stream leaves two
// subtasks without shards; they are idle, so the watermark (and the
// windows) of an unbounded job move with the one shard.
func TestSourceIdleSubtasks(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := shardlog.NewManualClock(start)
	l := openTestLog(t, shardlog.Options{Clock: clk})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		clk.Advance(100 * time.Millisecond)
		if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
			t.Fatal(err)
		}
	}
	src, err := NewSource(l, SourceOptions{Stream: ref})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("idle", engine.Config{Parallelism: 3, StateBackend: "memory", WatermarkInterval: 5 * time.Millisecond})
	s := engine.SourceOf(j, "log", src, engine.SourceTimestamps[SourceRecord](0))
	out := engine.Collect(engine.KeyedProcess(engine.KeyBy(s, func(r SourceRecord) string { return r.PartitionKey }), "count",
		engine.KeyedProcessFunction[string, SourceRecord, winOut](&windowCount{size: 1000})), "out")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Cancel(); r.Wait() }()
	// 5 s of arrivals: windows [0,1) .. [3,4) s are complete once the
	// watermark passes 4 s.
	deadline := time.Now().Add(10 * time.Second)
	for len(out.Values()) < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := out.Values()
	if len(got) < 4 {
		t.Fatalf("%d windows fired while the job runs: idle subtasks hold the watermark back", len(got))
	}
	for i, w := range got[:4] {
		if want := 10 - 1/(i+1); i == 0 && w.Count != 9 || i > 0 && w.Count != 10 {
			t.Fatalf("window %d %+v, want %d records", i, w, want)
		}
	}
}

// TestSourceShardExpiresWhileRead: a closed parent whose retention ends
// while it is being read is done with, and its children are read.
func TestSourceShardExpiresWhileRead(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := shardlog.NewManualClock(start)
	l := openTestLog(t, shardlog.Options{Clock: clk})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	put := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "k" + strconv.Itoa(i), Data: []byte(prefix + strconv.Itoa(i))}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("old", 100)
	clk.Advance(time.Second)
	if err := l.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(1)[0].Midpoint().String()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(23 * time.Hour)
	put("new", 50)
	src, err := NewSource(l, SourceOptions{Stream: ref, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(context.Background(), engine.SourceInfo{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, got := engine.NewTestSourceOutput[SourceRecord](4)
	for len(got()) < 8 {
		if err := r.Read(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Hour)
	if err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if l.HasShard(ref, "shardId-000000000000") {
		t.Fatal("retention kept the parent")
	}
	readAll(t, r, out, func() bool { return false })
	n := 0
	for _, v := range values(got()) {
		if strings.HasPrefix(v, "new") {
			n++
		}
	}
	if n != 50 {
		t.Fatalf("read %d of the children's 50 records", n)
	}
}

// TestSourceRestoreThenReshard: an unbounded source restored from positions
// taken before a split and a merge finds the new shards, reads each parent
// to its end first, and reads everything exactly once.
func TestSourceRestoreThenReshard(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	prod := newProducer(l, "s", 15, 4)
	prod.put(t, 900)
	src, _ := NewSource(l, SourceOptions{Stream: ref})
	ctx, cancel := context.WithCancel(context.Background())
	r, err := src.Open(ctx, engine.SourceInfo{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, got := engine.NewTestSourceOutput[SourceRecord](8)
	for i := 0; i < 30; i++ {
		if err := r.Read(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	pos, _ := r.(engine.CheckpointedReader).SnapshotPosition()
	first := got()
	r.Close()
	cancel()
	if err := l.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(3)[0].Midpoint().String()); err != nil {
		t.Fatal(err)
	}
	prod.put(t, 300)
	if err := l.MergeShards(ref, "shardId-000000000001", "shardId-000000000002"); err != nil {
		t.Fatal(err)
	}
	prod.put(t, 300)
	src2, _ := NewSource(l, SourceOptions{Stream: ref})
	r2, err := src2.Open(context.Background(), engine.SourceInfo{Parallelism: 1, Restored: []engine.SourcePosition{{Parallelism: 1, Data: pos}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	out2, got2 := engine.NewTestSourceOutput[SourceRecord](8)
	total := prod.total()
	readAll(t, r2, out2, func() bool { return len(first)+len(got2()) >= total })
	var all []keySeq
	for _, rec := range append(first, got2()...) {
		v, err := parseKeySeq(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, v)
	}
	checkOnceInOrder(t, all, prod.counts())
}
