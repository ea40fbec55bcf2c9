package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSQLFile runs the README's `sluice sql -f` example: the DDL's [INFO]
// line, SHOW TABLES, DESCRIBE and the query's final result table.
func TestSQLFile(t *testing.T) {
	out, errs, code := runSluice("sql", "-f", "../../examples/sql/shell.sql")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, re := range []string{
		`(?m)^\[INFO\] Execute statement succeeded\.\norders\n`,
		`(?m)^ts +\| TIMESTAMP_LTZ\(3\) \*ROWTIME\* `,
		`(?m)^\| id \| doubled \| ts +\|$`,
		`(?m)^\| 3  \| \d+ +\| 1970-01-01T00:00:03Z \|$`,
		`(?m)^\| 5  \| \d+ +\| 1970-01-01T00:00:05Z \|$`,
		`(?m)^3 rows in set$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Fatalf("output lacks %s:\n%s", re, out)
		}
	}
}

// TestSQLFileError: the first bad statement stops the run with the file's
// line and column; an INSERT before it ran as a background job.
func TestSQLFileError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.sql")
	if err := os.WriteFile(file, []byte(`CREATE TABLE t (id BIGINT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '2');
CREATE TABLE p (id BIGINT) WITH ('connector' = 'print');
INSERT INTO p SELECT id FROM t;

SELECT idd
FROM t;
SHOW TABLES;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runSluice("sql", "-f", file)
	if code != 1 || !strings.Contains(errs, "line 6, column 8: Column 'idd' not found") || !strings.Contains(errs, "  SELECT idd\n         ^~~") || !strings.Contains(out, "Job ID: ") || strings.Contains(out, "\np\n") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}
