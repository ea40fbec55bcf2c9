package planner_test

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// objects are the visible objects a directory destination holds (the
// staging journal and hidden staged files aside), by key.
func objects(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && de.Name() == ".sluice-staging" {
			return filepath.SkipDir
		}
		if de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func firehoseWrite(t *testing.T, dir, table string) {
	t.Helper()
	src := fmt.Sprintf(`SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '20 ms';
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d');
`, fsRows) + table + `
INSERT INTO fh SELECT id, CAST(id %% 3 AS INT), CONCAT('r', CAST(id %% 2 AS STRING)), id / 4.0, CONCAT('n', CAST(id AS STRING)),
  TO_TIMESTAMP(FROM_UNIXTIME(1704164645 + id)) FROM gen;
`
	runSQLCheckpointed(t, strings.ReplaceAll(src, "%%", "%"))
}

// TestFirehoseParquet writes Parquet through a firehose table under a
// !{timestamp:yyyy/MM/dd/HH} prefix into a directory, with checkpoints
// while it runs (exactly once), and reads every object back with pqarrow:
// the rows are the batch computation's, each once, and every object's
// prefix is an hour of the run.
func TestFirehoseParquet(t *testing.T) {
	dir := t.TempDir()
	before := time.Now().UTC().Truncate(time.Hour)
	firehoseWrite(t, dir, `CREATE TABLE fh (id BIGINT, k INT, region STRING, x DOUBLE, s STRING, ts TIMESTAMP(3)) WITH (
  'connector' = 'firehose', 'destination' = 'dir', 'path' = '`+dir+`',
  'prefix' = 'data/!{timestamp:yyyy/MM/dd/HH}/', 'error-output-prefix' = 'errors/!{firehose:error-output-type}/',
  'format' = 'parquet', 'buffering.size' = '1 mb', 'buffering.interval' = '60 s');`)
	after := time.Now().UTC()
	name := regexp.MustCompile(`^data/(\d{4}/\d{2}/\d{2}/\d{2})/fh-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.parquet$`)
	var got []string
	keys := objects(t, dir)
	if len(keys) == 0 {
		t.Fatal("no objects delivered")
	}
	t.Logf("%d objects, e.g. %s", len(keys), keys[0])
	for _, k := range keys {
		m := name.FindStringSubmatch(k)
		if m == nil {
			t.Fatalf("object %s is not a data object under the prefix", k)
		}
		hour, err := time.Parse("2006/01/02/15", m[1])
		if err != nil || hour.Before(before) || hour.After(after) {
			t.Fatalf("object %s: prefix hour outside the run (%v to %v)", k, before, after)
		}
		got = append(got, readFirehoseParquet(t, filepath.Join(dir, k))...)
	}
	slices.Sort(got)
	if g, want := strings.Join(got, "\n")+"\n", fsWant(fsRows); g != want {
		t.Fatalf("pqarrow read:\n%s\nwant:\n%s", g, want)
	}
}

// TestFirehosePartitionedJSON: PARTITIONED BY columns are Firehose's
// dynamic partitioning keys, in the prefix as
// !{partitionKeyFromQuery:col}; objects are JSON lines with every column.
func TestFirehosePartitionedJSON(t *testing.T) {
	dir := t.TempDir()
	firehoseWrite(t, dir, `CREATE TABLE fh (id BIGINT, k INT, region STRING, x DOUBLE, s STRING, ts TIMESTAMP(3))
PARTITIONED BY (region) WITH (
  'connector' = 'firehose', 'destination' = 'dir', 'path' = '`+dir+`',
  'prefix' = 'region=!{partitionKeyFromQuery:region}/', 'error-output-prefix' = 'errors/!{firehose:error-output-type}/',
  'compression' = 'UNCOMPRESSED', 'buffering.size' = '1 mb');`)
	name := regexp.MustCompile(`^region=(r[01])/fh-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$`)
	var got []string
	for _, k := range objects(t, dir) {
		m := name.FindStringSubmatch(k)
		if m == nil {
			t.Fatalf("object %s is not a data object of a partition", k)
		}
		f, err := os.Open(filepath.Join(dir, k))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r struct {
				ID     int64   `json:"id"`
				K      int     `json:"k"`
				Region string  `json:"region"`
				X      float64 `json:"x"`
				S      string  `json:"s"`
				TS     string  `json:"ts"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if r.Region != m[1] {
				t.Fatalf("%s holds a row of region %s", k, r.Region)
			}
			ts, err := time.Parse("2006-01-02 15:04:05", r.TS)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			got = append(got, fmt.Sprintf("+I[%d, %d, %s, %s, %s, %s]", r.ID, r.K, r.Region, javaDouble(r.X), r.S, javaLocalDateTime(ts)))
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	if g, want := strings.Join(got, "\n")+"\n", fsWant(fsRows); g != want {
		t.Fatalf("read:\n%s\nwant:\n%s", g, want)
	}
}

// TestFirehoseWithoutCheckpoints: a bounded job without checkpoint
// storage delivers at least once, as Firehose does, flushing at the end
// of input: gzip JSON lines, every row there.
func TestFirehoseWithoutCheckpoints(t *testing.T) {
	dir := t.TempDir()
	_, err := runSQL(t, `CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '50');
CREATE TABLE fh (id BIGINT) WITH ('connector' = 'firehose', 'destination' = 'dir', 'path' = '`+dir+`',
  'prefix' = 'p/', 'compression' = 'GZIP');
INSERT INTO fh SELECT id FROM gen;`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for _, k := range objects(t, dir) {
		if !regexp.MustCompile(`^p/\d{4}/\d{2}/\d{2}/\d{2}/fh-1-.*\.gz$`).MatchString(k) {
			t.Fatalf("object %s", k)
		}
		f, err := os.Open(filepath.Join(dir, k))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			var r struct{ ID int64 }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			seen[r.ID]++
		}
		f.Close()
	}
	for id := int64(1); id <= 50; id++ {
		if seen[id] != 1 {
			t.Fatalf("row %d delivered %d times", id, seen[id])
		}
	}
}
