package file_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/crashtest"
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
	j := crashtest.CheckpointedJob("file-compat", dir, engine.Config{Parallelism: 2, BatchSize: 8, StateBackend: "memory"}, 10*time.Millisecond)
	slow := crashtest.SlowPartitions(j, parts, 4, time.Millisecond)
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
	dir := crashtest.Fixture(t, "testdata/sink-v1")
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
	crashtest.CheckEachOnce(t, compatCounts(t, out), compatRecords, "committed", before)
	if left := strays(t, out); len(left) != 0 {
		t.Fatalf("files left behind: %q", left)
	}
}
