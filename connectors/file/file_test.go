package file_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// These tests use the package's public API only (JSONLines and the
// engine.Sink contract), and what its doc promises: committed files are
// named part-c<checkpoint>-s<subtask>.jsonl, hold complete JSON lines, and
// hold every record exactly once; nothing else in the directory is meant
// for readers.

var partName = regexp.MustCompile(`^part-c[0-9]+-s[0-9]+\.jsonl$`)

type rec struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
	Val int64  `json:"val"`
}

// output reads the committed output under dir: the visible files, which
// must all be part files, and their lines, each a complete JSON record.
// It returns the files' base names (sorted) and the lines.
func output(t *testing.T, dir string) (files, lines []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue // hidden: not output
		}
		if !partName.MatchString(n) || !e.Type().IsRegular() {
			t.Fatalf("visible %s in the output directory is not a part file", n)
		}
		files = append(files, n)
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Fatalf("%s is empty or ends in a partial line (%d bytes)", n, len(b))
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var r rec
			if err := unmarshalStrict(l, &r); err != nil {
				t.Fatalf("%s: line %q: %v", n, l, err)
			}
			lines = append(lines, l)
		}
	}
	slices.Sort(files)
	return files, lines
}

func unmarshalStrict(l string, v any) error {
	d := json.NewDecoder(strings.NewReader(l))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one value on the line")
	}
	return nil
}

// strays lists the regular files anywhere under dir that are not committed
// part files in dir itself: staging left behind.
func strays(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if filepath.Dir(p) == dir && partName.MatchString(d.Name()) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func records(vs ...rec) []engine.Record[rec] {
	out := make([]engine.Record[rec], len(vs))
	for i, v := range vs {
		out[i] = engine.Record[rec]{Value: v, Time: int64(i)}
	}
	return out
}

func line(r rec) string { return fmt.Sprintf(`{"key":%q,"seq":%d,"val":%d}`, r.Key, r.Seq, r.Val) }

// tw is a sink subtask's writer, driven by hand as the engine would.
type tw struct {
	engine.SinkWriter[rec]
	st  engine.StagingWriter
	dir string
}

func openWriter(t *testing.T, dir string, sub, par int) *tw {
	t.Helper()
	w, err := file.JSONLines[rec](dir).Open(context.Background(), engine.SinkInfo{Name: "out", Subtask: sub, Parallelism: par, Checkpointing: true})
	if err != nil {
		t.Fatal(err)
	}
	st, ok := w.(engine.StagingWriter)
	if !ok {
		t.Fatalf("%T is not an engine.StagingWriter", w)
	}
	return &tw{w, st, dir}
}

func write(t *testing.T, w *tw, vs ...rec) {
	t.Helper()
	if err := w.Write(records(vs...)); err != nil {
		t.Fatal(err)
	}
}

func prepare(t *testing.T, w *tw, id int64) []byte {
	t.Helper()
	c, err := w.st.Prepare(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// committer returns the sink's global committer for dir, as the engine
// makes one per attempt.
func committer(t *testing.T, dir string) engine.GlobalCommitter {
	t.Helper()
	gs, ok := file.JSONLines[rec](dir).(engine.GlobalCommitSink[rec])
	if !ok {
		t.Fatal("JSONLines is not an engine.GlobalCommitSink")
	}
	c, err := gs.NewGlobalCommitter(context.Background(), engine.CommitterInfo{Name: "out", Checkpointing: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func committables(cs [][]byte) []engine.Committable {
	out := make([]engine.Committable, len(cs))
	for i, c := range cs {
		out[i] = engine.Committable{Data: c}
	}
	return out
}

// commitErr has the global committer commit cs.
func commitErr(t *testing.T, dir string, cs ...[]byte) error {
	return committer(t, dir).Commit(context.Background(), 0, committables(cs))
}

func commit(t *testing.T, w *tw, cs ...[]byte) {
	t.Helper()
	if err := commitErr(t, w.dir, cs...); err != nil {
		t.Fatal(err)
	}
}

// restart does what the engine does when an attempt starts from a
// checkpoint that staged cs, before any writer opens: commit them again,
// then clean up what no checkpoint covers.
func restart(t *testing.T, dir string, cs ...[]byte) {
	t.Helper()
	c := committer(t, dir)
	if err := c.Commit(context.Background(), 0, committables(cs)); err != nil {
		t.Fatal(err)
	}
	if err := c.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func wantFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	got, _ := output(t, dir)
	if !slices.Equal(got, want) {
		t.Fatalf("committed files %q, want %q", got, want)
	}
}

func wantContent(t *testing.T, dir, name string, want ...rec) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, r := range want {
		sb.WriteString(line(r) + "\n")
	}
	if string(b) != sb.String() {
		t.Fatalf("%s holds\n%s\nwant\n%s", name, b, sb.String())
	}
}

// TestPartFilesRollPerCheckpoint drives one writer through the engine's
// two-phase protocol: records become visible only when the checkpoint that
// staged them commits, in part-c<checkpoint>-s<subtask>.jsonl; each
// checkpoint rolls to a new file; a checkpoint with nothing written stages
// nothing; commits are idempotent.
func TestPartFilesRollPerCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "nested") // created by Open
	cw := openWriter(t, dir, 1, 2)
	a, b, c := rec{"a", 1, 10}, rec{"b", 1, 20}, rec{"a", 2, 30}
	if got := prepare(t, cw, 1); got != nil {
		t.Fatalf("nothing written, yet Prepare staged %q", got)
	}
	write(t, cw, a, b)
	write(t, cw, c)
	wantFiles(t, dir)
	c2 := prepare(t, cw, 2)
	if c2 == nil {
		t.Fatal("Prepare staged nothing after writes")
	}
	wantFiles(t, dir) // staged, not committed
	d := rec{"c", 1, -5}
	write(t, cw, d)
	c4 := prepare(t, cw, 4)
	if got := prepare(t, cw, 5); got != nil {
		t.Fatalf("nothing written since checkpoint 4, yet Prepare staged %q", got)
	}
	wantFiles(t, dir)

	commit(t, cw, c2)
	wantFiles(t, dir, "part-c2-s1.jsonl")
	wantContent(t, dir, "part-c2-s1.jsonl", a, b, c)
	commit(t, cw, c2) // again, as after a restore
	commit(t, cw, c2, c4)
	wantFiles(t, dir, "part-c2-s1.jsonl", "part-c4-s1.jsonl")
	wantContent(t, dir, "part-c2-s1.jsonl", a, b, c)
	wantContent(t, dir, "part-c4-s1.jsonl", d)

	e := rec{"e", 1, 1}
	write(t, cw, e) // never prepared
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	wantFiles(t, dir, "part-c2-s1.jsonl", "part-c4-s1.jsonl")
	if left := strays(t, dir); len(left) != 1 {
		t.Fatalf("after close with unprepared records: stray files %q, want the one in-progress file", left)
	}

	// A restarted attempt commits what the restored checkpoint staged and
	// drops what was written after it, before its writers open.
	restart(t, dir, c2, c4)
	if left := strays(t, dir); len(left) != 0 {
		t.Fatalf("after the restart's cleanup: stray files %q", left)
	}
	cw = openWriter(t, dir, 1, 2)
	write(t, cw, e)
	c6 := prepare(t, cw, 6)
	if left := strays(t, dir); len(left) != 1 {
		t.Fatalf("after the first checkpoint of a new run: stray files %q, want only its staged file", left)
	}
	commit(t, cw, c6)
	wantFiles(t, dir, "part-c2-s1.jsonl", "part-c4-s1.jsonl", "part-c6-s1.jsonl")
	wantContent(t, dir, "part-c6-s1.jsonl", e)
	if left := strays(t, dir); len(left) != 0 {
		t.Fatalf("stray files %q", left)
	}
}

// TestRestartAtLowerParallelism: in-progress files of a subtask that the
// restarted job no longer has are removed too.
func TestRestartAtLowerParallelism(t *testing.T) {
	dir := t.TempDir()
	var cs [][]byte
	for sub := 0; sub < 3; sub++ {
		cw := openWriter(t, dir, sub, 3)
		write(t, cw, rec{fmt.Sprint("k", sub), 1, 1})
		cs = append(cs, prepare(t, cw, 3))
		write(t, cw, rec{fmt.Sprint("k", sub), 2, 1}) // after the checkpoint
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Restored at parallelism 2: the committer commits the three old
	// subtasks' committables and removes all three in-progress files.
	restart(t, dir, cs...)
	var ws []*tw
	for sub := 0; sub < 2; sub++ {
		ws = append(ws, openWriter(t, dir, sub, 2))
	}
	for _, cw := range ws {
		prepare(t, cw, 4)
	}
	wantFiles(t, dir, "part-c3-s0.jsonl", "part-c3-s1.jsonl", "part-c3-s2.jsonl")
	if left := strays(t, dir); len(left) != 0 {
		t.Fatalf("stray files %q after a restart at parallelism 2", left)
	}
}

// boundedJob writes parts through a keyed running sum into dir.
func boundedJob(dir string, cfg engine.Config, parts [][]rec) *engine.Job {
	j := engine.NewJob("file-test", cfg)
	src := engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[rec]{})
	sums := engine.KeyedProcess(engine.KeyBy(src, func(r rec) string { return r.Key }), "sum",
		engine.KeyedProcessFunction[string, rec, rec](&summer{}))
	engine.SinkTo(sums, "out", file.JSONLines[rec](dir))
	return j
}

// TestWithoutCheckpoints: a bounded job without checkpoints commits each
// subtask's file, part-c0-s<subtask>.jsonl, when its input ends.
func TestWithoutCheckpoints(t *testing.T) {
	dir := t.TempDir()
	parts, want := input(rand.New(rand.NewPCG(1, 1)), 3, 500)
	if err := boundedJob(dir, engine.Config{Parallelism: 2}, parts).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, lines := output(t, dir)
	if !slices.Equal(files, []string{"part-c0-s0.jsonl", "part-c0-s1.jsonl"}) {
		t.Fatalf("files %q", files)
	}
	slices.Sort(lines)
	if !slices.Equal(lines, want) {
		t.Fatalf("%d lines committed, want %d, or they differ", len(lines), len(want))
	}
	if left := strays(t, dir); len(left) != 0 {
		t.Fatalf("stray files %q", left)
	}
}

// TestRefusesAnotherRunsOutput: a second job into the same directory,
// without the first one's checkpoints, would reuse its file names. It
// fails with an error naming the file and leaves the first run's output
// as it was, rather than silently keep one run's output for the other's.
func TestRefusesAnotherRunsOutput(t *testing.T) {
	dir := t.TempDir()
	parts, want := input(rand.New(rand.NewPCG(2, 2)), 1, 200)
	if err := boundedJob(dir, engine.Config{}, parts).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, first := output(t, dir)
	parts2, _ := input(rand.New(rand.NewPCG(3, 3)), 1, 200)
	err := boundedJob(dir, engine.Config{}, parts2).Execute(context.Background())
	if err == nil || !strings.Contains(err.Error(), "part-c0-s0.jsonl") {
		t.Fatalf("second run into the same directory: %v, want an error naming part-c0-s0.jsonl", err)
	}
	if _, again := output(t, dir); !slices.Equal(again, first) {
		t.Fatal("the first run's output changed")
	}
	slices.Sort(first)
	if !slices.Equal(first, want) {
		t.Fatal("the first run's output is wrong")
	}

	// The same at the writer: a final name taken by another file fails
	// Prepare, or Commit if it was taken after Prepare.
	dir = t.TempDir()
	cw := openWriter(t, dir, 0, 1)
	write(t, cw, rec{"a", 1, 1})
	c1 := prepare(t, cw, 1)
	if err := os.WriteFile(filepath.Join(dir, "part-c1-s0.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := commitErr(t, dir, c1); err == nil || !strings.Contains(err.Error(), "part-c1-s0.jsonl") {
		t.Fatalf("commit onto another file: %v", err)
	}
	write(t, cw, rec{"a", 2, 1})
	if _, err := cw.st.Prepare(1); err == nil || !strings.Contains(err.Error(), "part-c1-s0.jsonl") {
		t.Fatalf("prepare onto another file: %v", err)
	}
}

// TestBadConfig: a directory that is missing, a file, or under a file is
// an error when the job starts, not a hang or output elsewhere; a record
// JSON cannot encode fails the job.
func TestBadConfig(t *testing.T) {
	base := t.TempDir()
	plain := filepath.Join(base, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{"", "needs a directory"},
		{plain, plain},
		{filepath.Join(plain, "sub"), plain},
	} {
		_, err := file.JSONLines[rec](c.dir).Open(context.Background(), engine.SinkInfo{Parallelism: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("dir %q: Open returned %v, want an error with %q", c.dir, err, c.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = boundedJob(c.dir, engine.Config{}, [][]rec{{{"a", 1, 1}}}).Execute(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("dir %q: job returned %v, want an error with %q", c.dir, err, c.want)
		}
	}
	if ents, _ := os.ReadDir("."); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".part-") }) {
		t.Error("an empty directory wrote into the working directory")
	}

	dir := t.TempDir()
	w, err := file.JSONLines[float64](dir).Open(context.Background(), engine.SinkInfo{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]engine.Record[float64]{{Value: 1}, {Value: math.NaN()}}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("writing NaN: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// summer keeps a running sum per key and emits it with each record, so
// that the output depends on state restored correctly after failures.
type summer struct{ sum *state.ValueState[int64] }

func (s *summer) Open(rc *engine.RuntimeContext) error {
	var err error
	s.sum, err = engine.GetValueState[int64](rc, "sum")
	return err
}

func (s *summer) ProcessElement(r rec, ctx *engine.KeyedContext[string, rec]) error {
	v, _, err := s.sum.Value()
	if err != nil {
		return err
	}
	v += r.Val
	ctx.Emit(rec{r.Key, r.Seq, v})
	return s.sum.Update(v)
}

// input draws nParts partitions of n records each, over a few keys per
// partition (keys never span partitions, so each key's order, and its
// running sums, are fixed), and returns the lines the job must commit,
// sorted.
func input(rng *rand.Rand, nParts, n int) ([][]rec, []string) {
	parts := make([][]rec, nParts)
	var want []string
	for p := range parts {
		sums, seqs := map[string]int64{}, map[string]int{}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("p%d-k%d", p, rng.IntN(7))
			v := rng.Int64N(100)
			seqs[k]++
			sums[k] += v
			parts[p] = append(parts[p], rec{k, seqs[k], v})
			want = append(want, line(rec{k, seqs[k], sums[k]}))
		}
	}
	slices.Sort(want)
	return parts, want
}

// faults fails an operation of kind k with probability p[k], at most max
// times in all, from a seeded generator (which subtask draws which number
// still varies). Writes are many, prepares and commits few: each kind has
// its own probability so that all of them fail.
type faults struct {
	mu    sync.Mutex
	rng   *rand.Rand
	p     map[string]float64
	max   int
	fired []string
}

func (f *faults) fail(kind, what string) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fired) >= f.max || f.rng.Float64() >= f.p[kind] {
		return nil
	}
	f.fired = append(f.fired, what)
	return fmt.Errorf("injected failure %s", what)
}

// faultySink wraps the sink's writers and its global committer, failing
// before or after the real Write, Prepare and Commit: a file staged
// although Prepare failed, a rename done although Commit reported an
// error.
type faultySink struct {
	engine.Sink[rec]
	f *faults
}

func (s faultySink) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[rec], error) {
	w, err := s.Sink.Open(ctx, info)
	if err != nil {
		return nil, err
	}
	return &faultyWriter{w, w.(engine.StagingWriter), s.f}, nil
}

func (s faultySink) NewGlobalCommitter(ctx context.Context, info engine.CommitterInfo) (engine.GlobalCommitter, error) {
	c, err := s.Sink.(engine.GlobalCommitSink[rec]).NewGlobalCommitter(ctx, info)
	if err != nil {
		return nil, err
	}
	return faultyCommitter{c, s.f}, nil
}

func around(f *faults, kind, what string, do func() error) error {
	if err := f.fail(kind, what+" (before)"); err != nil {
		return err
	}
	if err := do(); err != nil {
		return err
	}
	return f.fail(kind, what+" (after)")
}

type faultyWriter struct {
	engine.SinkWriter[rec]
	st engine.StagingWriter
	f  *faults
}

func (w *faultyWriter) Write(b []engine.Record[rec]) error {
	return around(w.f, "write", "write", func() error { return w.SinkWriter.Write(b) })
}

func (w *faultyWriter) Prepare(id int64) (c []byte, err error) {
	err = around(w.f, "prepare", fmt.Sprint("prepare ", id), func() error { c, err = w.st.Prepare(id); return err })
	return c, err
}

type faultyCommitter struct {
	engine.GlobalCommitter
	f *faults
}

func (c faultyCommitter) Commit(ctx context.Context, id int64, cs []engine.Committable) error {
	return around(c.f, "commit", fmt.Sprintf("commit of %d", len(cs)), func() error { return c.GlobalCommitter.Commit(ctx, id, cs) })
}

// TestExactlyOnceUnderFailures runs a checkpointed job with failures
// injected at random points (task failures upstream, and failures before
// and after the sink's own Write, Prepare and Commit), restarting from its
// checkpoints, and requires the committed output to be identical to that
// of the same job run without failures, with nothing left staged.
func TestExactlyOnceUnderFailures(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 10))
	for round := 0; round < 4; round++ {
		p := 1 + rng.IntN(3)
		parts, want := input(rng, 1+rng.IntN(4), 300+rng.IntN(700))
		records := len(want)
		cfg := func() engine.Config {
			return engine.Config{Parallelism: p, BatchSize: []int{16, 256}[rng.IntN(2)],
				Checkpoint: engine.CheckpointConfig{Interval: time.Duration(2+rng.IntN(15)) * time.Millisecond, Dir: t.TempDir()},
				Restart:    engine.FixedDelay(100, time.Millisecond)}
		}
		run := func(dir string, f *faults, points []int64) (*engine.Running, int64) {
			j := engine.NewJob("file-eo", cfg())
			src := engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[rec]{})
			var calls, failures atomic.Int64
			m := engine.Map(src, "maybe-fail", func(r rec) rec {
				k := calls.Add(1)
				if k%20 == 0 {
					time.Sleep(time.Millisecond) // let checkpoints happen while the input flows
				}
				if slices.Contains(points, k) {
					failures.Add(1)
					panic(fmt.Sprintf("injected task failure at record %d", k))
				}
				return r
			})
			sums := engine.KeyedProcess(engine.KeyBy(m, func(r rec) string { return r.Key }), "sum",
				engine.KeyedProcessFunction[string, rec, rec](&summer{}))
			var sink engine.Sink[rec] = file.JSONLines[rec](dir)
			if f != nil {
				sink = faultySink{sink, f}
			}
			engine.SinkTo(sums, "out", sink)
			r, err := j.Start(context.Background())
			if err != nil {
				t.Fatalf("seed %d round %d: %v", seed, round, err)
			}
			if err := r.Wait(); err != nil {
				t.Fatalf("seed %d round %d: %v", seed, round, err)
			}
			return r, failures.Load()
		}

		refDir := t.TempDir()
		run(refDir, nil, nil)
		_, ref := output(t, refDir)
		slices.Sort(ref)
		if !slices.Equal(ref, want) {
			t.Fatalf("seed %d round %d: the run without failures committed %d lines, want %d, or they differ", seed, round, len(ref), len(want))
		}

		var points []int64
		for i := 0; i < 1+rng.IntN(3); i++ {
			points = append(points, 1+rng.Int64N(int64(records)))
		}
		f := &faults{rng: rand.New(rand.NewPCG(seed, uint64(round))), max: 2 + rng.IntN(6),
			p: map[string]float64{"write": 0.01 * rng.Float64(), "prepare": 0.1 + 0.2*rng.Float64(), "commit": 0.1 + 0.2*rng.Float64()}}
		dir := t.TempDir()
		r, taskFailures := run(dir, f, points)
		files, got := output(t, dir)
		slices.Sort(got)
		t.Logf("round %d: p=%d, %d records, %d task failures, sink failures %q, %d restarts, %d files",
			round, p, records, taskFailures, f.fired, r.Attempt(), len(files))
		if r.Attempt() == 0 && (taskFailures > 0 || len(f.fired) > 0) {
			t.Fatalf("seed %d round %d: failures fired but the job never restarted", seed, round)
		}
		if !slices.Equal(got, ref) {
			t.Fatalf("seed %d round %d: committed output differs from the run without failures: %s", seed, round, diffLines(got, ref))
		}
		if left := strays(t, dir); len(left) != 0 {
			t.Fatalf("seed %d round %d: stray files after the job finished: %q", seed, round, left)
		}
	}
}

// diffLines summarises how got differs from want (both sorted).
func diffLines(got, want []string) string {
	count := func(ls []string) map[string]int {
		m := map[string]int{}
		for _, l := range ls {
			m[l]++
		}
		return m
	}
	g, w := count(got), count(want)
	var missing, extra int
	var example string
	for l, n := range w {
		if g[l] < n {
			missing += n - g[l]
			example = "missing " + l
		}
	}
	for l, n := range g {
		if w[l] < n {
			extra += n - w[l]
			example = "extra " + l
		}
	}
	return fmt.Sprintf("%d lines, want %d: %d missing, %d extra or duplicated (e.g. %s)", len(got), len(want), missing, extra, example)
}
