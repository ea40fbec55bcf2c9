package firehose

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
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
	cfg := Config{Name: "compat", Prefix: "data/", Directory: &DirectoryConfig{Path: "unused"},
		Format: Format{Type: FormatJSONLines}, Buffering: BufferingHints{IntervalInSeconds: Seconds(0)},
		RetryDurationInSeconds: Seconds(0)}
	sink, err := NewSink[string](cfg, SinkOptions{Deps: Deps{Store: ds}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([][]string, 2)
	for i := 0; i < compatRecords; i++ {
		parts[i%2] = append(parts[i%2], fmt.Sprintf(`{"n":%d}`, i))
	}
	j := engine.NewJob("firehose-compat", engine.Config{Parallelism: 2, BatchSize: 8, StateBackend: "memory",
		Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Millisecond, Dir: filepath.Join(dir, "checkpoints"), Resume: true}})
	var n atomic.Int64
	slow := engine.Map(engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[string]{}), "slow", func(s string) string {
		if n.Add(1)%4 == 0 {
			time.Sleep(time.Millisecond)
		}
		return s
	})
	engine.SinkTo(slow, "firehose", sink)
	return j
}

func TestOldCheckpointRestores(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/sink-v1")); err != nil {
		t.Fatal(err)
	}
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
	for i := 0; i < compatRecords; i++ {
		if got[i] != 1 {
			t.Fatalf("record %d delivered %d times (the old run had committed %d records)", i, got[i], before)
		}
	}
	if len(got) != compatRecords {
		t.Fatalf("%d distinct records, want %d", len(got), compatRecords)
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), stagedMarker) {
			t.Errorf("staged file %s left", p)
		}
		return nil
	})
}
