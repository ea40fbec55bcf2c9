package firehose

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/crashtest"
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
	at *crashtest.Point
}

// Put is DirStore.Put with a kill point between its two steps.
func (s *killStore) Put(ctx context.Context, key string, body []byte) error {
	st, err := s.DirStore.Stage(ctx, key, body)
	if err != nil {
		return err
	}
	s.at.Fire(killMidPut)
	return s.DirStore.Commit(ctx, st)
}

func (s *killStore) Stage(ctx context.Context, key string, body []byte) (Staged, error) {
	st, err := s.DirStore.Stage(ctx, key, body)
	if err == nil {
		s.at.Fire(killAfterStage)
	}
	return st, err
}

func (s *killStore) Commit(ctx context.Context, st Staged) error {
	err := s.DirStore.Commit(ctx, st)
	if err == nil {
		s.at.Fire(killAfterCommit)
	}
	return err
}

func (s *killStore) Delete(ctx context.Context, key string) error {
	err := s.DirStore.Delete(ctx, key)
	if err == nil {
		s.at.Fire(killAfterDelete)
	}
	return err
}

// TestKillChild is the job TestSinkKilled runs in a child process; it does
// nothing unless SLUICE_FIREHOSE_KILL_DIR is set. SLUICE_FIREHOSE_KILL_AT
// (kind:n) says where it kills itself.
func TestKillChild(t *testing.T) {
	dir, at := crashtest.InChild(t, "SLUICE_FIREHOSE_KILL", "TestSinkKilled")
	ds, err := NewDirStore(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	store := &killStore{DirStore: ds, at: at}
	sink := numberedSink(t, "kill", store)
	parts := numberedParts(killRecords)
	j := crashtest.CheckpointedJob("firehose-kill", dir, engine.Config{Parallelism: 2, BatchSize: 16}, 10*time.Millisecond)
	slow := crashtest.SlowPartitions(j, parts, 8, 200*time.Microsecond) // checkpoints while the input flows
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
	child := crashtest.NewChild(t, "TestKillChild", "SLUICE_FIREHOSE_KILL", time.Minute)
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 70))
	out := filepath.Join(child.Dir, "out")
	const kills = 70
	child.Kills(t, seed, kills, func() string {
		return fmt.Sprintf("%s:%d", killKinds[rng.IntN(len(killKinds))], 1+rng.IntN(10))
	}, nil)
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
