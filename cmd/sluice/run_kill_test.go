package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// sluiceBinary builds the sluice command once for the tests that run it
// as a process of its own (a kill, a pseudo-terminal).
func sluiceBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// waitUntil polls cond until it holds, failing after a generous deadline
// (waiting for a condition, not asserting a time).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rowsIn counts the lines of the committed part files under dir.
func rowsIn(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Fields(string(b)) {
			seen[l]++
		}
	}
	return seen
}

// TestRunResumeSeveralJobsAfterKill kills (SIGKILL) `sluice run` in the
// second job of a two-job checkpointed script and resumes it: the first
// job, which had finished, is not run again, the second continues from
// its own latest checkpoint, and both sinks hold every row exactly once.
func TestRunResumeSeveralJobsAfterKill(t *testing.T) {
	bin := sluiceBinary(t)
	dir := t.TempDir()
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	script := `SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE gen1 (id BIGINT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100');
CREATE TABLE gen2 (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '4000');
CREATE TABLE snk1 (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + out1 + `', 'format' = 'json');
CREATE TABLE snk2 (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + out2 + `', 'format' = 'json');
INSERT INTO snk1 SELECT id FROM gen1;
INSERT INTO snk2 SELECT id FROM gen2;
`
	file := filepath.Join(dir, "two.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "ckpt")
	cmd := exec.Command(bin, "run", file, "--checkpoint-dir", ckpt, "--progress", "0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	waitUntil(t, "a committed file of the second job", func() bool { return len(rowsIn(t, out2)) > 0 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: its exit status says so
	killed = true
	before := len(rowsIn(t, out2))
	if before >= 4000 {
		t.Skipf("the second job wrote all its rows before the kill")
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"run", file, "--checkpoint-dir", ckpt, "--resume", "--progress", "0"}, &out, &errOut); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), `job "`+file+`#1" finished in an earlier run: skipped`) {
		t.Fatalf("resume did not skip the finished job:\n%s", errOut.String())
	}
	for _, c := range []struct {
		dir string
		n   int
	}{{out1, 100}, {out2, 4000}} {
		seen := rowsIn(t, c.dir)
		for i := 1; i <= c.n; i++ {
			if l := fmt.Sprintf(`{"id":%d}`, i); seen[l] != 1 {
				t.Fatalf("%s: row %s written %d times", c.dir, l, seen[l])
			}
		}
		if len(seen) != c.n {
			t.Fatalf("%s: %d distinct rows, want %d", c.dir, len(seen), c.n)
		}
	}
	t.Logf("killed with %d rows of the second job committed", before)
}
