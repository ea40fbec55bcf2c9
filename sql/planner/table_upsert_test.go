package planner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// readLog is every record of a one-shard stream as "key => data" lines,
// "key => <tombstone>" for empty data.
func readLog(t *testing.T, dir, stream string) []string {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.NewShardReader(shardlog.StreamRef{Name: stream}, shardlog.ShardID(0), shardlog.StartPosition{Type: shardlog.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		res, err := r.Read(context.Background(), 1000, 1<<20, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range res.Records {
			d := string(rec.Data)
			if len(rec.Data) == 0 {
				d = "<tombstone>"
			}
			out = append(out, fmt.Sprintf("%s => %s", rec.PartitionKey, d))
		}
		if len(res.Records) == 0 {
			return out
		}
	}
}

// TestUpsertShardlogRoundTrip: an updating query written to an
// upsert-shardlog table (+I/+U as values by key, -D as tombstones, -U
// not written), then read back: the changelog of the last value per
// key, whose final table is the query's.
func TestUpsertShardlogRoundTrip(t *testing.T) {
	dir := t.TempDir()
	table := fmt.Sprintf(`CREATE TABLE up (c BIGINT, n BIGINT, PRIMARY KEY (c) NOT ENFORCED) WITH ('connector' = 'upsert-shardlog',
  'stream' = 'counts', 'log.path' = '%s', 'key.format' = 'json', 'value.format' = 'json', 'scan.bounded' = 'true');
SET 'parallelism.default' = '1';
`, dir)
	// Keys 1..5 by id % 2: per_k goes 1→2→3 for k=1 and 1→2 for k=0, so
	// the outer count of c=1 and c=2 goes up and down to nothing.
	write := table + `CREATE TABLE src (id BIGINT, k AS id % 2) WITH ('connector' = 'datagen', 'number-of-rows' = '5', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5');
CREATE VIEW per_k AS SELECT k, COUNT(*) AS c FROM src GROUP BY k;
INSERT INTO up SELECT c, COUNT(*) FROM per_k GROUP BY c;
`
	if out, err := runOrdered(t, write); err != nil {
		t.Fatalf("write: %v\n%s", err, out)
	}
	got := strings.Join(readLog(t, dir, "counts"), "\n")
	want := strings.Join([]string{
		`{"c":1} => {"c":1,"n":1}`,
		`{"c":1} => {"c":1,"n":2}`,
		`{"c":1} => {"c":1,"n":1}`,
		`{"c":2} => {"c":2,"n":1}`,
		`{"c":1} => <tombstone>`,
		`{"c":2} => {"c":2,"n":2}`,
		`{"c":2} => {"c":2,"n":1}`,
		`{"c":3} => {"c":3,"n":1}`,
	}, "\n")
	if got != want {
		t.Fatalf("log records:\n%s\nwant:\n%s", got, want)
	}
	read := table + `CREATE TABLE res (c BIGINT, n BIGINT) WITH ('connector' = 'print');
INSERT INTO res SELECT c, n FROM up;
`
	out, err := runOrdered(t, read)
	if err != nil {
		t.Fatal(err)
	}
	wantLog := "+I[1, 1]\n-U[1, 1]\n+U[1, 2]\n-U[1, 2]\n+U[1, 1]\n+I[2, 1]\n-D[1, 1]\n-U[2, 1]\n+U[2, 2]\n-U[2, 2]\n+U[2, 1]\n+I[3, 1]\n"
	if out != wantLog {
		t.Fatalf("read back:\n%s\nwant:\n%s", out, wantLog)
	}
	// An upsert table read into an append-only sink is refused, naming
	// the normalizing operator.
	_, err = runOrdered(t, table+fmt.Sprintf(`CREATE TABLE fs (c BIGINT, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
INSERT INTO fs SELECT c, n FROM up;
`, t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "ChangelogNormalize(key=[c])") {
		t.Fatalf("append-only sink of an upsert table: %v", err)
	}
}
