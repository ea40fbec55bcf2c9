package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
