package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const runScript = `CREATE TABLE src (id BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 1000, 3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '4');
CREATE TABLE snk (id BIGINT) WITH ('connector' = 'print');
INSERT INTO snk SELECT id * 2 FROM src WHERE id > 2;
`

func TestRunSQL(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.sql")
	if err := os.WriteFile(file, []byte(runScript), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"run", file}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := strings.Fields(out.String())
	if len(got) != 2 || !(got[0] == "+I[6]" && got[1] == "+I[8]" || got[0] == "+I[8]" && got[1] == "+I[6]") {
		t.Fatalf("output %q", out.String())
	}

	out.Reset()
	if code := run(context.Background(), []string{"run", "--explain", file}, &out, &errOut); code != 0 {
		t.Fatalf("explain: exit %d", code)
	}
	if !strings.Contains(out.String(), "TableSourceScan(table=[src]") {
		t.Fatalf("explain output %q", out.String())
	}

	bad := filepath.Join(dir, "bad.sql")
	if err := os.WriteFile(bad, []byte(strings.Replace(runScript, "id > 2", "idx > 2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"run", bad}, &out, &errOut); code != 1 {
		t.Fatalf("bad script: exit %d", code)
	}
	if !strings.Contains(errOut.String(), "line 4, column 46: Column 'idx' not found") || !strings.Contains(errOut.String(), "^~~") {
		t.Fatalf("bad script error %q", errOut.String())
	}
}

// TestRunInterruptAndResume interrupts a checkpointed run, resumes it from
// its final checkpoint and checks that the filesystem sink holds every row
// exactly once.
func TestRunInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := `SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '4000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000');
CREATE TABLE snk (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + out + `', 'format' = 'json');
INSERT INTO snk SELECT id FROM src;
`
	file := filepath.Join(dir, "p.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"run", file, "--checkpoint-dir", ckpt}, &stdout, &stderr); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr.String())
	}
	t.Logf("first run: %s", stderr.String())
	stderr.Reset()
	if code := run(context.Background(), []string{"run", file, "--checkpoint-dir", ckpt, "--resume"}, &stdout, &stderr); code != 0 {
		t.Fatalf("resumed run: exit %d: %s", code, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "part-*-*-*"))
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
	for i := 1; i <= 3000; i++ {
		if l := fmt.Sprintf(`{"id":%d}`, i); seen[l] != 1 {
			t.Fatalf("row %s written %d times", l, seen[l])
		}
	}
	if len(seen) != 3000 {
		t.Fatalf("%d distinct rows, want 3000", len(seen))
	}
}

// TestRunExampleExplains: the README's SQL example plans (its full run is
// in .ci/readme.sh, which runs the README verbatim).
func TestRunExampleExplains(t *testing.T) {
	out, errs, code := runSluice("run", "../../examples/sql/clicks.sql", "--explain")
	if code != 0 || !strings.Contains(out, "WindowAggregate(window=[TUMBLE(time_col=[ts], size=[10s])]") || !strings.Contains(out, "sink \"clicks_per_user\" (filesystem, format json; exactly once") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}

// TestRunShardlogDataDir writes a shardlog table in one run and reads it
// back in another, both with --data-dir; a run without it is refused by
// name.
func TestRunShardlogDataDir(t *testing.T) {
	dir := t.TempDir()
	write := filepath.Join(dir, "write.sql")
	read := filepath.Join(dir, "read.sql")
	if err := os.WriteFile(write, []byte(`CREATE TABLE gen (id INT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3');
CREATE TABLE lg (id INT) WITH ('connector' = 'shardlog', 'stream' = 'ids', 'format' = 'csv');
INSERT INTO lg SELECT id FROM gen;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(read, []byte(`CREATE TABLE lg (id INT, sh STRING METADATA FROM 'shard-id' VIRTUAL) WITH ('connector' = 'shardlog',
  'stream' = 'ids', 'format' = 'csv', 'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.bounded' = 'true');
CREATE TABLE snk (id INT, sh STRING) WITH ('connector' = 'print');
INSERT INTO snk SELECT id * 10, sh FROM lg;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"run", "--data-dir", data, write}, &out, &errOut); code != 0 {
		t.Fatalf("write: exit %d: %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"run", "--data-dir", data, read}, &out, &errOut); code != 0 {
		t.Fatalf("read: exit %d: %s", code, errOut.String())
	}
	got := strings.Fields(out.String())
	slices.Sort(got)
	if want := []string{"+I[10,", "+I[20,", "+I[30,", "shardId-000000000000]", "shardId-000000000000]", "shardId-000000000000]"}; !slices.Equal(got, want) {
		t.Fatalf("read back %q, want %q", got, want)
	}
	// Without --data-dir a run has a fresh temporary data directory, so
	// the stream another run wrote is not there; the directory is removed
	// when the run ends.
	errOut.Reset()
	if code := run(context.Background(), []string{"run", read}, &out, &errOut); code != 1 {
		t.Fatalf("without --data-dir: exit %d", code)
	}
	m := regexp.MustCompile(`data directory (\S+) \(temporary`).FindStringSubmatch(errOut.String())
	if m == nil || !strings.Contains(errOut.String(), `table 'lg': stream 'ids': shardlog: stream "ids" not found`) {
		t.Fatalf("without --data-dir: %q", errOut.String())
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Fatalf("the temporary data directory %s is still there (%v)", m[1], err)
	}
}

// TestRunJobsInOrder: a script of two top-level INSERTs runs them as two
// jobs in order — the second reads, bounded, the stream the first wrote —
// and the summary gives each sink's rows and the files the run added. A
// second run without --data-dir starts from a fresh stream: it reads its
// own three records, not six, and its summary counts only its own file.
func TestRunJobsInOrder(t *testing.T) {
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	script := filepath.Join(dir, "two.sql")
	if err := os.WriteFile(script, []byte(`CREATE TABLE gen (id INT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3');
CREATE TABLE lg (id INT) WITH ('connector' = 'shardlog', 'stream' = 'ids', 'stream.shards' = '2', 'format' = 'csv',
  'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.bounded' = 'true');
CREATE TABLE snk (id INT) WITH ('connector' = 'filesystem', 'path' = '`+outDir+`', 'format' = 'csv');
INSERT INTO lg SELECT id FROM gen;
INSERT INTO snk SELECT id * 10 FROM lg;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var explain bytes.Buffer
	if code := run(context.Background(), []string{"run", script, "--explain"}, &explain, io.Discard); code != 0 ||
		!strings.Contains(explain.String(), "=== Job 1 of 2") || !strings.Contains(explain.String(), "=== Job 2 of 2") ||
		strings.Index(explain.String(), `sink "lg"`) > strings.Index(explain.String(), `sink "snk"`) {
		t.Fatalf("explain: exit %d\n%s", code, explain.String())
	}
	var all []string
	for n := 1; n <= 2; n++ {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"run", script, "--progress", "0"}, &out, &errOut); code != 0 {
			t.Fatalf("run %d: exit %d: %s", n, code, errOut.String())
		}
		files, err := filepath.Glob(filepath.Join(outDir, "part-*"))
		if err != nil || len(files) != n {
			t.Fatalf("run %d: part files %v (%v), want %d", n, files, err, n)
		}
		slices.Sort(files)
		var newest string
		for _, f := range files {
			if !slices.Contains(all, f) {
				newest = f
			}
		}
		all = files
		body, err := os.ReadFile(newest)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(string(body))
		slices.Sort(got)
		if !slices.Equal(got, []string{"10", "20", "30"}) {
			t.Fatalf("run %d wrote %q, want 10, 20, 30", n, got)
		}
		for _, want := range []string{
			`lg: 3 records to stream "ids" of the log in `,
			fmt.Sprintf("snk: 3 rows, 1 file, %d bytes under %s (first: %s)", len(body), outDir, filepath.Base(newest)),
		} {
			if !strings.Contains(errOut.String(), want) {
				t.Fatalf("run %d: summary lacks %q:\n%s", n, want, errOut.String())
			}
		}
		if strings.Index(errOut.String(), `job "`+script+`#1" finished`) > strings.Index(errOut.String(), `job "`+script+`#2" started`) {
			t.Fatalf("run %d: the jobs overlap:\n%s", n, errOut.String())
		}
	}
	// An error in the second job keeps the file's line and column.
	bad := strings.Replace(mustRead(t, script), "id * 10 FROM lg", "idd * 10 FROM lg", 1)
	if err := os.WriteFile(script, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"run", script}, io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), "line 7, column 24: Column 'idd' not found") {
		t.Fatalf("bad second job: exit %d: %s", code, errOut.String())
	}
	fixed := strings.Replace(bad, "idd", "id", 1)
	if err := os.WriteFile(script, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	// With --checkpoint-dir each job leaves a finished marker in its own
	// directory: --resume after a complete run runs neither again.
	ckpt, data := filepath.Join(dir, "ckpt"), filepath.Join(dir, "data")
	for _, resume := range []bool{false, true} {
		args := []string{"run", script, "--checkpoint-dir", ckpt, "--data-dir", data, "--progress", "0"}
		if resume {
			args = append(args, "--resume")
		}
		errOut.Reset()
		if code := run(context.Background(), args, io.Discard, &errOut); code != 0 {
			t.Fatalf("resume=%v: exit %d: %s", resume, code, errOut.String())
		}
		skipped := strings.Count(errOut.String(), "finished in an earlier run: skipped")
		if resume && skipped != 2 || !resume && skipped != 0 {
			t.Fatalf("resume=%v: %d jobs skipped:\n%s", resume, skipped, errOut.String())
		}
	}
	if files, _ := filepath.Glob(filepath.Join(outDir, "part-*")); len(files) != 3 {
		t.Fatalf("part files %v, want 3 (the two runs above, the run before --resume)", files)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
