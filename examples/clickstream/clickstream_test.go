// Package clickstream_test runs examples/clickstream/clickstream.sql with
// the sluice command on a small input and reads its Parquet output back.
package clickstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// rows is the test's input size: the script's 1,000,000 clicks cut to
// 20,000 (ten minutes of event time).
const rows = 20000

// epoch is the event time of click 0, as in the script.
const epoch = int64(1767225600000)

type key struct {
	name  string
	start int64 // window start, ms
}

// batch is the straightforward computation over the script's generated
// clicks: clicks per user per minute and page views per 5-minute window
// sliding by a minute.
func batch(n int64) (perUser, perPage map[key]int64) {
	perUser, perPage = map[key]int64{}, map[key]int64{}
	for id := range n {
		ts := epoch + id*30
		user := fmt.Sprintf("user-%d", id*7919%1000)
		page := fmt.Sprintf("/page/%d", id*id%97)
		minute := ts - ts%60000
		perUser[key{user, minute}]++
		for k := range int64(5) {
			perPage[key{page, minute - k*60000}]++
		}
	}
	return perUser, perPage
}

// TestClickstream runs the script twice in one directory: each run fills a
// fresh stream of the log (the second never reads the first's clicks),
// adds its own Parquet objects under time-templated prefixes, and says so
// in its summary; the counts read back with pqarrow equal the batch
// computation, once per run.
func TestClickstream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice command")
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	build := exec.Command("go", "build", "-o", bin, "github.com/sluicehq/sluice/cmd/sluice")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src, err := os.ReadFile("clickstream.sql")
	if err != nil {
		t.Fatal(err)
	}
	const full = "'fields.id.end' = '999999'"
	if strings.Count(string(src), full) != 1 {
		t.Fatalf("clickstream.sql has no single %s to cut down", full)
	}
	work := t.TempDir()
	script := strings.Replace(string(src), full, fmt.Sprintf("'fields.id.end' = '%d'", rows-1), 1)
	if err := os.WriteFile(filepath.Join(work, "clickstream.sql"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	wantUser, wantPage := batch(rows)

	for run := 1; run <= 2; run++ {
		began := time.Now().UTC()
		cmd := exec.Command(bin, "run", "clickstream.sql", "--progress", "0")
		cmd.Dir = work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, stderr.String())
		}
		ended := time.Now().UTC()
		for _, want := range []string{
			fmt.Sprintf("clicks_out: %d records to stream \"clicks\"", rows),
			fmt.Sprintf("clicks_per_user: %d rows, ", len(wantUser)),
			fmt.Sprintf("trending_pages: %d rows, ", len(wantPage)),
		} {
			if !strings.Contains(stderr.String(), want) {
				t.Fatalf("run %d: the summary lacks %q:\n%s", run, want, stderr.String())
			}
		}
		gotUser := readCounts(t, filepath.Join(work, "out", "clicks_per_user"), "clicks_per_user", "user_id", "clicks", began, ended)
		gotPage := readCounts(t, filepath.Join(work, "out", "trending_pages"), "trending_pages", "page", "page_views", began, ended)
		check(t, run, "clicks per user per minute", gotUser, wantUser, 60000)
		check(t, run, "page views per 5 minutes", gotPage, wantPage, 5*60000)
	}
}

// check compares what every run so far wrote with run times the batch
// result, and that each window ends size after it starts.
func check(t *testing.T, run int, what string, got map[key][2]int64, want map[key]int64, size int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("run %d: %s: %d groups, want %d", run, what, len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || g[0] != int64(run)*w {
			t.Fatalf("run %d: %s: %v = %v, want %d (%d per run)", run, what, k, g, int64(run)*w, w)
		}
		if g[1] != k.start+size {
			t.Fatalf("run %d: %s: %v ends at %d, want %d", run, what, k, g[1], k.start+size)
		}
	}
}

// readCounts reads every Parquet object under dir with pqarrow and sums
// its count column per (name, window_start); it checks each object's
// prefix is the delivery hour yyyy/MM/dd/HH (Firehose's
// !{timestamp:yyyy/MM/dd/HH}, the arrival time at the sink) of a time
// between began and ended. The values are the summed count and the
// window end.
func readCounts(t *testing.T, dir, table, nameCol, countCol string, began, ended time.Time) map[key][2]int64 {
	t.Helper()
	obj := regexp.MustCompile(`^(\d{4}/\d{2}/\d{2}/\d{2})/` + table + `-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.parquet$`)
	got := map[key][2]int64{}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		m := obj.FindStringSubmatch(filepath.ToSlash(rel))
		if m == nil {
			return fmt.Errorf("object %s is not a time-templated Parquet object", rel)
		}
		hour, err := time.Parse("2006/01/02/15", m[1])
		if err != nil {
			return err
		}
		if hour.Before(began.Truncate(time.Hour)) || hour.After(ended) {
			return fmt.Errorf("object %s: prefix hour %v is not between %v and %v", rel, hour, began, ended)
		}
		files++
		return readObject(p, nameCol, countCol, got)
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no objects under %s", dir)
	}
	return got
}

func readObject(path, nameCol, countCol string, into map[key][2]int64) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(body), aparquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer tbl.Release()
	col := map[string]int{}
	for i, f := range tbl.Schema().Fields() {
		col[f.Name] = i
	}
	for _, c := range []string{"window_start", "window_end", nameCol, countCol} {
		if _, ok := col[c]; !ok {
			return fmt.Errorf("%s: no column %s in %v", path, c, tbl.Schema())
		}
	}
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		starts, ok1 := rec.Column(col["window_start"]).(*array.Timestamp)
		ends, ok2 := rec.Column(col["window_end"]).(*array.Timestamp)
		names, ok3 := rec.Column(col[nameCol]).(*array.String)
		counts, ok4 := rec.Column(col[countCol]).(*array.Int64)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return fmt.Errorf("%s: unexpected column types %v", path, tbl.Schema())
		}
		unit := starts.DataType().(*arrow.TimestampType).Unit
		for i := range int(rec.NumRows()) {
			k := key{names.Value(i), starts.Value(i).ToTime(unit).UnixMilli()}
			v := into[k]
			v[0] += counts.Value(i)
			v[1] = ends.Value(i).ToTime(unit).UnixMilli()
			into[k] = v
		}
	}
	return nil
}
