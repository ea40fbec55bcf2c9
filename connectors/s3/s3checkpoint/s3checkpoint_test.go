package s3checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3checkpoint"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/state"
)

func TestMain(m *testing.M) { s3test.Main(m) }

func openBucket(t *testing.T, cfg s3.Config) *s3.Bucket {
	t.Helper()
	b, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newStorage(t *testing.T, b *s3.Bucket, prefix string) *s3checkpoint.Storage {
	t.Helper()
	st, err := s3checkpoint.New(b, s3checkpoint.Options{Prefix: prefix, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// ev is an event of the window job: each key lives in one partition, in
// event-time order.
type ev struct {
	Key string
	TS  int64
}

func makeEvents(rng *rand.Rand, nParts, n, keysPer int) [][]ev {
	parts := make([][]ev, nParts)
	for p := range parts {
		ts := int64(0)
		for range n {
			ts += 1 + rng.Int64N(10)
			parts[p] = append(parts[p], ev{Key: fmt.Sprintf("p%d-k%d", p, rng.IntN(keysPer)), TS: ts})
		}
	}
	return parts
}

type winOut = operators.Windowed[string, int64]

// windowJob counts each key's events in tumbling 100 ms windows of event
// time; fail is called for every event (a panic there fails the task).
func windowJob(cfg engine.Config, parts [][]ev, fail func(), sink engine.Sink[winOut]) *engine.Job {
	j := engine.NewJob("s3-window", cfg)
	src := engine.FromPartitions(j, "events", parts, engine.Monotonous(func(e ev) int64 { return e.TS }))
	var n atomic.Int64
	m := engine.Map(src, "maybe-fail", func(e ev) ev {
		fail()
		if n.Add(1)%4 == 0 {
			// Spread the input over several checkpoint intervals.
			time.Sleep(time.Millisecond)
		}
		return e
	})
	w := operators.Window(engine.KeyBy(m, func(e ev) string { return e.Key }), "count-100ms", operators.Tumbling(100*time.Millisecond))
	engine.SinkTo(operators.AggregateWindowed(w, operators.Count[ev]()), "sink", sink)
	return j
}

func countOf(vs []winOut) map[string]int {
	out := map[string]int{}
	for _, v := range vs {
		out[fmt.Sprint(v)]++
	}
	return out
}

// TestWindowJobWithFailuresExactlyOnce checkpoints a keyed window job to
// S3 while a failure injector fails its tasks after the first completed
// checkpoint; every restart restores from S3, and the committed output
// equals a failure-free run's.
func TestWindowJobWithFailuresExactlyOnce(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 20))
	b := openBucket(t, s3test.Config(t))
	parts := makeEvents(rng, 3, 1500+rng.IntN(1000), 1+rng.IntN(6))
	total := int64(0)
	for _, p := range parts {
		total += int64(len(p))
	}
	p := 1 + rng.IntN(3)

	ref := engine.NewTxCollect[winOut]()
	if err := windowJob(engine.Config{Parallelism: p, MaxParallelism: 32}, parts, func() {}, ref).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := countOf(ref.CommittedValues())

	in := enginetest.RandomInjector(rng, total/4, 1+rng.IntN(3)).ArmLater()
	st := newStorage(t, b, "jobs/window")
	defer st.Close()
	var restoredFromS3 atomic.Int64
	cfg := engine.Config{Parallelism: p, MaxParallelism: 32,
		Checkpoint: engine.CheckpointConfig{Interval: 20 * time.Millisecond, Storage: st, Retain: 2},
		Restart:    engine.FixedDelay(20, time.Millisecond),
		Events: func(e engine.Event) {
			switch e.Kind {
			case engine.EventCheckpointCompleted:
				in.Arm()
			case engine.EventRestored:
				restoredFromS3.Add(1)
			}
		}}
	got := engine.NewTxCollect[winOut]()
	r, err := windowJob(cfg, parts, func() { in.Panic() }, got).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	t.Logf("seed %d: parallelism %d, %d events, %d failures fired, %d restarts, %d restores from S3",
		seed, p, total, in.Fired(), r.Attempt(), restoredFromS3.Load())
	if in.Fired() > 0 && restoredFromS3.Load() == 0 {
		t.Fatalf("seed %d: %d failures but no restore from S3", seed, in.Fired())
	}
	enginetest.CheckExactlyOnce(t, seed, got.CommittedValues(), func(v winOut) string { return fmt.Sprint(v) }, want)
}

// chanSource emits the batches sent on its channel and ends when it is
// closed.
type chanSource struct{ c chan []kv }

type kv struct {
	K string
	V string
}

func (s *chanSource) Open(context.Context, engine.SourceInfo) (engine.SourceReader[kv], error) {
	return s, nil
}

func (s *chanSource) Read(ctx context.Context, out *engine.SourceOutput[kv]) error {
	select {
	case b, ok := <-s.c:
		if !ok {
			return io.EOF
		}
		for _, v := range b {
			out.Collect(v)
		}
	case <-time.After(20 * time.Millisecond):
	case <-ctx.Done():
	}
	return nil
}

func (s *chanSource) Close() error { return nil }

// lastValue keeps each key's latest value.
type lastValue struct{ v *state.ValueState[string] }

func (l *lastValue) Open(rc *engine.RuntimeContext) error {
	var err error
	l.v, err = engine.GetValueState[string](rc, "v")
	return err
}

func (l *lastValue) ProcessElement(e kv, _ *engine.KeyedContext[string, struct{}]) error {
	return l.v.Update(e.V)
}

func batch(rng *rand.Rand, from, to int) []kv {
	out := make([]kv, 0, to-from)
	for i := from; i < to; i++ {
		v := make([]byte, 100)
		for j := range v {
			v[j] = byte('a' + rng.IntN(26))
		}
		out = append(out, kv{K: fmt.Sprintf("key-%08d", i), V: string(v)})
	}
	return out
}

// TestIncrementalCheckpointUploadsOnlyNewFiles: a checkpoint after a few
// updates to ~30 MB of state uploads a small fraction of the bytes it
// holds; the rest are references to the sstables earlier checkpoints
// uploaded. Retention then deletes only unreferenced objects.
func TestIncrementalCheckpointUploadsOnlyNewFiles(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 23))
	b := openBucket(t, s3test.Config(t))
	st := newStorage(t, b, "inc")
	defer st.Close()
	src := &chanSource{c: make(chan []kv)}
	j := engine.NewJob("incremental", engine.Config{Parallelism: 1, StateCacheEntries: 1024,
		Checkpoint: engine.CheckpointConfig{Storage: st, Retain: 1}})
	s := engine.SourceOf(j, "kv", engine.Source[kv](src), engine.WatermarkStrategy[kv]{})
	engine.KeyedProcess(engine.KeyBy(s, func(e kv) string { return e.K }), "last", engine.KeyedProcessFunction[string, kv, struct{}](&lastValue{}))
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const n = 300_000 // ~30 MB of incompressible values
	for i := 0; i < n; i += 10_000 {
		src.c <- batch(rng, i, i+10_000)
	}
	ctx := context.Background()
	id1, err := r.TriggerCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s1 := st.Stats(id1)
	if s1.UploadedBytes < 20<<20 || s1.ReusedBytes != 0 {
		t.Fatalf("first checkpoint: %+v: want everything uploaded (> 20 MiB)", s1)
	}
	// The load's flushes start compactions that rewrite sstables in the
	// background; checkpoint (without changes) until a checkpoint finds
	// them settled, so that the next one measures the changes alone.
	settled := false
	for range 50 {
		id, err := r.TriggerCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Stats(id); s.UploadedBytes*10 < s.UploadedBytes+s.ReusedBytes {
			settled = true
			break
		}
	}
	if !settled {
		t.Fatal("compactions never settled in 50 checkpoints")
	}
	src.c <- batch(rng, 0, 100)
	id2, err := r.TriggerCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s2 := st.Stats(id2)
	t.Logf("seed %d: first checkpoint %d: %+v; after 100 updates, checkpoint %d: %+v", seed, id1, s1, id2, s2)
	total2 := s2.UploadedBytes + s2.ReusedBytes
	if s2.ReusedBytes == 0 || s2.UploadedBytes*4 > total2 {
		t.Fatalf("seed %d: the checkpoint after 100 updates uploaded %d of %d bytes: want under a quarter", seed, s2.UploadedBytes, total2)
	}
	// Retain 1: the earlier checkpoints are gone, and every object left
	// is one the retained checkpoint references (and all of them exist).
	checkOnlyReferenced(t, b, "inc", []int64{id2})
	// A savepoint is self-contained on local disk: no objects referenced,
	// nothing uploaded, so retention can never break it.
	before := st.UploadedBytes()
	sp := filepath.Join(t.TempDir(), "sp")
	if err := r.Savepoint(ctx, sp); err != nil {
		t.Fatal(err)
	}
	m, err := engine.VerifyCheckpoint(sp)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range m.Operators {
		for _, sn := range op.Subtasks {
			if len(sn.Files) > 0 || (sn.Keyed && sn.StateFormat != state.SnapshotFormatFile) {
				t.Fatalf("savepoint subtask %+v: want a self-contained snapshot file", sn)
			}
		}
	}
	if st.UploadedBytes() != before {
		t.Fatalf("the savepoint uploaded %d bytes", st.UploadedBytes()-before)
	}
	close(src.c)
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
}

// checkOnlyReferenced lists the bucket under prefix: the manifests there
// must be exactly ids', and the other objects exactly those they name.
func checkOnlyReferenced(t *testing.T, b *s3.Bucket, prefix string, ids []int64) {
	t.Helper()
	ctx := context.Background()
	keys, err := b.List(ctx, prefix+"/")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, id := range ids {
		mk := fmt.Sprintf("%s/chk-%d/%s", prefix, id, engine.ManifestFile)
		raw, err := b.Get(ctx, mk)
		if err != nil {
			t.Fatal(err)
		}
		m, err := engine.DecodeManifest(raw, mk)
		if err != nil {
			t.Fatal(err)
		}
		want[mk] = true
		for _, op := range m.Operators {
			for _, sn := range op.Subtasks {
				for _, f := range sn.Files {
					want[prefix+"/"+f.Key] = true
				}
			}
		}
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
		if !want[k] {
			t.Errorf("object %s is referenced by no retained checkpoint %v", k, ids)
		}
	}
	for k := range want {
		if !have[k] {
			t.Errorf("object %s of a retained checkpoint is missing", k)
		}
	}
}

// rescaleJob sums values per key from checkpointed partitions.
type sumOut struct {
	Key string
	N   int
	Sum int64
}

type rec struct {
	Key string
	Val int64
}

type runningSum struct {
	n   *state.ValueState[int64]
	sum *state.ValueState[int64]
}

func (r *runningSum) Open(rc *engine.RuntimeContext) error {
	var err error
	if r.sum, err = engine.GetValueState[int64](rc, "sum"); err != nil {
		return err
	}
	r.n, err = engine.GetValueState[int64](rc, "n")
	return err
}

func (r *runningSum) ProcessElement(v rec, ctx *engine.KeyedContext[string, sumOut]) error {
	s, _, err := r.sum.Value()
	if err != nil {
		return err
	}
	n, _, err := r.n.Value()
	if err != nil {
		return err
	}
	s += v.Val
	n++
	ctx.Emit(sumOut{v.Key, int(n), s})
	if err := r.n.Update(n); err != nil {
		return err
	}
	return r.sum.Update(s)
}

func makeRecs(rng *rand.Rand, nParts, n, keysPer int) ([][]rec, map[sumOut]int) {
	parts := make([][]rec, nParts)
	want := map[sumOut]int{}
	sums, ns := map[string]int64{}, map[string]int{}
	for p := range parts {
		for range n {
			k := fmt.Sprintf("p%d-k%d", p, rng.IntN(keysPer))
			v := rng.Int64N(1000)
			sums[k] += v
			ns[k]++
			parts[p] = append(parts[p], rec{k, v})
			want[sumOut{k, ns[k], sums[k]}]++
		}
	}
	return parts, want
}

// TestRestoreOnAnotherMachineAtOtherParallelism stops a job at
// parallelism 2 after a few checkpoints to S3, then resumes it at
// parallelism 3 through a new storage with an empty cache directory (as on
// another machine): the output of both runs together is exactly once.
func TestRestoreOnAnotherMachineAtOtherParallelism(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 21))
	b := openBucket(t, s3test.Config(t))
	parts, want := makeRecs(rng, 4, 3000, 5)
	tx := engine.NewTxCollect[sumOut]()
	build := func(st engine.CheckpointStorage, p int, slow bool) *engine.Job {
		j := engine.NewJob("rescale", engine.Config{Parallelism: p, MaxParallelism: 64,
			Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Millisecond, Storage: st, Resume: true}})
		src := engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[rec]{})
		var n atomic.Int64
		m := engine.Map(src, "slow", func(v rec) rec {
			if n.Add(1)%16 == 0 && slow {
				time.Sleep(time.Millisecond)
			}
			return v
		})
		sums := engine.KeyedProcess(engine.KeyBy(m, func(v rec) string { return v.Key }), "sum", engine.KeyedProcessFunction[string, rec, sumOut](&runningSum{}))
		engine.SinkTo(sums, "sink", tx)
		return j
	}
	st1 := newStorage(t, b, "rescale")
	r1, err := build(st1, 2, true).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for {
		if id, _ := r1.LatestCheckpoint(); id >= 3 {
			break
		}
		select {
		case <-r1.Done():
			t.Fatalf("seed %d: the first run ended before 3 checkpoints: %v", seed, r1.Wait())
		case <-time.After(5 * time.Millisecond):
		}
	}
	r1.Cancel()
	if err := r1.Wait(); !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatalf("first run: %v", err)
	}
	st1.Close()
	first := len(tx.Committed())
	st2 := newStorage(t, b, "rescale")
	defer st2.Close()
	r2, err := build(st2, 3, false).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Wait(); err != nil {
		t.Fatal(err)
	}
	if evs := r2.Events(); len(evs) == 0 || evs[0].Kind != engine.EventRestored {
		t.Fatalf("the second run did not restore: %v", evs)
	}
	t.Logf("seed %d: first run committed %d records, both %d", seed, first, len(tx.Committed()))
	enginetest.CheckExactlyOnce(t, seed, tx.CommittedValues(), func(v sumOut) sumOut { return v }, want)
}

// faultProxy forwards to an S3 server and, while failing, cuts every
// connection instead.
type faultProxy struct {
	failing atomic.Bool
	srv     *http.Server
	addr    string
}

func startFaultProxy(t *testing.T, endpoint string) *faultProxy {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	fp := &faultProxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fp.addr = "http://" + ln.Addr().String()
	fp.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fp.failing.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			http.Error(w, "cut", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go fp.srv.Serve(ln)
	t.Cleanup(func() { fp.srv.Close() })
	return fp
}

// TestS3OutageDeclinesCheckpointsJobKeepsRunning cuts S3 off while the
// job runs: checkpoints fail (declined, the job is not restarted), and
// once S3 is back the next one completes; the output is exactly once.
func TestS3OutageDeclinesCheckpointsJobKeepsRunning(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 22))
	cfg := s3test.Config(t)
	fp := startFaultProxy(t, cfg.Endpoint)
	cfg.Endpoint = fp.addr
	b := openBucket(t, cfg)
	st, err := s3checkpoint.New(b, s3checkpoint.Options{Prefix: "outage", CacheDir: t.TempDir(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	parts, want := makeRecs(rng, 2, 2000, 4)
	src := &gatedParts{parts: parts, gate: make(chan struct{})}
	var failed, completedAfter atomic.Int64
	var mu sync.Mutex
	var outageOver bool
	j := engine.NewJob("outage", engine.Config{Parallelism: 2, MaxParallelism: 16,
		Checkpoint: engine.CheckpointConfig{Storage: st},
		Events: func(e engine.Event) {
			switch e.Kind {
			case engine.EventCheckpointFailed:
				failed.Add(1)
			case engine.EventCheckpointCompleted:
				mu.Lock()
				if outageOver {
					completedAfter.Add(1)
				}
				mu.Unlock()
			}
		}})
	s := engine.SourceOf(j, "parts", engine.Source[rec](src), engine.WatermarkStrategy[rec]{})
	tx := engine.NewTxCollect[sumOut]()
	engine.SinkTo(engine.KeyedProcess(engine.KeyBy(s, func(v rec) string { return v.Key }), "sum", engine.KeyedProcessFunction[string, rec, sumOut](&runningSum{})), "sink", tx)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.TriggerCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	fp.failing.Store(true)
	_, err = r.TriggerCheckpoint(ctx)
	if err == nil {
		t.Fatal("a checkpoint with S3 cut off completed")
	}
	t.Logf("checkpoint during the outage: %v", err)
	fp.failing.Store(false)
	mu.Lock()
	outageOver = true
	mu.Unlock()
	if _, err := r.TriggerCheckpoint(ctx); err != nil {
		t.Fatalf("checkpoint after the outage: %v", err)
	}
	close(src.gate)
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if r.Attempt() != 0 {
		t.Fatalf("the job restarted %d times: a failed checkpoint must not fail it", r.Attempt())
	}
	if failed.Load() == 0 || completedAfter.Load() == 0 {
		t.Fatalf("failed checkpoints %d, completed after the outage %d", failed.Load(), completedAfter.Load())
	}
	enginetest.CheckExactlyOnce(t, seed, tx.CommittedValues(), func(v sumOut) sumOut { return v }, want)
	// The failed checkpoint left nothing behind.
	ids, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	checkOnlyReferenced(t, b, "outage", ids[:min(len(ids), 3)])
	// A restore while S3 is cut off is unavailable, not corrupt: the
	// engine retries the restart instead of falling back.
	fp.failing.Store(true)
	if _, err := st.Open(ids[0]); !errors.Is(err, engine.ErrCheckpointUnavailable) {
		t.Fatalf("open with S3 cut off: %v, want ErrCheckpointUnavailable", err)
	}
	fp.failing.Store(false)
}

// gatedParts emits the first half of each partition, then waits for the
// gate before the rest (no positions: the test never restarts it).
type gatedParts struct {
	parts [][]rec
	gate  chan struct{}
}

func (g *gatedParts) Open(_ context.Context, info engine.SourceInfo) (engine.SourceReader[rec], error) {
	var mine [][]rec
	for i := info.Subtask; i < len(g.parts); i += info.Parallelism {
		mine = append(mine, g.parts[i])
	}
	return &gatedReader{g: g, parts: mine}, nil
}

type gatedReader struct {
	g     *gatedParts
	parts [][]rec
	half  bool
}

func (r *gatedReader) Read(ctx context.Context, out *engine.SourceOutput[rec]) error {
	if !r.half {
		r.half = true
		for _, p := range r.parts {
			for _, v := range p[:len(p)/2] {
				out.Collect(v)
			}
		}
		return nil
	}
	select {
	case <-r.g.gate:
	case <-time.After(20 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return nil
	}
	for _, p := range r.parts {
		for _, v := range p[len(p)/2:] {
			out.Collect(v)
		}
	}
	return io.EOF
}

func (r *gatedReader) Close() error { return nil }

// TestCrashBeforeManifest uploads a checkpoint's files without its
// manifest (a crash between the two): a new storage lists no such
// checkpoint, refuses to open it, and its first Begin deletes the orphans
// while keeping the complete checkpoint's objects.
func TestCrashBeforeManifest(t *testing.T) {
	b := openBucket(t, s3test.Config(t))
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	st := newStorage(t, b, "crash")
	if _, err := st.Begin(1); err != nil {
		t.Fatal(err)
	}
	f1 := []engine.SnapshotFile{{Path: "op/0/000001.sst", Local: write("a.sst", "sst-one"), Size: 7, CRC32C: crcOf("sst-one"), Immutable: true},
		{Path: "op/0/MANIFEST-000001", Local: write("m1", "manifest-one")}}
	files1, err := st.Upload(ctx, 1, "op/0", f1)
	if err != nil {
		t.Fatal(err)
	}
	m := manifestWith(t, 1, files1)
	if err := st.Complete(1, m); err != nil {
		t.Fatal(err)
	}
	// Checkpoint 2: a new sstable, the old one referenced, then a crash.
	if _, err := st.Begin(2); err != nil {
		t.Fatal(err)
	}
	f2 := append(slices.Clone(f1[:1]), engine.SnapshotFile{Path: "op/0/000002.sst", Local: write("b.sst", "sst-two!"), Size: 8, CRC32C: crcOf("sst-two!"), Immutable: true},
		engine.SnapshotFile{Path: "op/0/MANIFEST-000002", Local: write("m2", "manifest-two")})
	files2, err := st.Upload(ctx, 2, "op/0", f2)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Stats(2); s.ReusedFiles != 1 || s.UploadedFiles != 2 {
		t.Fatalf("checkpoint 2: %+v, want 1 file reused and 2 uploaded", s)
	}
	keys, _ := b.List(ctx, "crash/")
	t.Logf("before the crash: %v", keys)

	after := newStorage(t, b, "crash")
	ids, err := after.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int64{1}) {
		t.Fatalf("listed %v, want [1]", ids)
	}
	if _, err := after.Open(2); err == nil || !strings.Contains(err.Error(), "not complete") {
		t.Fatalf("opening the checkpoint without manifest: %v", err)
	}
	if _, err := after.Begin(3); err != nil {
		t.Fatal(err)
	}
	left, err := b.List(ctx, "crash/")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files2 {
		if f.Key == files1[0].Key {
			continue
		}
		if slices.Contains(left, "crash/"+f.Key) {
			t.Errorf("orphan %s survived the sweep", f.Key)
		}
	}
	checkOnlyReferenced(t, b, "crash", []int64{1})
	dir1, err := after.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir1, "op/0/000001.sst"))
	if err != nil || string(got) != "sst-one" {
		t.Fatalf("restored file: %q, %v", got, err)
	}
}

func crcOf(s string) uint32 { return crc32.Checksum([]byte(s), crc32.MakeTable(crc32.Castagnoli)) }

// manifestWith is the manifest of a checkpoint of one keyed subtask made
// of files.
func manifestWith(t *testing.T, id int64, files []engine.RemoteFile) []byte {
	t.Helper()
	m := &engine.Manifest{Version: engine.ManifestVersion, Job: "crash", CheckpointID: id, MaxParallelism: 128, LayoutVersion: state.LayoutVersion,
		Operators: []engine.ManifestOperator{{UID: "op", Name: "op", Parallelism: 1, Subtasks: []engine.SubtaskSnap{
			{Subtask: 0, Keyed: true, KeyGroups: state.KeyGroupRange{Start: 0, End: 127}, StateDir: "op/0", StateFormat: state.SnapshotFormatPebble, Files: files}}}}}
	b, err := engine.EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
