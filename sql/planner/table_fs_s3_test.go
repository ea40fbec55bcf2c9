package planner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/file/s3parts"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
)

// s3Options are a filesystem table's options for the bucket of sc.
func s3Options(sc s3.Config) string {
	return fmt.Sprintf(`, 's3.endpoint' = '%s', 's3.region' = '%s', 's3.path-style' = 'true',
  's3.access-key-id' = '%s', 's3.secret-access-key' = '%s'`, sc.Endpoint, sc.Region, sc.AccessKeyID, sc.SecretAccessKey)
}

// TestFilesystemS3ExactlyOnceWithFailures writes a partitioned
// filesystem table to an s3:// path of a real S3 server (MinIO) with
// failures injected and restarts from checkpoints, checks every object
// with the S3 client (part files under partition prefixes named as
// Flink's, success files, no upload or journal entry left), then reads
// the path back with the filesystem source at another parallelism: every
// row exactly once, in each format.
func TestFilesystemS3ExactlyOnceWithFailures(t *testing.T) {
	for _, format := range []string{"json", "csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			sc := s3test.Config(t)
			path := "s3://" + sc.Bucket + "/tables/events"
			opts := s3Options(sc) + `, 'sink.partition-commit.policy.kind' = 'success-file'`
			script := fmt.Sprintf(`SET 'parallelism.default' = '2';
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d');
`, fsRows) + fsDDL("sink_t", path, format, opts) + `
INSERT INTO sink_t SELECT id, CAST(id % 3 AS INT), CONCAT('r', CAST(id % 2 AS STRING)), id / 4.0, CONCAT('n', CAST(id AS STRING)),
  TO_TIMESTAMP(FROM_UNIXTIME(1704164645 + id)) FROM gen;
`
			runRealSinksWithFailures(t, script, []int64{fsRows / 4, fsRows * 2 / 3})

			ctx := context.Background()
			b, err := s3.Open(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := b.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			parts, success := 0, map[string]bool{}
			for _, k := range keys {
				rel, ok := strings.CutPrefix(k, "tables/events/")
				switch {
				case !ok:
					t.Fatalf("object %s outside the table's path", k)
				case strings.HasPrefix(rel, s3parts.JournalDir):
					t.Fatalf("journal entry %s left: an upload was neither completed nor aborted", k)
				case strings.HasSuffix(rel, "/_SUCCESS"):
					success[strings.TrimSuffix(rel, "_SUCCESS")] = true
				case partFile.MatchString(rel):
					parts++
					ups, err := b.ListUploads(ctx, k)
					if err != nil {
						t.Fatal(err)
					}
					if len(ups) != 0 {
						t.Fatalf("%s has an upload in progress", k)
					}
				default:
					t.Fatalf("object %s is not a part file of a partition", k)
				}
			}
			if parts == 0 || len(success) != 6 {
				t.Fatalf("%d part files, success files in %v: want part files and the 6 partitions' success files", parts, success)
			}
			if got, want := fsRead(t, path+"/", format, s3Options(sc)), fsWant(fsRows); got != want {
				t.Fatalf("read back from %s:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestFilesystemS3Paths: one object as the path, a path with nothing
// under it, and hidden objects skipped.
func TestFilesystemS3Paths(t *testing.T) {
	sc := s3test.Config(t)
	ctx := context.Background()
	b, err := s3.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{
		"in/a.csv":             "1,x\n2,y\n",
		"in/sub/b.csv":         "3,z\n",
		"in/_tmp/c.csv":        "4,hidden\n",
		"in/.sluice-staging/d": "5,hidden\n",
		"inner/e.csv":          "6,not under in/\n",
	} {
		if err := b.Put(ctx, key, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) (string, error) {
		return runSQL(t, fmt.Sprintf(`CREATE TABLE src (id BIGINT, s STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv'%s);
CREATE TABLE p (id BIGINT, s STRING) WITH ('connector' = 'print');
INSERT INTO p SELECT * FROM src;
`, path, s3Options(sc)))
	}
	for path, want := range map[string]string{
		"s3://" + sc.Bucket + "/in":       "+I[1, x]\n+I[2, y]\n+I[3, z]\n",
		"s3a://" + sc.Bucket + "/in/":     "+I[1, x]\n+I[2, y]\n+I[3, z]\n",
		"s3://" + sc.Bucket + "/in/a.csv": "+I[1, x]\n+I[2, y]\n",
	} {
		got, err := read(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", path, got, want)
		}
	}
	_, err = read("s3://" + sc.Bucket + "/missing")
	if err == nil || !strings.Contains(err.Error(), "s3://"+sc.Bucket+"/missing: no object and no objects under it") {
		t.Fatalf("a missing path: %v", err)
	}
}
