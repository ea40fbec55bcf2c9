package planner_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
)

// TestMain stops the MinIO that s3test.Config may start; without a
// server the S3 tests skip (or fail under SLUICE_REQUIRE_INTEGRATION=1)
// and the others run as before.
func TestMain(m *testing.M) { s3test.Main(m) }

// firehoseS3Script writes rows 1..n of the fsWant computation from a
// datagen table to a firehose table fh delivering to the bucket of sc.
func firehoseS3Script(sc s3.Config, n int, options string) string {
	return fmt.Sprintf(`SET 'parallelism.default' = '2';
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d');
CREATE TABLE fh (id BIGINT, k INT, region STRING, x DOUBLE, s STRING, ts TIMESTAMP(3)) WITH (
  'connector' = 'firehose', 'destination' = 's3', 'bucket' = '%s',
  's3.endpoint' = '%s', 's3.region' = '%s', 's3.path-style' = 'true',
  's3.access-key-id' = '%s', 's3.secret-access-key' = '%s',
  'prefix' = 'events/!{timestamp:yyyy/MM/dd/HH}/', 'error-output-prefix' = 'errors/!{firehose:error-output-type}/',
  'buffering.size' = '1 mb', 'buffering.interval' = '60 s', %s);
INSERT INTO fh SELECT id, CAST(id %% 3 AS INT), CONCAT('r', CAST(id %% 2 AS STRING)), id / 4.0, CONCAT('n', CAST(id AS STRING)),
  TO_TIMESTAMP(FROM_UNIXTIME(1704164645 + id)) FROM gen;
`, n, sc.Bucket, sc.Endpoint, sc.Region, sc.AccessKeyID, sc.SecretAccessKey, options)
}

// TestFirehoseS3ExactlyOnceWithFailures runs a datagen-to-firehose script
// against a real S3 server (MinIO) with failures injected mid-stream and
// restarts from checkpoints, then lists and reads the bucket with the S3
// client: every object is a data object under the !{timestamp:...}
// prefix of an hour of the run, no error objects and no uploads are left
// behind, and every generated row is there exactly once — gzip JSON lines
// and Parquet.
func TestFirehoseS3ExactlyOnceWithFailures(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		name, options string
		ext           string
		read          func(t *testing.T, key string, body []byte) []string
	}{
		{"json-gzip", `'format' = 'json', 'compression' = 'GZIP'`, `\.gz`, readJSONLinesGzip},
		{"parquet", `'format' = 'parquet'`, `\.parquet`, func(t *testing.T, key string, body []byte) []string {
			p := filepath.Join(t.TempDir(), "object.parquet")
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
			return readFirehoseParquet(t, p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := s3test.Config(t)
			before := time.Now().UTC().Truncate(time.Hour)
			runRealSinksWithFailures(t, firehoseS3Script(sc, n, tc.options), []int64{600, 1400})
			after := time.Now().UTC()

			ctx := context.Background()
			b, err := s3.Open(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := b.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			name := regexp.MustCompile(`^events/(\d{4}/\d{2}/\d{2}/\d{2})/fh-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}` + tc.ext + `$`)
			var got []string
			objects := 0
			for _, k := range keys {
				if strings.HasPrefix(k, ".sluice-staging/") {
					continue // the sink's staging journal
				}
				m := name.FindStringSubmatch(k)
				if m == nil {
					t.Fatalf("object %s is not a data object under the prefix", k)
				}
				hour, err := time.Parse("2006/01/02/15", m[1])
				if err != nil || hour.Before(before) || hour.After(after) {
					t.Fatalf("object %s: prefix hour outside the run (%v to %v)", k, before, after)
				}
				body, err := b.Get(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, tc.read(t, k, body)...)
				objects++
			}
			if objects == 0 {
				t.Fatalf("no objects delivered; keys %v", keys)
			}
			t.Logf("%d rows in %d objects", len(got), objects)
			ups, err := b.ListUploads(ctx, "events/")
			if err != nil {
				t.Fatal(err)
			}
			if len(ups) != 0 {
				t.Errorf("%d multipart uploads left incomplete under events/, e.g. %s", len(ups), ups[0].Key)
			}
			seen := map[string]int{}
			for _, r := range got {
				seen[r]++
			}
			var dups []string
			for r, c := range seen {
				if c != 1 {
					dups = append(dups, fmt.Sprintf("%s %d times", r, c))
				}
			}
			if len(dups) > 0 {
				slices.Sort(dups)
				t.Errorf("%d rows delivered more than once, e.g. %s", len(dups), strings.Join(dups[:min(len(dups), 5)], "; "))
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if len(got) != n {
				t.Fatalf("%d distinct rows delivered, want %d", len(got), n)
			}
			if g, want := strings.Join(got, "\n")+"\n", fsWant(n); g != want {
				t.Fatalf("rows read back differ from the batch computation:\n%s\nwant:\n%s", g, want)
			}
		})
	}
}

// readJSONLinesGzip decodes a gzip object of JSON lines, one fh row a
// line, into print lines.
func readJSONLinesGzip(t *testing.T, key string, body []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var rows []string
	sc := bufio.NewScanner(zr)
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
			t.Fatalf("%s: %v", key, err)
		}
		ts, err := time.Parse("2006-01-02 15:04:05", r.TS)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		rows = append(rows, fmt.Sprintf("+I[%d, %d, %s, %s, %s, %s]", r.ID, r.K, r.Region, javaDouble(r.X), r.S, javaLocalDateTime(ts)))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return rows
}
