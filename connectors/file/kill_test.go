package file_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/crashtest"
	"github.com/sluicehq/sluice/internal/testseed"
)

// The kill points of the child job: where, in the n-th call of that kind
// (counted over all subtasks), the child sends itself SIGKILL.
const (
	killBeforeCommit = "before-commit" // the checkpoint completed, its files are staged, none renamed
	killMidCommit    = "mid-commit"    // one subtask renamed its file, the others did not
	killAfterPrepare = "after-prepare" // a file staged, its checkpoint not complete
	killAfterWrite   = "after-write"   // in the middle of a file
)

// killInput is the child's input: the same in every process.
func killInput() ([][]rec, []string) { return input(rand.New(rand.NewPCG(7, 7)), 3, 1500) }

// killSink sends the process SIGKILL at the n-th call of a kind.
type killSink struct {
	engine.Sink[rec]
	at *crashtest.Point
}

func (s killSink) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[rec], error) {
	w, err := s.Sink.Open(ctx, info)
	if err != nil {
		return nil, err
	}
	return &killWriter{w, w.(engine.StagingWriter), s}, nil
}

func (s killSink) NewGlobalCommitter(ctx context.Context, info engine.CommitterInfo) (engine.GlobalCommitter, error) {
	c, err := s.Sink.(engine.GlobalCommitSink[rec]).NewGlobalCommitter(ctx, info)
	if err != nil {
		return nil, err
	}
	return killCommitter{c, s}, nil
}

type killWriter struct {
	engine.SinkWriter[rec]
	st engine.StagingWriter
	s  killSink
}

func (w *killWriter) Write(b []engine.Record[rec]) error {
	if err := w.SinkWriter.Write(b); err != nil {
		return err
	}
	w.s.at.Fire(killAfterWrite)
	return nil
}

func (w *killWriter) Prepare(id int64) ([]byte, error) {
	c, err := w.st.Prepare(id)
	if err == nil && c != nil {
		w.s.at.Fire(killAfterPrepare)
	}
	return c, err
}

type killCommitter struct {
	engine.GlobalCommitter
	s killSink
}

// Commit dies before a checkpoint's commit, or in the middle of it: after
// the first subtask's file is renamed and before the others are.
func (c killCommitter) Commit(ctx context.Context, id int64, cs []engine.Committable) error {
	if len(cs) > 0 {
		c.s.at.Fire(killBeforeCommit)
	}
	if len(cs) > 0 && c.s.at.Due(killMidCommit) {
		if err := c.GlobalCommitter.Commit(ctx, id, cs[:1]); err != nil {
			return err
		}
		crashtest.Die()
	}
	return c.GlobalCommitter.Commit(ctx, id, cs)
}

// TestKillChild is the job TestKillBetweenStagingAndCommit runs in a child
// process; it does nothing unless SLUICE_FILE_KILL_DIR is set.
// SLUICE_FILE_KILL_AT (kind:n) says where it kills itself.
func TestKillChild(t *testing.T) {
	dir, at := crashtest.InChild(t, "SLUICE_FILE_KILL", "TestKillBetweenStagingAndCommit")
	parts, _ := killInput()
	j := crashtest.CheckpointedJob("file-kill", dir, engine.Config{Parallelism: 3, BatchSize: 32}, 20*time.Millisecond)
	slow := crashtest.SlowPartitions(j, parts, 4, time.Millisecond) // many checkpoints while the input flows
	sums := engine.KeyedProcess(engine.KeyBy(slow, func(r rec) string { return r.Key }), "sum",
		engine.KeyedProcessFunction[string, rec, rec](&summer{}))
	var sink engine.Sink[rec] = file.JSONLines[rec](filepath.Join(dir, "out"))
	if at != nil {
		sink = killSink{sink, at}
	}
	engine.SinkTo(sums, "out", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKillBetweenStagingAndCommit kills a child process running a
// checkpointed job with SIGKILL at points drawn from the seed (between
// staging and commit, in the middle of a commit, after staging before
// the checkpoint completes, in the middle of a file), twice, and checks
// after each kill that the output directory holds only complete part
// files and no record twice; then it resumes the job to its end and
// requires every record exactly once and no file left behind.
func TestKillBetweenStagingAndCommit(t *testing.T) {
	child := crashtest.NewChild(t, "TestKillChild", "SLUICE_FILE_KILL", 2*time.Minute)
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 20))
	out := filepath.Join(child.Dir, "out")
	kinds := []string{killBeforeCommit, killMidCommit, killAfterPrepare, killAfterWrite}
	next := func() string {
		kind := kinds[rng.IntN(len(kinds))]
		n := 1 + rng.IntN(4)
		if kind == killAfterWrite {
			n = 5 + rng.IntN(60)
		}
		return fmt.Sprintf("%s:%d", kind, n)
	}
	child.Kills(t, seed, 2, next, func(kill int, at string) {
		files, lines := output(t, out)
		if dup := firstDuplicate(lines); dup != "" {
			t.Fatalf("seed %d: after a kill at %s, %s is committed twice", seed, at, dup)
		}
		t.Logf("kill %d at %s: %d committed files, %d records; left behind: %q", kill, at, len(files), len(lines), strays(t, out))
	})
	files, lines := output(t, out)
	slices.Sort(lines)
	if _, want := killInput(); !slices.Equal(lines, want) {
		t.Fatalf("seed %d: after two kills and a resumed run: %s", seed, diffLines(lines, want))
	}
	if left := strays(t, out); len(left) != 0 {
		t.Fatalf("seed %d: files left behind after the resumed run finished: %q", seed, left)
	}
	t.Logf("%d records exactly once in %d files", len(lines), len(files))
}

func firstDuplicate(lines []string) string {
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			return l
		}
		seen[l] = true
	}
	return ""
}
