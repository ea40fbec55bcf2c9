package file_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
)

// testdata/sink-v1 is what JSONLines as of commit 19569f5 (before its
// staging and renames went through connectors/internal/localdir) left
// behind when its process was killed: the checkpoint storage
// ("checkpoints": checkpoints 1 to 3 complete, memory state backend) and
// the output directory ("out") with checkpoint 3 half committed (subtask
// 1's file renamed, subtask 0's still in progress, its commit held) and
// the in-progress files of records after checkpoint 3.
// TestOldCheckpointRestores resumes the same job with today's code:
// every record exactly once, nothing in progress left.
//
// It was made by a throwaway test in an old checkout: compatJob's job
// with the sink's writers wrapped to block in Commit once checkpoint 3 was
// complete, killed with SIGKILL 100 ms later
// (SLUICE_WRITE_SINK_FIXTURE=dir go test ./connectors/file -run
// TestWriteSinkCompatFixture; that test is not kept).

const compatRecords = 600

type compatLine struct {
	N int `json:"n"`
}

func compatJob(dir string) *engine.Job {
	parts := make([][]compatLine, 2)
	for i := 0; i < compatRecords; i++ {
		parts[i%2] = append(parts[i%2], compatLine{i})
	}
	j := engine.NewJob("file-compat", engine.Config{Parallelism: 2, BatchSize: 8, StateBackend: "memory",
		Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Millisecond, Dir: filepath.Join(dir, "checkpoints"), Resume: true}})
	var n atomic.Int64
	slow := engine.Map(engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[compatLine]{}), "slow", func(l compatLine) compatLine {
		if n.Add(1)%4 == 0 {
			time.Sleep(time.Millisecond)
		}
		return l
	})
	engine.SinkTo(slow, "out", file.JSONLines[compatLine](filepath.Join(dir, "out")))
	return j
}

func compatCounts(t *testing.T, out string) map[int]int {
	t.Helper()
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "part-") || !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var c compatLine
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				t.Fatalf("%s: line %q: %v", e.Name(), l, err)
			}
			got[c.N]++
		}
	}
	if len(got) == 0 {
		t.Fatal("no committed records")
	}
	return got
}

func TestOldCheckpointRestores(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/sink-v1")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	before := 0
	for _, c := range compatCounts(t, out) {
		before += c
	}
	if before >= compatRecords {
		t.Fatalf("the fixture holds %d committed records: not a job stopped in the middle", before)
	}
	if err := compatJob(dir).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := compatCounts(t, out)
	for i := 0; i < compatRecords; i++ {
		if got[i] != 1 {
			t.Fatalf("record %d committed %d times (the old run had committed %d records)", i, got[i], before)
		}
	}
	if len(got) != compatRecords {
		t.Fatalf("%d distinct records, want %d", len(got), compatRecords)
	}
	if left := strays(t, out); len(left) != 0 {
		t.Fatalf("files left behind: %q", left)
	}
}
