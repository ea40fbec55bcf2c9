package firehose

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/crashtest"
)

// testdata/sink-v1 is what the Sink as of commit 19569f5 (before it
// committed through the engine's global committer, with its per-attempt
// generations of writers) left behind when its process was killed: the
// checkpoint storage ("checkpoints": checkpoints 4 to 6 complete, with
// the memory state backend) and the directory destination ("out") with
// the objects of checkpoint 3 and earlier committed, those of checkpoints
// 4 to 6 staged and not committed (their commits were held), and their
// intents in the staging journal. TestOldCheckpointRestores resumes the
// same job with today's code: the committables and intents of the old
// code are committed and cleaned up, and the output is exactly once.
//
// It was made by a throwaway test in an old checkout: compatJob's job
// with a Deps.Store that blocks the commit of data objects once
// checkpoint 3 is complete, killed with SIGKILL when checkpoint 6 was
// complete (SLUICE_WRITE_SINK_FIXTURE=dir go test ./connectors/firehose
// -run TestWriteSinkCompatFixture, that test is not kept).

const compatRecords = 600

func compatJob(t *testing.T, dir string) *engine.Job {
	ds, err := NewDirStore(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	sink := numberedSink(t, "compat", ds)
	parts := numberedParts(compatRecords)
	j := crashtest.CheckpointedJob("firehose-compat", dir, engine.Config{Parallelism: 2, BatchSize: 8, StateBackend: "memory"}, 10*time.Millisecond)
	slow := crashtest.SlowPartitions(j, parts, 4, time.Millisecond)
	engine.SinkTo(slow, "firehose", sink)
	return j
}

func TestOldCheckpointRestores(t *testing.T) {
	dir := crashtest.Fixture(t, "testdata/sink-v1")
	out := filepath.Join(dir, "out")
	before := 0
	for key, body := range files(t, out) {
		if !strings.HasPrefix(key, ".sluice-staging/") {
			before += len(decodeObject(t, key, body))
		}
	}
	if before == 0 || before >= compatRecords {
		t.Fatalf("the fixture holds %d committed records: not a job stopped in the middle", before)
	}
	if err := compatJob(t, dir).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for key, body := range files(t, out) {
		if strings.HasPrefix(key, ".sluice-staging/") {
			t.Errorf("intent %s left in the journal", key)
			continue
		}
		for _, n := range decodeObject(t, key, body) {
			got[n]++
		}
	}
	crashtest.CheckEachOnce(t, got, compatRecords, "delivered", before)
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), stagedMarker) {
			t.Errorf("staged file %s left", p)
		}
		return nil
	})
}
