package planner_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// runSQLCheckpointed runs a script as runSQL does, with checkpoint
// storage in a temporary directory (so sinks commit exactly once, at
// checkpoints and the final one at the end of input).
func runSQLCheckpointed(t *testing.T, src string) string {
	t.Helper()
	p, err := planner.Plan(src)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := p.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateBackend = "memory"
	cfg.Checkpoint.Dir = t.TempDir()
	if cfg.Checkpoint.Interval == 0 {
		cfg.Checkpoint.Interval = time.Hour // only the final checkpoint
	}
	j := engine.NewJob(p.JobName("test"), cfg)
	var out bytes.Buffer
	if err := p.Build(j, planner.RunOptions{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

const fsRows = 200

// fsWant is the batch computation of the rows fsWrite writes and fsRead
// prints: id 1..n, k = id % 3, region = r<id % 2>, x = id / 4.0, s = 'n'
// || id, ts = 2024-01-02 03:04:05 + id seconds.
func fsWant(n int) string {
	var lines []string
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for id := 1; id <= n; id++ {
		ts := javaLocalDateTime(base.Add(time.Duration(id) * time.Second))
		lines = append(lines, fmt.Sprintf("+I[%d, %d, r%d, %s, n%d, %s]", id, id%3, id%2, javaDouble(float64(id)/4), id, ts))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// javaLocalDateTime is Java's LocalDateTime.toString for whole seconds
// (":00" seconds are left out).
func javaLocalDateTime(t time.Time) string {
	if t.Second() == 0 {
		return t.Format("2006-01-02T15:04")
	}
	return t.Format("2006-01-02T15:04:05")
}

// javaDouble is Java's Double.toString for the test's values (a fraction
// of at most two digits).
func javaDouble(f float64) string {
	s := fmt.Sprint(f)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func fsDDL(name, dir, format string, extra string) string {
	return fmt.Sprintf(`CREATE TABLE %s (id BIGINT, k INT, region STRING, x DOUBLE, s STRING, ts TIMESTAMP(3))
PARTITIONED BY (region, k) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s'%s);
`, name, dir, format, extra)
}

func fsWrite(t *testing.T, dir, format, extra string) {
	t.Helper()
	src := fmt.Sprintf(`SET 'parallelism.default' = '2';
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d');
`, fsRows) + fsDDL("sink_t", dir, format, extra) + `
INSERT INTO sink_t SELECT id, CAST(id % 3 AS INT), CONCAT('r', CAST(id % 2 AS STRING)), id / 4.0, CONCAT('n', CAST(id AS STRING)),
  TO_TIMESTAMP(FROM_UNIXTIME(1704164645 + id)) FROM gen;
`
	runSQLCheckpointed(t, src)
}

func fsRead(t *testing.T, dir, format string, extra ...string) string {
	t.Helper()
	src := `SET 'parallelism.default' = '3';
` + fsDDL("back", dir, format, strings.Join(extra, "")) + `
CREATE TABLE p (id BIGINT, k INT, region STRING, x DOUBLE, s STRING, ts TIMESTAMP(3)) WITH ('connector' = 'print');
INSERT INTO p SELECT * FROM back;
`
	out, err := runSQL(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var partFile = regexp.MustCompile(`^region=r[01]/k=[012]/part-[0-9a-f-]{36}-[01]-[0-9]+(\.parquet)?$`)

// visibleFiles are the committed part files under dir, each checked to
// sit in a partition directory and be named as Flink names part files.
func visibleFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || strings.HasPrefix(de.Name(), ".") || de.Name() == "_SUCCESS" {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if !partFile.MatchString(rel) {
			t.Fatalf("visible %s is not a part file in a partition directory", rel)
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no part files under %s", dir)
	}
	return files
}

// TestFilesystemRoundTrip writes a partitioned table in each format with
// the filesystem sink (parallelism 2, exactly once) and reads the
// directory back with the filesystem source (parallelism 3): the rows are
// the batch computation's, partition columns from the k=v directories.
func TestFilesystemRoundTrip(t *testing.T) {
	for _, format := range []string{"json", "csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			fsWrite(t, dir, format, "")
			files := visibleFiles(t, dir)
			if format != "parquet" {
				// Partition columns live in the directory names only.
				b, err := os.ReadFile(filepath.Join(dir, files[0]))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), `"region"`) || strings.Contains(string(b), ",r0,") || strings.Contains(string(b), ",r1,") {
					t.Fatalf("%s holds a partition column:\n%s", files[0], b)
				}
			}
			if got, want := fsRead(t, dir, format), fsWant(fsRows); got != want {
				t.Fatalf("read back:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestFilesystemRolling: a small file size rolls part files; every row is
// still read back once.
func TestFilesystemRolling(t *testing.T) {
	dir := t.TempDir()
	fsWrite(t, dir, "json", ", 'sink.rolling-policy.file-size' = '1kb'")
	files := visibleFiles(t, dir)
	// 200 rows of ~70 bytes in 6 partitions: 14 KB, so at least 12 files.
	if len(files) < 12 {
		t.Fatalf("%d part files, want rolling at 1 KiB: %v", len(files), files)
	}
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1024+200 {
			t.Fatalf("%s is %d bytes: rolled too late", f, st.Size())
		}
	}
	if got, want := fsRead(t, dir, "json"), fsWant(fsRows); got != want {
		t.Fatalf("read back:\n%s\nwant:\n%s", got, want)
	}
}

// TestFilesystemParquetPqarrow reads every Parquet part file the sink
// wrote with arrow-go's pqarrow: the file columns (not the partition
// columns) with their Parquet types, rows equal to the batch computation.
func TestFilesystemParquetPqarrow(t *testing.T) {
	dir := t.TempDir()
	fsWrite(t, dir, "parquet", ", 'parquet.compression' = 'GZIP'")
	var got []string
	for _, f := range visibleFiles(t, dir) {
		m := regexp.MustCompile(`^region=(r[01])/k=([012])/`).FindStringSubmatch(f)
		got = append(got, readParquetRows(t, filepath.Join(dir, f), m[1], m[2])...)
	}
	slices.Sort(got)
	if g, want := strings.Join(got, "\n")+"\n", fsWant(fsRows); g != want {
		t.Fatalf("pqarrow read:\n%s\nwant:\n%s", g, want)
	}
}

// readFirehoseParquet renders a Parquet object's rows (every column) as
// the print sink would.
func readFirehoseParquet(t *testing.T, path string) []string {
	t.Helper()
	tbl := readParquet(t, path, "id:int64 k:int32 region:utf8 x:float64 s:utf8 ts:timestamp[ms, tz=UTC]")
	defer tbl.Release()
	var rows []string
	tr := array.NewTableReader(tbl, 64)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			ts := javaLocalDateTime(rec.Column(5).(*array.Timestamp).Value(i).ToTime(arrow.Millisecond).UTC())
			rows = append(rows, fmt.Sprintf("+I[%d, %d, %s, %s, %s, %s]", rec.Column(0).(*array.Int64).Value(i), rec.Column(1).(*array.Int32).Value(i),
				rec.Column(2).(*array.String).Value(i), javaDouble(rec.Column(3).(*array.Float64).Value(i)), rec.Column(4).(*array.String).Value(i), ts))
		}
	}
	return rows
}

// readParquet reads a Parquet file with pqarrow and checks its columns.
func readParquet(t *testing.T, path, columns string) arrow.Table {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(body), aparquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name+":"+f.Type.String())
	}
	if got := strings.Join(names, " "); got != columns {
		tbl.Release()
		t.Fatalf("%s: columns %s, want %s", path, got, columns)
	}
	return tbl
}

// readParquetRows renders a Parquet file's rows as the print sink would,
// with the partition values from its directory.
func readParquetRows(t *testing.T, path, region, k string) []string {
	t.Helper()
	tbl := readParquet(t, path, "id:int64 x:float64 s:utf8 ts:timestamp[ms, tz=UTC]")
	defer tbl.Release()
	var rows []string
	tr := array.NewTableReader(tbl, 64)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		ids := rec.Column(0).(*array.Int64)
		xs := rec.Column(1).(*array.Float64)
		ss := rec.Column(2).(*array.String)
		tss := rec.Column(3).(*array.Timestamp)
		for i := 0; i < int(rec.NumRows()); i++ {
			ts := javaLocalDateTime(tss.Value(i).ToTime(arrow.Millisecond).UTC())
			rows = append(rows, fmt.Sprintf("+I[%d, %s, %s, %s, %s, %s]", ids.Value(i), k, region, javaDouble(xs.Value(i)), ss.Value(i), ts))
		}
	}
	return rows
}

// TestFilesystemPartitionValues: partition values with characters a
// directory name cannot hold are escaped as Flink escapes them (%XX),
// NULL and the empty string go to partition.default-name, and all read back as written.
func TestFilesystemPartitionValues(t *testing.T) {
	dir := t.TempDir()
	ddl := func(name string) string {
		return `CREATE TABLE ` + name + ` (id BIGINT, p STRING, d DATE) PARTITIONED BY (p, d) WITH ('connector' = 'filesystem',
  'path' = '` + dir + `', 'format' = 'json', 'partition.default-name' = 'none');
`
	}
	runSQLCheckpointed(t, `CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5');
`+ddl("w")+`INSERT INTO w SELECT id,
  CASE WHEN id = 1 THEN 'a/b=c%d' WHEN id = 2 THEN CAST(NULL AS STRING) WHEN id = 3 THEN '' ELSE 'plain' END,
  CASE WHEN id = 5 THEN CAST(NULL AS DATE) ELSE TO_DATE('2024-02-29') END FROM gen;
`)
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && !strings.HasPrefix(de.Name(), ".") {
			rel, _ := filepath.Rel(dir, filepath.Dir(p))
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	wantDirs := []string{"p=a%2Fb%3Dc%25d/d=2024-02-29", "p=none/d=2024-02-29", "p=plain/d=2024-02-29", "p=plain/d=none"}
	if !slices.Equal(dirs, wantDirs) {
		t.Fatalf("partition directories %v, want %v", dirs, wantDirs)
	}
	out, err := runSQL(t, ddl("r")+`CREATE TABLE pr (id BIGINT, p STRING, d DATE) WITH ('connector' = 'print');
INSERT INTO pr SELECT * FROM r;`)
	if err != nil {
		t.Fatal(err)
	}
	// The empty string is written to the default partition, as Flink does, so it reads
	// back as NULL.
	want := "+I[1, a/b=c%d, 2024-02-29]\n+I[2, null, 2024-02-29]\n+I[3, null, 2024-02-29]\n+I[4, plain, 2024-02-29]\n+I[5, plain, null]\n"
	if out != want {
		t.Fatalf("read back:\n%s\nwant:\n%s", out, want)
	}
}

// TestFilesystemBadRecords: a line that does not parse goes to the
// table's error output (<data dir>/errors/<table>, or 'error.path') with
// its reason, raw text, file and line, is counted by the source's decode
// operator, and the job goes on; with json.ignore-parse-errors it is
// skipped (not written, not counted); with no error output (no data
// directory, no 'error.path') it fails the job naming the file and line.
func TestFilesystemBadRecords(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte("{\"id\": 1}\n{\"id\": \"x\"}\n\n{\"id\": 3}\nnope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := func(extra string) string {
		return `CREATE TABLE r (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + dir + `', 'format' = 'json'` + extra + `);
CREATE TABLE pr (id BIGINT) WITH ('connector' = 'print');
INSERT INTO pr SELECT * FROM r;`
	}
	_, err := runSQL(t, script(""))
	if err == nil || !strings.Contains(err.Error(), "file a.json, line 2") || !strings.Contains(err.Error(), "id") {
		t.Fatalf("error %v, want one naming a.json, line 2 and the field", err)
	}
	out, err := runSQL(t, script(", 'json.ignore-parse-errors' = 'true'"))
	if err != nil {
		t.Fatal(err)
	}
	// As Flink: the field that does not convert is NULL; "nope" is skipped.
	if out != "+I[1]\n+I[3]\n+I[null]\n" {
		t.Fatalf("read with ignore-parse-errors:\n%s", out)
	}

	run := func(extra, dataDir string) (string, map[string]int64) {
		t.Helper()
		p, err := planner.Plan(script(extra))
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("bad", engine.Config{StateBackend: "memory"})
		var out bytes.Buffer
		if err := p.Build(j, planner.RunOptions{Stdout: &out, DataDir: dataDir}); err != nil {
			t.Fatal(err)
		}
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		counts := map[string]int64{}
		for _, om := range r.Metrics().Operators {
			if om.Name == "r/decode" {
				counts["decode-errors"] = om.Counters["decode-errors"]
			}
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		slices.Sort(lines)
		return strings.Join(lines, "\n") + "\n", counts
	}
	readErrors := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	file := filepath.Join(dir, "a.json")
	want := fmt.Sprintf(`{"table":"r","reason":%s,"raw":"{\"id\": \"x\"}","raw_encoding":"text","file":%q,"line":2}
{"table":"r","reason":%s,"raw":"nope","raw_encoding":"text","file":%q,"line":5}
`, "%s", file, "%s", file)

	// The default error output: <data dir>/errors/<table>.
	data := t.TempDir()
	out, counts := run("", data)
	if out != "+I[1]\n+I[3]\n" {
		t.Fatalf("rows with an error output:\n%s", out)
	}
	if counts["decode-errors"] != 2 {
		t.Errorf("decode-errors = %d, want 2", counts["decode-errors"])
	}
	got := readErrors(filepath.Join(data, "errors", "r", "errors.jsonl"))
	var reasons []any
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		m := regexp.MustCompile(`"reason":("(?:[^"\\]|\\.)*")`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("error line without a reason: %s", l)
		}
		reasons = append(reasons, m[1])
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0].(string), "id") {
		t.Fatalf("error output:\n%s", got)
	}
	if w := fmt.Sprintf(want, reasons...); got != w {
		t.Fatalf("error output:\n%s\nwant:\n%s", got, w)
	}

	// 'error.path' names the directory; ignore-parse-errors writes nothing.
	edir := filepath.Join(t.TempDir(), "bad")
	if _, counts := run(", 'error.path' = '"+edir+"'", data); counts["decode-errors"] != 2 {
		t.Errorf("decode-errors with error.path = %d, want 2", counts["decode-errors"])
	}
	if got := readErrors(filepath.Join(edir, "errors.jsonl")); got != fmt.Sprintf(want, reasons...) {
		t.Fatalf("error output in error.path:\n%s", got)
	}
	skipData := t.TempDir()
	out, counts = run(", 'json.ignore-parse-errors' = 'true'", skipData)
	if out != "+I[1]\n+I[3]\n+I[null]\n" || counts["decode-errors"] != 0 {
		t.Fatalf("ignore-parse-errors with an error output: rows\n%s counts %v", out, counts)
	}
	if _, err := os.Stat(filepath.Join(skipData, "errors")); !os.IsNotExist(err) {
		t.Fatalf("ignore-parse-errors wrote an error output (stat: %v)", err)
	}
}

// TestFilesystemEventTimeWindow reads the partitioned Parquet directory
// with a WATERMARK and counts rows per region in 1-minute TUMBLE windows:
// the source's watermarks close every window, each row counted once.
func TestFilesystemEventTimeWindow(t *testing.T) {
	dir := t.TempDir()
	fsWrite(t, dir, "parquet", "")
	out, err := runSQL(t, `SET 'parallelism.default' = '2';
CREATE TABLE back (id BIGINT, k INT, region STRING, x DOUBLE, s STRING, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
PARTITIONED BY (region, k) WITH ('connector' = 'filesystem', 'path' = '`+dir+`', 'format' = 'parquet');
CREATE TABLE p (region STRING, window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'print');
INSERT INTO p SELECT region, window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE back, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end, region;
`)
	if err != nil {
		t.Fatal(err)
	}
	// The batch computation: ts = 03:04:05 + id s for id 1..200.
	counts := map[string]int{}
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for id := 1; id <= fsRows; id++ {
		ws := base.Add(time.Duration(id) * time.Second).Truncate(time.Minute)
		counts[fmt.Sprintf("+I[r%d, %s, ", id%2, javaLocalDateTime(ws))]++
	}
	var want []string
	for k, n := range counts {
		want = append(want, fmt.Sprintf("%s%d]", k, n))
	}
	slices.Sort(want)
	if w := strings.Join(want, "\n") + "\n"; out != w {
		t.Fatalf("windows:\n%s\nwant:\n%s", out, w)
	}
}

// TestFilesystemSuccessFile: with Flink's success-file partition commit
// policy every partition directory gets its _SUCCESS when its files are
// committed; the source skips it.
func TestFilesystemSuccessFile(t *testing.T) {
	dir := t.TempDir()
	fsWrite(t, dir, "csv", ", 'sink.partition-commit.policy.kind' = 'success-file'")
	parts := map[string]bool{}
	for _, f := range visibleFiles(t, dir) {
		parts[filepath.Dir(f)] = true
	}
	if len(parts) != 6 {
		t.Fatalf("partitions %v, want 6", parts)
	}
	for p := range parts {
		if _, err := os.Stat(filepath.Join(dir, p, "_SUCCESS")); err != nil {
			t.Fatalf("partition %s: %v", p, err)
		}
	}
	if got, want := fsRead(t, dir, "csv"), fsWant(fsRows); got != want {
		t.Fatalf("read back:\n%s\nwant:\n%s", got, want)
	}
}
