package firehose

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/snappy"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
)

func sinkSeed(t *testing.T) uint64 { return testseed.Seed(t) }

// faults fails a store operation with probability p, at most max times in
// all, from a seeded generator (the interleaving of subtasks still varies
// from run to run).
type faults struct {
	mu    sync.Mutex
	rng   *rand.Rand
	p     float64
	max   int
	fired int
}

func (f *faults) fail(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fired >= f.max || f.rng.Float64() >= f.p {
		return nil
	}
	f.fired++
	return fmt.Errorf("injected failure in %s", op)
}

func (f *faults) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.fired }

// faultyStore injects failures before and after the real operations of a
// JournalStore: a staged object or intent that exists although its call
// failed, a commit that happened although it reported an error. It
// records every key it was asked to stage.
type faultyStore struct {
	JournalStore
	f      *faults
	mu     sync.Mutex
	staged map[string]bool
}

func (s *faultyStore) around(op string, do func() error) error {
	if err := s.f.fail(op + " (before)"); err != nil {
		return err
	}
	if err := do(); err != nil {
		return err
	}
	return s.f.fail(op + " (after)")
}

func (s *faultyStore) Put(ctx context.Context, key string, body []byte) error {
	return s.around("put "+key, func() error { return s.JournalStore.Put(ctx, key, body) })
}

func (s *faultyStore) Stage(ctx context.Context, key string, body []byte) (Staged, error) {
	s.mu.Lock()
	s.staged[key] = true
	s.mu.Unlock()
	var st Staged
	err := s.around("stage "+key, func() (err error) { st, err = s.JournalStore.Stage(ctx, key, body); return err })
	return st, err
}

func (s *faultyStore) Commit(ctx context.Context, st Staged) error {
	return s.around("commit "+st.Key, func() error { return s.JournalStore.Commit(ctx, st) })
}

func (s *faultyStore) Delete(ctx context.Context, key string) error {
	return s.around("delete "+key, func() error { return s.JournalStore.Delete(ctx, key) })
}

// eoCase is one randomised configuration of the exactly-once test.
type eoCase struct {
	cfg       Config
	transform bool
	backup    bool // AllData backup of the source records under backup/
	parts     [][][]byte
	want      map[int]int // n -> times it must be committed (data or error document)
}

var eoSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	{Name: "part", Type: arrow.PrimitiveTypes.Int64},
	{Name: "pad", Type: arrow.BinaryTypes.String},
}, nil)

// newEOCase draws a configuration and an input. Every record carries a
// unique n; a few have a non-numeric id (they fail Parquet conversion);
// with the transform, n%11 == 0 fails processing and n%13 == 0 is
// dropped.
func newEOCase(rng *rand.Rand, records int) eoCase {
	c := eoCase{want: map[int]int{}}
	type variant struct{ format, compression string }
	v := []variant{{FormatJSONLines, GZIP}, {FormatRaw, Snappy}, {FormatParquet, Uncompressed}, {FormatJSONLines, ZIP},
		{FormatJSONLines, HadoopSnappy}, {FormatJSONLines, Uncompressed}}[rng.IntN(6)]
	c.cfg = Config{
		Name:                   "eo",
		Prefix:                 "data/",
		ErrorOutputPrefix:      "errors/!{firehose:error-output-type}/",
		Format:                 Format{Type: v.format, AppendNewline: v.format == FormatRaw},
		Compression:            v.compression,
		Buffering:              BufferingHints{IntervalInSeconds: Seconds([]int{0, 900}[rng.IntN(2)])},
		RetryDurationInSeconds: Seconds(0),
	}
	if v.format == FormatParquet {
		c.cfg.Format.Parquet = &ParquetFormat{Schema: eoSchema}
	}
	if rng.IntN(2) == 0 {
		c.cfg.Partitioning = &Partitioning{Keys: map[string]string{"p": "part"}}
		c.cfg.Prefix = "data/p=!{partitionKeyFromQuery:p}/"
		c.cfg.Buffering.SizeInMBs = 1
	}
	c.transform = rng.IntN(2) == 0
	if c.transform {
		c.cfg.Processing = &Processing{}
	}
	if c.backup = rng.IntN(3) == 0; c.backup {
		// Records of a data object that cannot be staged go to the
		// backup's error output as delivery-failed documents.
		c.cfg.Backup = &Backup{Mode: BackupAllData, Directory: &DirectoryConfig{Path: "unused"}, Prefix: "backup/",
			ErrorOutputPrefix: "errors/backup/!{firehose:error-output-type}/"}
	}
	nParts := 1 + rng.IntN(5)
	c.parts = make([][][]byte, nParts)
	pad := strings.Repeat("x", rng.IntN(200))
	for n := 0; n < records; n++ {
		p := rng.IntN(nParts)
		id := strconv.Itoa(n)
		if rng.IntN(30) == 0 {
			id = `"bad-` + id + `"`
		}
		c.parts[p] = append(c.parts[p], fmt.Appendf(nil, `{"id":%s,"n":%d,"part":%d,"pad":"%s"}`, id, n, p, pad))
		if !c.transform || n%13 != 0 || n%11 == 0 {
			c.want[n] = 1
		}
	}
	return c
}

// eoTransform fails n%11 == 0, drops n%13 == 0 and marks the others.
func eoTransform(ctx context.Context, ev *TransformEvent) (*TransformResponse, error) {
	var out TransformResponse
	for _, r := range ev.Records {
		var m map[string]any
		if err := json.Unmarshal(r.Data, &m); err != nil {
			return nil, err
		}
		n := int(m["n"].(float64))
		res := TransformResult{RecordID: r.RecordID, Result: ResultOk}
		switch {
		case n%11 == 0:
			res.Result = ResultProcessingFailed
		case n%13 == 0:
			res.Result = ResultDropped
		default:
			m["t"] = true
			res.Data, _ = json.Marshal(m)
		}
		out.Records = append(out.Records, res)
	}
	return &out, nil
}

// decodeObject returns the records' n values in a data object.
func decodeObject(t *testing.T, key string, body []byte) []int {
	t.Helper()
	var err error
	switch {
	case strings.HasSuffix(key, ".parquet"):
		tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(body), aparquet.NewReaderProperties(memory.DefaultAllocator),
			pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		defer tbl.Release()
		var ns []int
		idx := tbl.Schema().FieldIndices("n")[0]
		for _, ch := range tbl.Column(idx).Data().Chunks() {
			a := ch.(*array.Int64)
			for i := 0; i < a.Len(); i++ {
				ns = append(ns, int(a.Value(i)))
			}
		}
		return ns
	case strings.HasSuffix(key, ".gz"):
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, err = io.ReadAll(zr)
		}
	case strings.HasSuffix(key, ".zip"):
		var zr *zip.Reader
		if zr, err = zip.NewReader(bytes.NewReader(body), int64(len(body))); err == nil {
			if len(zr.File) != 1 {
				t.Fatalf("%s: %d entries", key, len(zr.File))
			}
			var f io.ReadCloser
			if f, err = zr.File[0].Open(); err == nil {
				body, err = io.ReadAll(f)
			}
		}
	case strings.HasSuffix(key, ".snappy"):
		body, err = io.ReadAll(snappy.NewReader(bytes.NewReader(body)))
	case strings.HasSuffix(key, ".hsnappy"):
		body, err = DecodeHadoopSnappy(body)
	}
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var ns []int
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		var m struct{ N int }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: line %q: %v", key, line, err)
		}
		ns = append(ns, m.N)
	}
	return ns
}

// committedNs reads every visible object of a destination and returns how
// often each n was committed, as data or in an error document.
func committedNs(t *testing.T, store JournalStore, c eoCase) (got, backedUp map[int]int) {
	t.Helper()
	keys, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got, backedUp = map[int]int{}, map[int]int{}
	for _, k := range keys {
		if strings.HasPrefix(k, ".sluice-staging/") {
			t.Errorf("intent %s left in the journal", k)
			continue
		}
		body, err := store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(k, "data/"):
			for _, n := range decodeObject(t, k, body) {
				got[n]++
			}
		case strings.HasPrefix(k, "backup/"):
			// Source records as they came, concatenated.
			dec := json.NewDecoder(bytes.NewReader(body))
			for dec.More() {
				var m struct{ N int }
				if err := dec.Decode(&m); err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				backedUp[m.N]++
			}
		case strings.HasPrefix(k, "errors/processing-failed/"), strings.HasPrefix(k, "errors/format-conversion-failed/"),
			c.backup && strings.HasPrefix(k, "errors/backup/delivery-failed/"):
			for _, d := range docs(t, body) {
				var m struct{ N int }
				raw, _ := json.Marshal(d["rawData"])
				var data []byte
				json.Unmarshal(raw, &data)
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatalf("%s: rawData %q: %v", k, data, err)
				}
				got[m.N]++
			}
		default:
			t.Errorf("unexpected object %s", k)
		}
	}
	return got, backedUp
}

func checkEO(t *testing.T, seed uint64, got, want map[int]int) {
	t.Helper()
	for n, w := range want {
		if got[n] != w {
			t.Fatalf("seed %d: record %d committed %d times, want %d", seed, n, got[n], w)
		}
	}
	for n, g := range got {
		if want[n] == 0 {
			t.Fatalf("seed %d: record %d committed %d times, want 0", seed, n, g)
		}
	}
}

// runEO runs one randomised round against store and checks the union of
// committed objects, and that nothing staged or journaled is left.
func runEO(t *testing.T, seed uint64, rng *rand.Rand, round int, base JournalStore, records int, leftovers func(t *testing.T, staged map[string]bool)) {
	c := newEOCase(rng, records)
	f := &faults{rng: rand.New(rand.NewPCG(seed, uint64(round))), p: 0.01 + 0.04*rng.Float64(), max: 1 + rng.IntN(6)}
	store := &faultyStore{JournalStore: base, f: f, staged: map[string]bool{}}
	c.cfg.Directory = &DirectoryConfig{Path: "unused"} // replaced by Deps.Store
	// Half the rounds retry failed writes (for up to a second, every
	// 5 ms): the retries stage the same key again under the same intent.
	deps := Deps{Store: store, RetryInterval: 5 * time.Millisecond}
	c.cfg.RetryDurationInSeconds = Seconds(rng.IntN(2))
	bstore := &faultyStore{JournalStore: base, f: f, staged: map[string]bool{}}
	if c.backup {
		// Another store value over the same destination: its objects are
		// the stream's backup objects (Staged.Dest "backup").
		deps.BackupStore = bstore
	}
	if c.transform {
		deps.Transform = eoTransform
	}
	sink, err := NewSink[[]byte](c.cfg, SinkOptions{Deps: deps}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Task failures before the sink, at random record counts.
	var calls atomic.Int64
	var points []int64
	for i := 0; i < rng.IntN(4); i++ {
		points = append(points, 1+rng.Int64N(int64(records)))
	}
	var mapFailures atomic.Int64
	p := 1 + rng.IntN(3)
	cfg := engine.Config{
		Parallelism: p, BatchSize: []int{64, 512}[rng.IntN(2)],
		Checkpoint: engine.CheckpointConfig{Interval: time.Duration(2+rng.IntN(20)) * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(200, time.Millisecond),
	}
	j := engine.NewJob("firehose-eo", cfg)
	src := engine.FromPartitions(j, "parts", c.parts, engine.WatermarkStrategy[[]byte]{})
	m := engine.Map(src, "maybe-fail", func(b []byte) []byte {
		k := calls.Add(1)
		if k%25 == 0 {
			time.Sleep(time.Millisecond) // let checkpoints happen while the input flows
		}
		for _, pt := range points {
			if k == pt {
				mapFailures.Add(1)
				panic(fmt.Sprintf("injected task failure at record %d", k))
			}
		}
		return b
	})
	engine.SinkTo(m, "firehose", sink)
	r := runToEnd(t, j, fmt.Sprintf("seed %d round %d", seed, round))
	st := sink.Stats()
	lastID, _ := r.LatestCheckpoint()
	t.Logf("round %d: p=%d %s/%s partitioned=%v transform=%v backup=%v interval=%ds retry=%ds: %d task + %d store failures, %d restarts, %d checkpoints; %d objects committed by the last attempt, %d staged objects aborted",
		round, p, c.cfg.Format.Type, c.cfg.Compression, c.cfg.Partitioning != nil, c.transform, c.backup, *c.cfg.Buffering.IntervalInSeconds, *c.cfg.RetryDurationInSeconds,
		mapFailures.Load(), f.count(), r.Attempt(), lastID, st.CommittedObjects, st.AbortedObjects)
	// (A store failure can be absorbed: with a backup, the records of an
	// object that cannot be staged go to the backup's error output.)
	if r.Attempt() == 0 && mapFailures.Load() > 0 {
		t.Fatalf("seed %d: task failures fired but the job never restarted", seed)
	}
	got, backedUp := committedNs(t, base, c)
	checkEO(t, seed, got, c.want)
	if c.backup {
		all := map[int]int{}
		for _, part := range c.parts {
			for _, b := range part {
				var m struct{ N int }
				json.Unmarshal(b, &m)
				all[m.N] = 1
			}
		}
		checkEO(t, seed, backedUp, all)
	} else if len(backedUp) > 0 {
		t.Fatalf("seed %d: backup objects without a backup", seed)
	}
	for k := range bstore.staged {
		store.staged[k] = true
	}
	leftovers(t, store.staged)
}

// TestSinkExactlyOnceDirectory: random task failures and store failures
// (before and after the real operation) with periodic checkpoints and
// restarts; the union of committed objects in a directory holds every
// record exactly once, nothing staged or journaled is left.
func TestSinkExactlyOnceDirectory(t *testing.T) {
	seed := sinkSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	for round := 0; round < 4; round++ {
		ds, err := NewDirStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		runEO(t, seed, rng, round, ds, 1500+rng.IntN(2500), func(t *testing.T, _ map[string]bool) {
			if left, err := ds.ListStaged(ctx, ""); err != nil || len(left) != 0 {
				t.Fatalf("seed %d: staged files left: %v %v", seed, left, err)
			}
		})
	}
}

// TestMinIOSinkExactlyOnce is the same against MinIO: staged objects are
// uncompleted multipart uploads, found again through the intents.
func TestMinIOSinkExactlyOnce(t *testing.T) {
	seed := sinkSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	for round := 0; round < 2; round++ {
		sc := s3test.Config(t)
		b, err := s3.Open(ctx, sc)
		if err != nil {
			t.Fatal(err)
		}
		runEO(t, seed, rng, round, &S3Store{B: b}, 800+rng.IntN(800), func(t *testing.T, staged map[string]bool) {
			// MinIO lists uploads only by exact key: ask for every key
			// that was ever staged.
			for k := range staged {
				if ups, err := b.ListUploads(ctx, k); err != nil || len(ups) != 0 {
					t.Fatalf("seed %d: uploads left for %s: %v %v", seed, k, ups, err)
				}
			}
			t.Logf("checked %d staged keys for leftover uploads", len(staged))
		})
	}
}

// TestSinkResumeInNewProcess stops a job after some checkpoints, with
// objects staged and not committed, and resumes it at another parallelism
// with a new Sink value (as a new process would): the orphans are
// aborted, and both runs together commit every record exactly once.
func TestSinkResumeInNewProcess(t *testing.T) {
	seed := sinkSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	c := newEOCase(rng, 3000)
	c.transform, c.cfg.Processing = false, nil
	c.backup, c.cfg.Backup = false, nil
	for _, part := range c.parts {
		for _, b := range part {
			var m struct{ N int }
			json.Unmarshal(b, &m)
			c.want[m.N] = 1
		}
	}
	out := t.TempDir()
	c.cfg.Directory = &DirectoryConfig{Path: out}
	c.cfg.Buffering.IntervalInSeconds = Seconds(0) // stage at every write: orphans are certain
	chk := t.TempDir()
	build := func(p int, throttle bool) (*engine.Job, *Sink[[]byte]) {
		sink, err := NewSink[[]byte](c.cfg, SinkOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("resume", engine.Config{Parallelism: p, BatchSize: 32,
			Checkpoint: engine.CheckpointConfig{Interval: 20 * time.Millisecond, Dir: chk, Resume: true}})
		var seen atomic.Int64
		m := engine.Map(engine.FromPartitions(j, "parts", c.parts, engine.WatermarkStrategy[[]byte]{}), "slow", func(b []byte) []byte {
			if throttle && seen.Add(1) > 500 {
				time.Sleep(200 * time.Microsecond)
			}
			return b
		})
		engine.SinkTo(m, "firehose", sink)
		return j, sink
	}
	j1, _ := build(2, true)
	r1, err := j1.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if id, _ := r1.LatestCheckpoint(); id >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	r1.Cancel()
	if err := r1.Wait(); !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatalf("first run: %v", err)
	}
	ds, _ := NewDirStore(out)
	orphans, _ := ds.ListStaged(ctx, "")
	intents, _ := ds.List(ctx, ".sluice-staging/")
	t.Logf("after the first run: %d staged files, %d intents", len(orphans), len(intents))
	if len(intents) == 0 {
		t.Fatal("the first run left no intents: the test does not exercise the cleanup")
	}
	j2, sink2 := build(3, false)
	if err := j2.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := sink2.Stats(); st.AbortedObjects == 0 && len(orphans) > 0 {
		t.Errorf("orphans existed but none was aborted: %+v", st)
	}
	got, _ := committedNs(t, ds, c)
	checkEO(t, seed, got, c.want)
	if left, _ := ds.ListStaged(ctx, ""); len(left) != 0 {
		t.Fatalf("staged files left: %v", left)
	}
}

// TestSinkAtLeastOnceWithoutCheckpoints: without checkpoints the sink
// delivers as Firehose does, visibly, and flushes at the end of input.
func TestSinkAtLeastOnceWithoutCheckpoints(t *testing.T) {
	out := t.TempDir()
	cfg := Config{Name: "alo", Directory: &DirectoryConfig{Path: out}, Format: Format{Type: FormatJSONLines}}
	sink, err := NewSink[string](cfg, SinkOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var in []string
	for i := 0; i < 1000; i++ {
		in = append(in, fmt.Sprintf(`{"n":%d}`, i))
	}
	j := engine.NewJob("alo", engine.Config{Parallelism: 2})
	engine.SinkTo(engine.FromSlice(j, "in", in, engine.WatermarkStrategy[string]{}), "firehose", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	fs := files(t, out)
	for k, b := range fs {
		if strings.HasPrefix(k, ".sluice-staging/") {
			t.Fatalf("at-least-once mode journaled %s", k)
		}
		for _, n := range decodeObject(t, k, b) {
			got[n]++
		}
	}
	for i := range in {
		if got[i] != 1 {
			t.Fatalf("record %d delivered %d times", i, got[i])
		}
	}
	if st := sink.Stats(); st.Stream.RecordsDelivered != 1000 || st.CommittedObjects != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSinkRefusals(t *testing.T) {
	if _, err := NewSink[int](Config{Name: "x", Directory: &DirectoryConfig{Path: t.TempDir()}}, SinkOptions{}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("int records without toRecord: %v", err)
	}
	if _, err := NewSink[[]byte](Config{Name: "x"}, SinkOptions{}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no destination: %v", err)
	}
	if _, err := NewSink[[]byte](Config{Name: "x", Directory: &DirectoryConfig{Path: t.TempDir()}}, SinkOptions{StagingPrefix: "/abs/"}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("absolute staging prefix: %v", err)
	}
	// An HTTP endpoint cannot stage: refused in a job with checkpoints.
	cfg := Config{Name: "h", HTTPEndpoint: &HTTPEndpointConfig{URL: "http://127.0.0.1:1/"},
		Backup: &Backup{Directory: &DirectoryConfig{Path: t.TempDir()}}}
	sink, err := NewSink[[]byte](cfg, SinkOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("http", engine.Config{Checkpoint: engine.CheckpointConfig{Interval: time.Second, Dir: t.TempDir()}, Restart: engine.NoRestart()})
	engine.SinkTo(engine.FromSlice(j, "in", [][]byte{[]byte("x")}, engine.WatermarkStrategy[[]byte]{}), "firehose", sink)
	if err := j.Execute(context.Background()); err == nil || !strings.Contains(err.Error(), "AtLeastOnce") {
		t.Errorf("HTTP endpoint in an exactly-once job: %v", err)
	}
}

var _ = filepath.Join

// TestSinkAtLeastOnceWithCheckpoints: with SinkOptions.AtLeastOnce in a
// job that checkpoints and fails, objects are visible at once (nothing is
// staged or journaled) and every record is delivered at least once.
func TestSinkAtLeastOnceWithCheckpoints(t *testing.T) {
	seed := sinkSeed(t)
	rng := rand.New(rand.NewPCG(seed, 4))
	out := t.TempDir()
	cfg := Config{Name: "alo", Directory: &DirectoryConfig{Path: out}, Format: Format{Type: FormatJSONLines},
		Buffering: BufferingHints{IntervalInSeconds: Seconds(0)}}
	sink, err := NewSink[[]byte](cfg, SinkOptions{AtLeastOnce: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	parts := make([][][]byte, 3)
	for i := 0; i < n; i++ {
		parts[i%3] = append(parts[i%3], fmt.Appendf(nil, `{"n":%d}`, i))
	}
	var calls atomic.Int64
	fail := 1 + rng.Int64N(n)
	j := engine.NewJob("alo", engine.Config{Parallelism: 2, BatchSize: 64,
		Checkpoint: engine.CheckpointConfig{Interval: 5 * time.Millisecond, Dir: t.TempDir()}, Restart: engine.FixedDelay(5, time.Millisecond)})
	m := engine.Map(engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[[]byte]{}), "maybe-fail", func(b []byte) []byte {
		if k := calls.Add(1); k == fail {
			panic("injected task failure")
		} else if k%25 == 0 {
			time.Sleep(time.Millisecond)
		}
		return b
	})
	engine.SinkTo(m, "firehose", sink)
	r := runToEnd(t, j, fmt.Sprintf("seed %d", seed))
	got := map[int]int{}
	for k, b := range files(t, out) {
		if strings.HasPrefix(k, ".sluice-staging/") {
			t.Fatalf("at-least-once mode journaled %s", k)
		}
		for _, x := range decodeObject(t, k, b) {
			got[x]++
		}
	}
	dups := 0
	for i := 0; i < n; i++ {
		if got[i] == 0 {
			t.Fatalf("seed %d: record %d lost", seed, i)
		}
		dups += got[i] - 1
	}
	t.Logf("%d restarts, %d records delivered twice or more", r.Attempt(), dups)
}

// runToEnd starts j and waits for it to end; a job error fails the test,
// prefixed with what (the seed and round to reproduce it).
func runToEnd(t *testing.T, j *engine.Job, what string) *engine.Running {
	t.Helper()
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := r.Wait(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return r
}
