package firehose

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
)

// Where the child kills itself, at the n-th store call of that kind.
const (
	killMidPut      = "mid-put"      // a journal intent's temporary file written, not renamed
	killAfterStage  = "after-stage"  // a data object staged, its checkpoint not complete
	killAfterCommit = "after-commit" // an object renamed, its intent not deleted
	killAfterDelete = "after-delete" // an intent deleted
)

var killKinds = []string{killMidPut, killAfterStage, killAfterCommit, killAfterDelete}

const killRecords = 10000

// killStore is a DirStore whose process dies at the n-th call of one kind.
type killStore struct {
	*DirStore
	at    string
	n     int64
	calls atomic.Int64
}

func (s *killStore) point(kind string) {
	if s.at == kind && s.calls.Add(1) == s.n {
		syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// Put is DirStore.Put with a kill point between its two steps.
func (s *killStore) Put(ctx context.Context, key string, body []byte) error {
	st, err := s.DirStore.Stage(ctx, key, body)
	if err != nil {
		return err
	}
	s.point(killMidPut)
	return s.DirStore.Commit(ctx, st)
}

func (s *killStore) Stage(ctx context.Context, key string, body []byte) (Staged, error) {
	st, err := s.DirStore.Stage(ctx, key, body)
	if err == nil {
		s.point(killAfterStage)
	}
	return st, err
}

func (s *killStore) Commit(ctx context.Context, st Staged) error {
	err := s.DirStore.Commit(ctx, st)
	if err == nil {
		s.point(killAfterCommit)
	}
	return err
}

func (s *killStore) Delete(ctx context.Context, key string) error {
	err := s.DirStore.Delete(ctx, key)
	if err == nil {
		s.point(killAfterDelete)
	}
	return err
}

// TestKillChild is the job TestSinkKilled runs in a child process; it does
// nothing unless SLUICE_FIREHOSE_KILL_DIR is set. SLUICE_FIREHOSE_KILL_AT
// (kind:n) says where it kills itself.
func TestKillChild(t *testing.T) {
	dir := os.Getenv("SLUICE_FIREHOSE_KILL_DIR")
	if dir == "" {
		t.Skip("run by TestSinkKilled")
	}
	ds, err := NewDirStore(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	store := &killStore{DirStore: ds}
	if at := os.Getenv("SLUICE_FIREHOSE_KILL_AT"); at != "" {
		kind, ns, _ := strings.Cut(at, ":")
		if store.n, err = strconv.ParseInt(ns, 10, 64); err != nil {
			t.Fatal(err)
		}
		store.at = kind
	}
	cfg := Config{Name: "kill", Prefix: "data/", Directory: &DirectoryConfig{Path: "unused"}, // Deps.Store
		Format: Format{Type: FormatJSONLines}, Buffering: BufferingHints{IntervalInSeconds: Seconds(0)},
		RetryDurationInSeconds: Seconds(0)}
	sink, err := NewSink[string](cfg, SinkOptions{Deps: Deps{Store: store}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([][]string, 2)
	for i := 0; i < killRecords; i++ {
		parts[i%2] = append(parts[i%2], fmt.Sprintf(`{"n":%d}`, i))
	}
	j := engine.NewJob("firehose-kill", engine.Config{Parallelism: 2, BatchSize: 16,
		Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Millisecond, Dir: filepath.Join(dir, "checkpoints"), Resume: true}})
	var n atomic.Int64
	slow := engine.Map(engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[string]{}), "slow", func(s string) string {
		if n.Add(1)%8 == 0 {
			time.Sleep(200 * time.Microsecond) // checkpoints while the input flows
		}
		return s
	})
	engine.SinkTo(slow, "firehose", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSinkKilled delivers through the directory destination in a child
// process that SIGKILLs itself 70 times at points drawn from the seed
// (in the middle of writing an intent, after staging, committing or
// deleting an intent), then resumes the job to its end: every record is
// delivered exactly once, and nothing staged or journaled is left under
// the output directory.
func TestSinkKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 70))
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	run := func(killAt string) (killed bool) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SLUICE_FIREHOSE_KILL_DIR="+dir, "SLUICE_FIREHOSE_KILL_AT="+killAt)
		var buf strings.Builder
		cmd.Stdout, cmd.Stderr = &buf, &buf
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("seed %d: child (kill at %q) did not finish in time: %s", seed, killAt, buf.String())
		}
		if err == nil {
			return false
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				return true
			}
		}
		t.Fatalf("seed %d: child (kill at %q): %v\n%s", seed, killAt, err, buf.String())
		return false
	}
	kills := 0
	for kills < 70 {
		kind := killKinds[rng.IntN(len(killKinds))]
		at := fmt.Sprintf("%s:%d", kind, 1+rng.IntN(10))
		if !run(at) {
			t.Fatalf("seed %d: the job ended before kill %d (at %s): the test needs a longer input", seed, kills+1, at)
		}
		kills++
	}
	if run("") {
		t.Fatalf("seed %d: the clean run was killed", seed)
	}
	got := map[int]int{}
	for key, body := range files(t, out) {
		if strings.HasPrefix(key, ".sluice-staging/") {
			continue // checked below
		}
		for _, n := range decodeObject(t, key, body) {
			got[n]++
		}
	}
	for i := 0; i < killRecords; i++ {
		if got[i] != 1 {
			t.Fatalf("seed %d: after %d kills, record %d delivered %d times", seed, kills, i, got[i])
		}
	}
	if len(got) != killRecords {
		t.Fatalf("seed %d: %d distinct records delivered, want %d", seed, len(got), killRecords)
	}
	var strays []string
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			if strings.Contains(d.Name(), stagedMarker) || strings.HasPrefix(filepath.ToSlash(rel), ".sluice-staging/") {
				strays = append(strays, rel)
			}
		}
		return nil
	})
	if len(strays) != 0 {
		t.Fatalf("seed %d: after %d kills and a clean run, left under the output directory: %q", seed, kills, strays)
	}
	t.Logf("seed %d: %d kills, %d records exactly once", seed, kills, killRecords)
}
