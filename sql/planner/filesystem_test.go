package planner_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFilesystemSink writes JSON lines through the exactly-once rolling
// file sink and reads them back.
func TestFilesystemSink(t *testing.T) {
	dir := t.TempDir()
	src := `
CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5',
  'fields.name.kind' = 'sequence', 'fields.name.start' = '10', 'fields.name.end' = '14');
CREATE TABLE snk (id BIGINT, name STRING, big BOOLEAN) WITH ('connector' = 'filesystem', 'path' = '` + dir + `', 'format' = 'json');
INSERT INTO snk SELECT id, name, id > 3 FROM src;
`
	if _, err := runSQL(t, src); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "part-*-*-*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no committed files in %s (%v)", dir, err)
	}
	var lines []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	slices.Sort(lines)
	want := []string{
		`{"id":1,"name":"10","big":false}`, `{"id":2,"name":"11","big":false}`, `{"id":3,"name":"12","big":false}`,
		`{"id":4,"name":"13","big":true}`, `{"id":5,"name":"14","big":true}`,
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
