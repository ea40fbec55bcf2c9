package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
	"github.com/sluicehq/sluice/connectors/shardlog"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// putOrders puts n orders (and bad ones, whose order_id is not a number)
// into a new stream of an embedded log, then closes the log.
func putOrders(t *testing.T, dir, stream string, shards, n, bad int) {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: dir, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: stream, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
	var entries []shardlog.PutEntry
	flush := func() {
		if len(entries) == 0 {
			return
		}
		res, err := l.PutRecords(context.Background(), shardlog.StreamRef{Name: stream}, entries, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.ErrorCode != "" {
				t.Fatalf("put: %s %v", r.ErrorCode, r.Err)
			}
		}
		entries = entries[:0]
	}
	for i := 0; i < n+bad; i++ {
		id := fmt.Sprint(i)
		if i >= n {
			id = `"bad-` + id + `"`
		}
		data := fmt.Sprintf(`{"order_id":%s,"customer_id":"c%d","amount":%d.5,"at":%d}`, id, i%3, i, 1700000000000+int64(i))
		entries = append(entries, shardlog.PutEntry{PartitionKey: fmt.Sprint("k", i), Data: []byte(data)})
		if len(entries) == 500 {
			flush()
		}
	}
	flush()
}

func writeConfig(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "firehose.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// visible returns the visible files under root by slash path, and fails
// on leftovers of staging (hidden staged files, journal intents).
func visible(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(rel, ".sluice-staging/") {
			out["LEFTOVER "+rel] = nil
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = b
		return nil
	})
	return out
}

func sluiceRun(ctx context.Context, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestFirehoseRunParquetToDirectory puts orders into a log stream and
// runs `sluice firehose run --bounded` with a Parquet, dynamically
// partitioned configuration: every order lands once, in the object under
// its customer's prefix, readable by arrow-go's pqarrow; bad orders land
// once as format-conversion-failed documents.
func TestFirehoseRunParquetToDirectory(t *testing.T) {
	logDir, out := t.TempDir(), t.TempDir()
	const n, bad = 3000, 25
	putOrders(t, logDir, "orders", 3, n, bad)
	cfg := writeConfig(t, map[string]any{
		"name":                "orders",
		"prefix":              "orders/customer=!{partitionKeyFromQuery:customer}/dt=!{timestamp:yyyy-MM-dd}/",
		"error_output_prefix": "errors/!{firehose:error-output-type}/",
		"partitioning":        map[string]any{"keys": map[string]string{"customer": "customer_id"}},
		"buffering":           map[string]any{"size_in_mbs": 1, "interval_in_seconds": 60},
		"format": map[string]any{"type": "parquet", "parquet": map[string]any{"columns": []map[string]any{
			{"name": "order_id", "type": "bigint"}, {"name": "customer_id", "type": "string"},
			{"name": "amount", "type": "double"}, {"name": "at", "type": "timestamp"},
		}}},
		"directory": map[string]string{"path": out},
	})
	stdout, stderr, code := sluiceRun(context.Background(), "firehose", "run", "--config", cfg, "--source", "orders", "--log-dir", logDir,
		"--checkpoint-dir", t.TempDir(), "--checkpoint-interval", "100ms", "--parallelism", "2", "--bounded", "--progress", "0")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("%s", stdout)
	day := time.Now().UTC().Format("2006-01-02")
	dataName := regexp.MustCompile(`^orders/customer=(c[0-2])/dt=` + day + `/orders-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.parquet$`)
	seen := map[int64]int{}
	var badSeen int
	for k, body := range visible(t, out) {
		switch {
		case strings.HasPrefix(k, "LEFTOVER "):
			t.Errorf("%s", k)
		case strings.HasPrefix(k, "errors/format-conversion-failed/"):
			for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
				var d struct {
					RawData        []byte
					SequenceNumber string
					LastErrorCode  string
				}
				if err := json.Unmarshal([]byte(line), &d); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(d.RawData), `"bad-`) || d.SequenceNumber == "" || d.LastErrorCode == "" {
					t.Errorf("error document %s", line)
				}
				badSeen++
			}
		default:
			m := dataName.FindStringSubmatch(k)
			if m == nil {
				t.Fatalf("unexpected object %s", k)
			}
			tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(body), aparquet.NewReaderProperties(memory.DefaultAllocator),
				pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			for _, ch := range tbl.Column(0).Data().Chunks() {
				ids := ch.(*array.Int64)
				for i := 0; i < ids.Len(); i++ {
					seen[ids.Value(i)]++
					if want := fmt.Sprintf("c%d", ids.Value(i)%3); want != m[1] {
						t.Errorf("order %d of %s is in %s", ids.Value(i), want, k)
					}
				}
			}
			tbl.Release()
		}
	}
	for i := int64(0); i < n; i++ {
		if seen[i] != 1 {
			t.Fatalf("order %d delivered %d times", i, seen[i])
		}
	}
	if len(seen) != n || badSeen != bad {
		t.Fatalf("%d orders and %d error documents, want %d and %d", len(seen), badSeen, n, bad)
	}
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gzipLines reads the records of gzip JSON-lines objects.
func gzipLines(t *testing.T, files map[string][]byte, prefix *regexp.Regexp) map[string]int {
	got := map[string]int{}
	for k, b := range files {
		if strings.HasPrefix(k, "LEFTOVER ") {
			continue // reported at the end
		}
		if !prefix.MatchString(k) {
			t.Fatalf("unexpected object %s", k)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			got[line]++
		}
	}
	return got
}

// TestFirehoseRunServeStopResume runs the delivery unbounded with the log
// served over the Kinesis API, puts records through `sluice log put`,
// stops it (Ctrl-C: a last checkpoint commits what was buffered), puts
// more, and resumes: every record is delivered once across both runs.
func TestFirehoseRunServeStopResume(t *testing.T) {
	logDir, out, chk := t.TempDir(), t.TempDir(), t.TempDir()
	cfg := writeConfig(t, map[string]any{
		"name": "events", "format": map[string]any{"type": "jsonl"}, "compression": "GZIP",
		"buffering": map[string]any{"interval_in_seconds": 900}, // only checkpoints cut objects
		"directory": map[string]string{"path": out},
	})
	hour := regexp.MustCompile(`^\d{4}/\d\d/\d\d/\d\d/events-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}\.gz$`)
	runOnce := func(first, n int, resume, waitAll bool) string {
		addr := freeAddr(t)
		args := []string{"firehose", "run", "--config", cfg, "--source", "events", "--log-dir", logDir, "--create-shards", "2",
			"--serve", addr, "--checkpoint-dir", chk, "--checkpoint-interval", "200ms", "--progress", "0"}
		if resume {
			args = append(args, "--resume")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type result struct {
			out, err string
			code     int
		}
		done := make(chan result, 1)
		go func() {
			o, e, c := sluiceRun(ctx, args...)
			done <- result{o, e, c}
		}()
		ep := "--endpoint=http://" + addr
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, _, code := sluiceRun(context.Background(), "log", "describe", "events", ep); code == 0 {
				break
			}
			select {
			case r := <-done:
				t.Fatalf("run ended early: %d\n%s\n%s", r.code, r.out, r.err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("the log was never served")
			}
			time.Sleep(20 * time.Millisecond)
		}
		var data []string
		for i := first; i < first+n; i++ {
			data = append(data, fmt.Sprintf(`{"n":%d}`, i))
		}
		if o, e, code := sluiceRun(context.Background(), append([]string{"log", "put", "events", ep}, data...)...); code != 0 {
			t.Fatalf("log put: %d %s %s", code, o, e)
		}
		// Stop at once, or when every record put so far is visible;
		// what a stopped run did not deliver, the resumed one must.
		for waitAll && len(gzipLines(t, visible(t, out), hour)) < first+n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		r := <-done
		if r.code != 0 || !strings.Contains(r.out, "stopped; continue with --resume") {
			t.Fatalf("run: exit %d\n%s\n%s", r.code, r.out, r.err)
		}
		return r.out
	}
	t.Logf("first run:\n%s", runOnce(0, 300, false, false))
	if o, _, code := sluiceRun(context.Background(), "firehose", "run", "--config", cfg, "--source", "events", "--log-dir", logDir,
		"--checkpoint-dir", chk, "--bounded"); code != 2 || o != "" {
		t.Fatalf("a fresh start beside old checkpoints: exit %d", code)
	}
	t.Logf("second run:\n%s", runOnce(300, 200, true, true))
	files := visible(t, out)
	got := gzipLines(t, files, hour)
	for i := 0; i < 500; i++ {
		if c := got[fmt.Sprintf(`{"n":%d}`, i)]; c != 1 {
			t.Fatalf("record %d delivered %d times", i, c)
		}
	}
	if len(got) != 500 {
		t.Fatalf("%d distinct records", len(got))
	}
	for k := range files {
		if strings.HasPrefix(k, "LEFTOVER ") {
			t.Errorf("%s", k)
		}
	}
}

// TestFirehoseRunToMinIO delivers a log stream to MinIO as gzip JSON
// lines under a custom prefix.
func TestFirehoseRunToMinIO(t *testing.T) {
	sc := s3test.Config(t)
	logDir := t.TempDir()
	const n = 2000
	putOrders(t, logDir, "orders", 2, n, 0)
	cfg := writeConfig(t, map[string]any{
		"name": "orders", "prefix": "raw/orders/!{timestamp:yyyy}/", "error_output_prefix": "errors/!{firehose:error-output-type}/", "format": map[string]any{"type": "jsonl"}, "compression": "GZIP",
		"s3": sc,
	})
	stdout, stderr, code := sluiceRun(context.Background(), "firehose", "run", "--config", cfg, "--source", "orders", "--log-dir", logDir,
		"--checkpoint-dir", t.TempDir(), "--checkpoint-interval", "100ms", "--bounded", "--progress", "0")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := s3.Open(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := b.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, k := range keys {
		if files[k], err = b.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	year := time.Now().UTC().Format("2006")
	got := gzipLines(t, files, regexp.MustCompile(`^raw/orders/`+year+`/orders-1-.*\.gz$`))
	for i := 0; i < n; i++ {
		data := fmt.Sprintf(`{"order_id":%d,"customer_id":"c%d","amount":%d.5,"at":%d}`, i, i%3, i, 1700000000000+int64(i))
		if got[data] != 1 {
			t.Fatalf("order %d delivered %d times (%d objects)", i, got[data], len(keys))
		}
	}
	t.Logf("%d objects: %s", len(keys), strings.TrimSpace(stdout))
}
