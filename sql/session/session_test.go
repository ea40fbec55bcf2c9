package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// syncBuffer is a bytes.Buffer the print sink's goroutines may write while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func exec(t *testing.T, s *Session, text string) *Result {
	t.Helper()
	r, err := s.Execute(context.Background(), text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return r
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a condition to wait for, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const genTable = `CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5',
  'fields.name.length' = '3');`

func TestSessionStatements(t *testing.T) {
	var out syncBuffer
	s := New(Options{Dir: t.TempDir(), Stdout: &out})
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if r := exec(t, s, genTable); !slices.Equal(r.Output, []string{"[INFO] Execute statement succeeded."}) {
		t.Fatalf("CREATE TABLE: %q", r.Output)
	}
	exec(t, s, "CREATE TABLE snk (id BIGINT) WITH ('connector' = 'print');")
	if r := exec(t, s, "SHOW TABLES;"); !slices.Equal(r.Output, []string{"snk", "src"}) {
		t.Fatalf("SHOW TABLES: %q", r.Output)
	}
	if names := s.Catalog().TableNames(); !slices.Equal(names, []string{"snk", "src"}) {
		t.Fatalf("catalog tables %q", names)
	}
	if r := exec(t, s, "EXPLAIN INSERT INTO snk SELECT id FROM src;"); !strings.Contains(strings.Join(r.Output, "\n"), "TableSourceScan(table=[src]") {
		t.Fatalf("EXPLAIN: %q", r.Output)
	}

	// An error in a statement after others is placed in that statement.
	_, err := s.Execute(context.Background(), "SELECT idx\n  FROM src;")
	var de *diag.Error
	if !errors.As(err, &de) || de.Span.Start.Line != 1 || de.Span.Start.Col != 8 || !strings.Contains(err.Error(), "line 1, column 8: Column 'idx' not found") {
		t.Fatalf("bad column: %v", err)
	}
	if _, err := s.Execute(context.Background(), "SELECT id FROM nope;"); err == nil || !strings.Contains(err.Error(), "line 1, column 16: Object 'nope' not found") {
		t.Fatalf("bad table: %v", err)
	}
	// A failed DDL is not kept.
	if _, err := s.Execute(context.Background(), "CREATE TABLE bad (id BIGINT) WITH ('connector' = 'nope');"); err == nil {
		t.Fatal("a table with an unknown connector was created")
	}
	if r := exec(t, s, "SHOW TABLES;"); !slices.Equal(r.Output, []string{"snk", "src"}) {
		t.Fatalf("SHOW TABLES after a failed CREATE: %q", r.Output)
	}

	// INSERT: a background job with an id, listed by SHOW JOBS.
	r := exec(t, s, "INSERT INTO snk SELECT id * 10 FROM src;")
	if r.Job == nil || len(r.Job.ID) != 32 || !strings.HasSuffix(r.Output[len(r.Output)-1], r.Job.ID) {
		t.Fatalf("INSERT: %+v", r)
	}
	if err := r.Job.Wait(); err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(out.String())
	slices.Sort(got)
	if !slices.Equal(got, []string{"+I[10]", "+I[20]", "+I[30]", "+I[40]", "+I[50]"}) {
		t.Fatalf("print output %q", got)
	}
	jobs := strings.Join(exec(t, s, "SHOW JOBS;").Output, "\n")
	if !strings.Contains(jobs, r.Job.ID) || !strings.Contains(jobs, "FINISHED") || !strings.Contains(jobs, "| 5          | 5           |") || !strings.Contains(jobs, "INSERT INTO snk SELECT id * 10 FROM src") {
		t.Fatalf("SHOW JOBS:\n%s", jobs)
	}
	if _, err := s.Execute(context.Background(), "STOP JOB '"+r.Job.ID+"';"); err == nil || !strings.Contains(err.Error(), "is FINISHED, not RUNNING") {
		t.Fatalf("STOP of a finished job: %v", err)
	}
	if _, err := s.Execute(context.Background(), "STOP JOB 'abc';"); err == nil || !strings.Contains(err.Error(), "line 1, column 10: Could not stop job abc") {
		t.Fatalf("STOP of an unknown job: %v", err)
	}

	// SELECT: the rows in a result table.
	r = exec(t, s, "SELECT id, id * 2 AS twice FROM src WHERE id > 2;")
	if r.Query == nil || !slices.Equal(r.Query.Columns, []string{"id", "twice"}) {
		t.Fatalf("SELECT: %+v", r)
	}
	if err := r.Query.Wait(); err != nil {
		t.Fatal(err)
	}
	rows, _ := r.Query.Snapshot()
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	if fmt.Sprint(rows) != "[[3 6] [4 8] [5 10]]" {
		t.Fatalf("result %v", rows)
	}
}

// TestQueryChangelog applies every row kind to a result table: -U and -D
// remove an equal row, +I and +U add one; past the bound the oldest rows
// go.
func TestQueryChangelog(t *testing.T) {
	l := row.NewLayout([]types.Type{types.StringType(), types.BigIntType()}, []string{"k", "n"})
	q := &Query{max: 3, changed: make(chan struct{})}
	mk := func(k row.Kind, s string, n int64) *row.Row {
		r, err := l.Of(k, s, n)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ch := q.Changed()
	q.apply(mk(row.Insert, "a", 1))
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by a change")
	}
	for _, r := range []*row.Row{mk(row.Insert, "b", 1), mk(row.UpdateBefore, "a", 1), mk(row.UpdateAfter, "a", 2), mk(row.Insert, "c", 1), mk(row.Delete, "b", 1)} {
		q.apply(r)
	}
	rows, v := q.Snapshot()
	if fmt.Sprint(rows) != "[[a 2] [c 1]]" || v != 6 {
		t.Fatalf("after the changelog: %v (version %d)", rows, v)
	}
	for _, s := range []string{"d", "e"} {
		q.apply(mk(row.Insert, s, 1))
	}
	q.apply(mk(row.Delete, "zz", 9)) // nothing to retract: no change
	if rows, v := q.Snapshot(); fmt.Sprint(rows) != "[[c 1] [d 1] [e 1]]" || v != 8 {
		t.Fatalf("past the bound: %v (version %d)", rows, v)
	}
}

// TestStopWithSavepointAndResume stops a checkpointed INSERT into a
// filesystem table with a savepoint, starts it again from the savepoint
// (SET 'execution.savepoint.path') and checks that every row is written
// exactly once.
func TestStopWithSavepointAndResume(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	s := New(Options{Dir: filepath.Join(dir, "session")})
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	exec(t, s, "SET 'execution.checkpointing.interval' = '50 ms';")
	exec(t, s, `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '2000');`)
	exec(t, s, "CREATE TABLE snk (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '"+out+"', 'format' = 'json');")
	const insert = "INSERT INTO snk SELECT id FROM src;"
	first := exec(t, s, insert).Job
	waitFor(t, "rows read", func() bool { in, _ := first.Records(); return in > 100 })
	r := exec(t, s, "STOP JOB '"+first.ID+"' WITH SAVEPOINT;")
	if len(r.Output) != 6 || !strings.Contains(r.Output[1], "savepoint path") {
		t.Fatalf("STOP JOB WITH SAVEPOINT: %q", r.Output)
	}
	sp := strings.TrimSpace(strings.Trim(r.Output[3], "|"))
	if _, err := os.Stat(sp); err != nil || first.Status() != Canceled {
		t.Fatalf("savepoint %q: %v; job %s", sp, err, first.Status())
	}
	if in, _ := first.Records(); in >= 2000 {
		t.Skipf("the job read all %d rows before it was stopped", in)
	}
	exec(t, s, "SET 'execution.savepoint.path' = '"+sp+"';")
	second := exec(t, s, insert).Job
	if err := second.Wait(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "part-*"))
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
	for i := 1; i <= 2000; i++ {
		if l := fmt.Sprintf(`{"id":%d}`, i); seen[l] != 1 {
			t.Fatalf("row %s written %d times", l, seen[l])
		}
	}
	jobs := strings.Join(exec(t, s, "SHOW JOBS;").Output, "\n")
	if !strings.Contains(jobs, first.ID+" | "+insert[:len(insert)-1]+" | CANCELED") || !strings.Contains(jobs, second.ID) {
		t.Fatalf("SHOW JOBS:\n%s", jobs)
	}
}

func TestSplit(t *testing.T) {
	stmts, rest := Split("SELECT ';' FROM t; -- a ; comment\nSHOW TABLES;\n/* ; */ SELECT \"a;b\"")
	if len(stmts) != 2 || stmts[0] != "SELECT ';' FROM t;" || !strings.HasSuffix(stmts[1], "SHOW TABLES;") || rest != "\n/* ; */ SELECT \"a;b\"" {
		t.Fatalf("Split: %q, rest %q", stmts, rest)
	}
}

func TestSplitJobs(t *testing.T) {
	src := genTable + "\nINSERT INTO a SELECT 1;\nSELECT 2;\n"
	stmts, err := parser.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	jobs := SplitJobs(src, stmts)
	if len(jobs) != 2 || !strings.Contains(jobs[0], "INSERT INTO a") || strings.Contains(jobs[0], "SELECT 2") ||
		strings.Contains(jobs[1], "INSERT") || len(jobs[1]) != len(src) || !strings.Contains(jobs[1], "CREATE TABLE src") {
		t.Fatalf("SplitJobs: %q", jobs)
	}
	if !isJob(&ast.Explain{Stmt: &ast.QueryStmt{}}) {
		t.Fatal("EXPLAIN SELECT is not a job")
	}
}
