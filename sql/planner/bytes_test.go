package planner_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sql/planner"
)

// BYTES, BINARY(n) and VARBINARY(n) columns: generated, compared, grouped,
// written to files in every format that takes them and read back unchanged.
func TestBytesRoundTrip(t *testing.T) {
	for _, format := range []string{"json", "csv", "raw"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			cols, sel := "id BIGINT, b VARBINARY(8), c BINARY(2)", "id, b, c"
			if format == "raw" {
				cols, sel = "b VARBINARY(8)", "b"
			}
			src := fmt.Sprintf(`CREATE TABLE src (id BIGINT, b VARBINARY(8), c BINARY(2)) WITH ('connector' = 'datagen',
  'number-of-rows' = '50', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '50',
  'fields.b.length' = '5');
CREATE TABLE fs (%s) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s');
CREATE TABLE p (%s) WITH ('connector' = 'print');
`, cols, dir, format, cols)
			ins := sel
			if format == "raw" {
				// raw files are newline-delimited: bytes without a newline.
				ins = "ENCODE(CAST(id AS STRING) || 'é', 'UTF-8')"
			}
			written := runSQLCheckpointed(t, src+fmt.Sprintf(`EXECUTE STATEMENT SET BEGIN
INSERT INTO fs SELECT %[1]s FROM src;
INSERT INTO p SELECT %[1]s FROM src;
END;`, ins))
			if strings.Count(written, "\n") != 50 {
				t.Fatalf("too few rows written:\n%s", written)
			}
			read := runSQLCheckpointed(t, fmt.Sprintf(`CREATE TABLE fs (%s) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s');
CREATE TABLE p (%s) WITH ('connector' = 'print');
INSERT INTO p SELECT * FROM fs;`, cols, dir, format, cols))
			if read != written {
				t.Fatalf("read back:\n%s\nwritten:\n%s", read, written)
			}
		})
	}
}

func TestBytesExpressions(t *testing.T) {
	got := runSQLCheckpointed(t, `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '6',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '6');
CREATE TABLE p (k BYTES, n BIGINT, eq BOOLEAN, s STRING, u BYTES, l BYTES) WITH ('connector' = 'print');
INSERT INTO p SELECT k, COUNT(*), k = x'6f6464', DECODE(k, 'UTF-8'), ENCODE('é', 'UTF-16BE'), ENCODE('aé', 'ISO-8859-1')
FROM (SELECT CASE WHEN id % 2 = 0 THEN ENCODE('even', 'UTF-8') ELSE x'6f6464' END AS k FROM src) GROUP BY k;`)
	for _, want := range []string{
		"+U[[111, 100, 100], 3, true, odd, [0, -23], [97, -23]]",
		"+U[[101, 118, 101, 110], 3, false, even, [0, -23], [97, -23]]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in:\n%s", want, got)
		}
	}
}

func TestBytesRefusals(t *testing.T) {
	for _, c := range []struct{ sql, want string }{
		{`CREATE TABLE f (b BYTES) WITH ('connector' = 'filesystem', 'path' = '/x', 'format' = 'parquet');`,
			"format 'parquet': column 'b': type BYTES is not supported in Parquet files yet"},
		{`CREATE TABLE d (b BYTES) WITH ('connector' = 'datagen', 'fields.b.kind' = 'sequence', 'fields.b.start' = '1', 'fields.b.end' = '2');`,
			"datagen: column 'b' of type BYTES cannot be a sequence"},
		{`CREATE TABLE d (b BYTES) WITH ('connector' = 'datagen');
CREATE TABLE p (s STRING) WITH ('connector' = 'print');
INSERT INTO p SELECT TO_BASE64(b) FROM d;`,
			"Cannot apply 'TO_BASE64' to arguments of type 'TO_BASE64(<BYTES>)'"},
	} {
		_, err := planner.Plan(c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\ngot %v\nwant %q", c.sql, err, c.want)
		}
	}
}
