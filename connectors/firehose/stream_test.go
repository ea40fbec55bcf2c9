package firehose

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	gsnappy "github.com/golang/snappy"

	"github.com/sluicehq/sluice/connectors/parquet"
)

var ctx = context.Background()

func TestObjectNameAndDefaultPrefix(t *testing.T) {
	s, clk, out := newTestStream(t, Config{Version: 3}, Deps{})
	if err := s.Put(ctx, Record{Data: []byte("a"), ArrivalTime: t0.Add(-90 * time.Minute)}, rec("b")); err != nil {
		t.Fatal(err)
	}
	if len(files(t, out)) != 0 {
		t.Fatal("delivered before a hint was reached")
	}
	clk.Advance(299 * time.Second)
	s.Tick(ctx)
	if len(files(t, out)) != 0 {
		t.Fatal("delivered before the 300 s default interval")
	}
	clk.Advance(time.Second)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	fs := files(t, out)
	re := regexp.MustCompile(`^2024/03/09/12/orders-3-2024-03-09-12-35-06-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if len(fs) != 1 || !re.MatchString(keysOf(fs)[0]) {
		t.Fatalf("objects %v", keysOf(fs))
	}
	if got := string(fs[keysOf(fs)[0]]); got != "ab" {
		t.Errorf("raw concatenation = %q", got)
	}
}

func TestFormatsAndNewlines(t *testing.T) {
	for _, c := range []struct {
		f    Format
		want string
	}{
		{Format{Type: FormatRaw}, "{\"a\":1}x\n{\"a\":2}\r\n"},
		{Format{Type: FormatRaw, AppendNewline: true}, "{\"a\":1}\nx\n\n{\"a\":2}\r\n\n"},
		{Format{Type: FormatJSONLines}, "{\"a\":1}\nx\n{\"a\":2}\n"},
	} {
		s, _, out := newTestStream(t, Config{Format: c.f, Buffering: BufferingHints{IntervalInSeconds: Seconds(0)}}, Deps{})
		if err := s.Put(ctx, rec(`{"a":1}`), rec("x\n"), rec("{\"a\":2}\r\n")); err != nil {
			t.Fatal(err)
		}
		fs := files(t, out)
		if len(fs) != 1 || string(fs[keysOf(fs)[0]]) != c.want {
			t.Errorf("%+v: %q", c.f, fs)
		}
	}
}

func TestCompressionReadBack(t *testing.T) {
	var payload []string
	for i := 0; i < 20000; i++ {
		payload = append(payload, fmt.Sprintf(`{"n":%d,"s":"%s"}`, i, strings.Repeat("x", i%50)))
	}
	want := strings.Join(payload, "\n") + "\n"
	decoders := map[string]func([]byte) ([]byte, error){
		Uncompressed: func(b []byte) ([]byte, error) { return b, nil },
		GZIP: func(b []byte) ([]byte, error) {
			r, err := gzip.NewReader(bytes.NewReader(b)) // the standard library's decoder
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		},
		ZIP: func(b []byte) ([]byte, error) {
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return nil, err
			}
			if len(zr.File) != 1 {
				return nil, fmt.Errorf("%d entries", len(zr.File))
			}
			f, err := zr.File[0].Open()
			if err != nil {
				return nil, err
			}
			return io.ReadAll(f)
		},
		Snappy: func(b []byte) ([]byte, error) { return io.ReadAll(gsnappy.NewReader(bytes.NewReader(b))) },
		HadoopSnappy: func(b []byte) ([]byte, error) {
			// Decode the Hadoop framing by hand with golang/snappy blocks.
			var out []byte
			for len(b) > 0 {
				n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
				dec, err := gsnappy.Decode(nil, b[8:8+n])
				if err != nil {
					return nil, err
				}
				if want := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]); want != len(dec) {
					return nil, fmt.Errorf("block length %d, header %d", len(dec), want)
				}
				out = append(out, dec...)
				b = b[8+n:]
			}
			return out, nil
		},
	}
	exts := map[string]string{Uncompressed: "", GZIP: ".gz", ZIP: ".zip", Snappy: ".snappy", HadoopSnappy: ".hsnappy"}
	for comp, dec := range decoders {
		s, _, out := newTestStream(t, Config{Compression: comp, Format: Format{Type: FormatJSONLines}}, Deps{})
		var recs []Record
		for _, p := range payload {
			recs = append(recs, rec(p))
		}
		if err := s.Put(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		fs := files(t, out)
		if len(fs) != 1 {
			t.Fatalf("%s: %d objects", comp, len(fs))
		}
		k := keysOf(fs)[0]
		if !strings.HasSuffix(k, exts[comp]) || (comp == Uncompressed && strings.Contains(k[strings.LastIndex(k, "/"):], ".")) {
			t.Errorf("%s: key %s", comp, k)
		}
		got, err := dec(fs[k])
		if err != nil {
			t.Fatalf("%s: decode: %v", comp, err)
		}
		if string(got) != want {
			t.Errorf("%s: round trip differs (%d vs %d bytes)", comp, len(got), len(want))
		}
		if comp != Uncompressed && len(fs[k]) >= len(want) {
			t.Errorf("%s: %d bytes for %d of input", comp, len(fs[k]), len(want))
		}
		if comp == HadoopSnappy {
			if rt, err := DecodeHadoopSnappy(fs[k]); err != nil || string(rt) != want {
				t.Errorf("DecodeHadoopSnappy: %v", err)
			}
		}
	}
}

func TestSizeHintCountsUncompressedBytes(t *testing.T) {
	s, _, out := newTestStream(t, Config{Compression: GZIP, Buffering: BufferingHints{SizeInMBs: 1}}, Deps{})
	big := bytes.Repeat([]byte("z"), 300<<10) // compresses to almost nothing
	for i := 0; i < 3; i++ {
		s.Put(ctx, Record{Data: big})
	}
	if n := len(files(t, out)); n != 0 {
		t.Fatalf("%d objects before 1 MiB of input", n)
	}
	s.Put(ctx, Record{Data: big})
	if n := len(files(t, out)); n != 1 {
		t.Fatalf("%d objects after 1.2 MiB of input", n)
	}
}

func TestCustomPrefixAndTimeZone(t *testing.T) {
	s, _, out := newTestStream(t, Config{
		Prefix:            "data/year=!{timestamp:yyyy}/hour=!{timestamp:HH}/!{firehose:random-string}/",
		ErrorOutputPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/",
		CustomTimeZone:    "Asia/Tokyo",
		FileExtension:     ".json",
		Buffering:         BufferingHints{IntervalInSeconds: Seconds(0)},
	}, Deps{})
	if err := s.Put(ctx, Record{Data: []byte("x"), ArrivalTime: t0}); err != nil {
		t.Fatal(err)
	}
	ks := keysOf(files(t, out))
	re := regexp.MustCompile(`^data/year=2024/hour=23/[a-z0-9]{11}/orders-1-2024-03-09-23-05-06-[-0-9a-f]{36}\.json$`)
	if len(ks) != 1 || !re.MatchString(ks[0]) {
		t.Fatalf("keys %v", ks)
	}
}

func TestConfigValidation(t *testing.T) {
	dir := &DirectoryConfig{Path: t.TempDir()}
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	bad := []Config{
		{Directory: dir},
		{Name: "x"},
		{Name: "x", Directory: dir, HTTPEndpoint: &HTTPEndpointConfig{URL: "http://h"}},
		{Name: "x", Directory: dir, Buffering: BufferingHints{SizeInMBs: 129}},
		{Name: "x", Directory: dir, Buffering: BufferingHints{IntervalInSeconds: Seconds(901)}},
		{Name: "x", Directory: dir, Buffering: BufferingHints{IntervalInSeconds: Seconds(-1)}},
		{Name: "x", Directory: dir, RetryDurationInSeconds: Seconds(7201)},
		{Name: "x", Directory: dir, Compression: "LZ4"},
		{Name: "x", Directory: dir, Format: Format{Type: "csv"}},
		{Name: "x", Directory: dir, Format: Format{Type: FormatParquet}},
		{Name: "x", Directory: dir, Format: Format{Type: FormatParquet, Parquet: &ParquetFormat{Schema: schema}}, Compression: GZIP},
		{Name: "x", Directory: dir, Prefix: "!{timestamp:yyyy}/"},
		{Name: "x", Directory: dir, CustomTimeZone: "Mars/Olympus"},
		{Name: "x", Directory: dir, FileExtension: "json"},
		{Name: "x", HTTPEndpoint: &HTTPEndpointConfig{URL: "http://h"}},
		{Name: "x", HTTPEndpoint: &HTTPEndpointConfig{URL: "ftp://h"}, Backup: &Backup{Directory: dir}},
		{Name: "x", Directory: dir, Partitioning: &Partitioning{Keys: map[string]string{"k": "id"}}, Prefix: "p/", ErrorOutputPrefix: "e/!{firehose:error-output-type}"},
		{Name: "x", Directory: dir, Partitioning: &Partitioning{Keys: map[string]string{"k": "id +"}}, Prefix: "!{partitionKeyFromQuery:k}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}"},
		{Name: "x", Directory: dir, Partitioning: &Partitioning{Keys: map[string]string{"k": "id"}}, Prefix: "!{partitionKeyFromQuery:k}/"},
		{Name: "x", Directory: dir, Prefix: "!{partitionKeyFromQuery:k}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}"},
		{Name: "x", Directory: dir, Backup: &Backup{Mode: "Sometimes", Directory: dir}},
		{Name: "x", Directory: dir, Processing: &Processing{NumberOfRetries: Seconds(301)}},
	}
	for i, c := range bad {
		c.EnsureDefaults()
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("config %d: err = %v, want ErrConfig", i, err)
		}
	}
	good := Config{Name: "x", Directory: dir, Buffering: BufferingHints{SizeInMBs: 128, IntervalInSeconds: Seconds(0)}}
	good.EnsureDefaults()
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
	if good.Version != 1 || *good.RetryDurationInSeconds != 300 {
		t.Errorf("defaults: %+v", good)
	}
	p := Config{Name: "x", Directory: dir, Partitioning: &Partitioning{Keys: map[string]string{"k": "id"}}, Prefix: "!{partitionKeyFromQuery:k}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}
	p.EnsureDefaults()
	if p.Buffering.SizeInMBs != 64 || p.Partitioning.MaxActivePartitions != 500 {
		t.Errorf("partitioned defaults: %+v", p.Buffering)
	}
	// Config is serialisable.
	if _, err := json.Marshal(good); err != nil {
		t.Error(err)
	}
}

func transformConfig() Config {
	return Config{
		Prefix: "ok/", ErrorOutputPrefix: "err/!{firehose:error-output-type}/",
		Format:     Format{Type: FormatJSONLines},
		Processing: &Processing{NumberOfRetries: Seconds(2)},
		Buffering:  BufferingHints{IntervalInSeconds: Seconds(0)},
	}
}

func TestTransformResults(t *testing.T) {
	calls := 0
	fn := func(ctx context.Context, ev *TransformEvent) (*TransformResponse, error) {
		calls++
		if ev.DeliveryStreamArn != "arn:aws:firehose:us-east-1:000000000000:deliverystream/orders" || ev.InvocationID == "" {
			return nil, fmt.Errorf("bad event %+v", ev)
		}
		var out TransformResponse
		for _, r := range ev.Records {
			switch d := string(r.Data); {
			case strings.HasPrefix(d, "ok"):
				out.Records = append(out.Records, TransformResult{RecordID: r.RecordID, Result: ResultOk, Data: []byte(strings.ToUpper(d))})
			case d == "drop":
				out.Records = append(out.Records, TransformResult{RecordID: r.RecordID, Result: ResultDropped})
			case d == "fail":
				out.Records = append(out.Records, TransformResult{RecordID: r.RecordID, Result: ResultProcessingFailed})
			case d == "weird":
				out.Records = append(out.Records, TransformResult{RecordID: r.RecordID, Result: "Maybe"})
			case d == "twice":
				out.Records = append(out.Records, TransformResult{RecordID: r.RecordID, Result: ResultOk, Data: r.Data},
					TransformResult{RecordID: r.RecordID, Result: ResultOk, Data: r.Data})
			case d == "missing":
			}
		}
		out.Records = append(out.Records, TransformResult{RecordID: "not-sent", Result: ResultOk, Data: []byte("ghost")})
		return &out, nil
	}
	s, _, out := newTestStream(t, transformConfig(), Deps{Transform: fn})
	if err := s.Put(ctx, rec("ok1"), rec("drop"), rec("fail"), rec("ok2"), rec("weird"), rec("twice"), rec("missing")); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("%d invocations", calls)
	}
	fs := files(t, out)
	ok := withPrefix(fs, "ok/")
	if len(ok) != 1 || string(ok[keysOf(ok)[0]]) != "OK1\nOK2\n" {
		t.Fatalf("delivered %q", ok)
	}
	failed := withPrefix(fs, "err/processing-failed/")
	if len(failed) != 1 {
		t.Fatalf("error objects %v", keysOf(fs))
	}
	codes := map[string]string{}
	for _, d := range docs(t, failed[keysOf(failed)[0]]) {
		raw, _ := json.Marshal(d["rawData"])
		var data []byte
		json.Unmarshal(raw, &data)
		codes[string(data)] = d["errorCode"].(string)
		for _, f := range []string{"attemptsMade", "arrivalTimestamp", "errorMessage", "attemptEndingTimestamp", "lambdaArn"} {
			if _, ok := d[f]; !ok {
				t.Errorf("document lacks %s: %v", f, d)
			}
		}
	}
	want := map[string]string{"fail": CodeLambdaProcessingFailed, "weird": CodeLambdaInvalidStatus, "twice": CodeLambdaDuplicatedRecordID, "missing": CodeLambdaMissingRecordID}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	st := s.Stats()
	if st.RecordsDropped != 1 || st.RecordsFailed != 4 || st.RecordsDelivered != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestTransformInvocationRetries(t *testing.T) {
	calls := 0
	fn := func(ctx context.Context, ev *TransformEvent) (*TransformResponse, error) {
		calls++
		if calls < 3 {
			return nil, errors.New("throttled")
		}
		var out TransformResponse
		for _, r := range ev.Records {
			out.Records = append(out.Records, TransformResult{RecordID: r.RecordID, Result: ResultOk, Data: r.Data})
		}
		return &out, nil
	}
	s, _, out := newTestStream(t, transformConfig(), Deps{Transform: fn})
	s.Put(ctx, rec("a"))
	if calls != 3 || len(withPrefix(files(t, out), "ok/")) != 1 {
		t.Fatalf("calls %d, files %v", calls, keysOf(files(t, out)))
	}
	// Always failing: 1 + NumberOfRetries attempts, then processing-failed.
	calls = 0
	s2, _, out2 := newTestStream(t, transformConfig(), Deps{Transform: func(ctx context.Context, ev *TransformEvent) (*TransformResponse, error) {
		calls++
		return nil, errors.New("boom")
	}})
	s2.Put(ctx, rec("a"), rec("b"))
	if calls != 3 {
		t.Errorf("%d attempts, want 3", calls)
	}
	failed := withPrefix(files(t, out2), "err/processing-failed/")
	if len(failed) != 1 {
		t.Fatalf("files %v", keysOf(files(t, out2)))
	}
	ds := docs(t, failed[keysOf(failed)[0]])
	if len(ds) != 2 || ds[0]["errorCode"] != CodeLambdaFunctionError || ds[0]["attemptsMade"] != 3.0 {
		t.Errorf("docs %v", ds)
	}
}

func TestTransformHTTPEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev TransformEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var out TransformResponse
		for _, rec := range ev.Records {
			res := TransformResult{RecordID: rec.RecordID, Result: ResultOk, Data: append([]byte("t:"), rec.Data...),
				Metadata: &TransformMetadata{PartitionKeys: map[string]string{"dev": string(rec.Data)}}}
			out.Records = append(out.Records, res)
		}
		json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	cfg := transformConfig()
	cfg.Processing.LambdaURL = srv.URL
	cfg.Prefix = "dev=!{partitionKeyFromLambda:dev}/"
	s, _, out := newTestStream(t, cfg, Deps{})
	if err := s.Put(ctx, rec("ios"), rec("android"), rec("ios")); err != nil {
		t.Fatal(err)
	}
	fs := files(t, out)
	ios, android := withPrefix(fs, "dev=ios/"), withPrefix(fs, "dev=android/")
	if len(ios) != 1 || string(ios[keysOf(ios)[0]]) != "t:ios\nt:ios\n" || len(android) != 1 {
		t.Fatalf("files %v", keysOf(fs))
	}
}

func partitionConfig(max int) Config {
	return Config{
		Prefix:            "customer=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/",
		ErrorOutputPrefix: "errors/!{firehose:error-output-type}/",
		Format:            Format{Type: FormatJSONLines},
		Partitioning:      &Partitioning{Keys: map[string]string{"customer": `customer.id`}, MaxActivePartitions: max},
		Buffering:         BufferingHints{SizeInMBs: 1, IntervalInSeconds: Seconds(60)},
	}
}

func TestDynamicPartitioning(t *testing.T) {
	s, clk, out := newTestStream(t, partitionConfig(3), Deps{})
	var recs []Record
	for i := 0; i < 12; i++ {
		recs = append(recs, rec(fmt.Sprintf(`{"customer":{"id":%d},"n":%d}`, i%4, i)))
	}
	recs = append(recs, rec(`{"customer":{}}`), rec(`not json`), rec(`{"customer":{"id":[1]}}`))
	if err := s.Put(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	fs := files(t, out)
	for c := 0; c < 3; c++ {
		part := withPrefix(fs, fmt.Sprintf("customer=%d/2024/", c))
		if len(part) != 1 {
			t.Fatalf("customer %d: %v", c, keysOf(fs))
		}
		lines := strings.Split(strings.TrimSpace(string(part[keysOf(part)[0]])), "\n")
		if len(lines) != 3 {
			t.Errorf("customer %d: %d records", c, len(lines))
		}
	}
	errs := withPrefix(fs, "errors/partitioning-failed/")
	if len(errs) != 1 {
		t.Fatalf("files %v", keysOf(fs))
	}
	codes := map[string]int{}
	for _, d := range docs(t, errs[keysOf(errs)[0]]) {
		codes[d["errorCode"].(string)]++
	}
	// Customer 3 overflows the limit of 3 partitions (3 records); three
	// records have no usable key.
	if codes[CodeActivePartitionsExceeded] != 3 || codes[CodeMetadataExtraction] != 3 {
		t.Errorf("codes %v", codes)
	}
}

func TestParquetConversionAndErrors(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	cfg := Config{
		Prefix: "tbl/", ErrorOutputPrefix: "err/!{firehose:error-output-type}/",
		Format:    Format{Type: FormatParquet, Parquet: &ParquetFormat{Schema: schema, Table: "orders", Options: parquet.Options{Compression: "GZIP"}}},
		Buffering: BufferingHints{IntervalInSeconds: Seconds(0)},
	}
	s, _, out := newTestStream(t, cfg, Deps{})
	if err := s.Put(ctx, rec(`{"id":1,"name":"a"}`), rec(`{"id":"x"}`), Record{Data: []byte(`{"id":2}{"id":3,"name":"c"}`), SequenceNumber: "42"}, rec(`{}`)); err != nil {
		t.Fatal(err)
	}
	fs := files(t, out)
	data := withPrefix(fs, "tbl/")
	if len(data) != 1 || !strings.HasSuffix(keysOf(data)[0], ".parquet") {
		t.Fatalf("files %v", keysOf(fs))
	}
	tbl, err := pqarrow.ReadTable(ctx, bytes.NewReader(data[keysOf(data)[0]]), aparquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	ids := tbl.Column(0).Data().Chunk(0).(*array.Int64)
	names := tbl.Column(1).Data().Chunk(0).(*array.String)
	if tbl.NumRows() != 3 || ids.Value(2) != 3 || names.Value(2) != "c" || !names.IsNull(1) {
		t.Fatalf("rows %d", tbl.NumRows())
	}
	bad := withPrefix(fs, "err/format-conversion-failed/")
	if len(bad) != 1 {
		t.Fatalf("files %v", keysOf(fs))
	}
	ds := docs(t, bad[keysOf(bad)[0]])
	if len(ds) != 2 || ds[0]["lastErrorCode"] != CodeFormatConversion || ds[0]["lastErrorMessage"] == "" {
		t.Fatalf("docs %v", ds)
	}
	if cat := ds[0]["dataCatalogTable"].(map[string]any); cat["tableName"] != "orders" || cat["versionId"] != "LATEST" {
		t.Errorf("dataCatalogTable %v", cat)
	}
	for _, f := range []string{"attemptsMade", "arrivalTimestamp", "attemptEndingTimestamp", "rawData", "sequenceNumber", "subSequenceNumber"} {
		if _, ok := ds[0][f]; !ok {
			t.Errorf("document lacks %s", f)
		}
	}
}

// flakyStore fails the first n writes.
type flakyStore struct {
	ObjectStore
	fail atomic.Int64
}

func (f *flakyStore) Put(ctx context.Context, key string, body []byte) error {
	if f.fail.Add(-1) >= 0 {
		return errors.New("injected failure")
	}
	return f.ObjectStore.Put(ctx, key, body)
}

func TestRetryBackupAndNoLoss(t *testing.T) {
	// Failures within the retry duration are retried.
	root := t.TempDir()
	ds, _ := NewDirStore(root + "/main")
	fl := &flakyStore{ObjectStore: ds}
	fl.fail.Store(3)
	cfg := Config{RetryDurationInSeconds: Seconds(60), Buffering: BufferingHints{IntervalInSeconds: Seconds(0)}}
	s, clk, _ := newTestStream(t, cfg, Deps{Store: fl, RetryInterval: 10 * time.Second})
	if err := s.Put(ctx, rec("a")); err != nil {
		t.Fatal(err)
	}
	if !clk.Now().Equal(t0.Add(30*time.Second)) || len(files(t, root+"/main")) != 1 {
		t.Fatalf("clock %v files %v", clk.Now(), files(t, root+"/main"))
	}

	// Beyond the retry duration with a backup: FailedDataOnly documents.
	fl.fail.Store(1000)
	bdir := root + "/backup"
	cfg.Backup = &Backup{Directory: &DirectoryConfig{Path: bdir}, ErrorOutputPrefix: "failed/!{firehose:error-output-type}/"}
	s, clk, _ = newTestStream(t, cfg, Deps{Store: fl, RetryInterval: 10 * time.Second})
	if err := s.Put(ctx, rec("b"), rec("c")); err != nil {
		t.Fatal(err)
	}
	bf := withPrefix(files(t, bdir), "failed/delivery-failed/")
	if len(bf) != 1 {
		t.Fatalf("backup %v", keysOf(files(t, bdir)))
	}
	d := docs(t, bf[keysOf(bf)[0]])
	if len(d) != 2 || d[0]["attemptsMade"] != 7.0 || d[0]["errorCode"] != CodeDelivery {
		t.Errorf("docs %v", d)
	}

	// Without a backup: an error, the records kept, delivered later.
	cfg.Backup = nil
	s, clk, _ = newTestStream(t, cfg, Deps{Store: fl, RetryInterval: 10 * time.Second})
	if err := s.Put(ctx, rec("d")); !errors.Is(err, ErrDeliveryFailed) {
		t.Fatalf("err = %v", err)
	}
	if err := s.Put(ctx, rec("e")); !errors.Is(err, ErrDeliveryFailed) {
		t.Fatalf("Put accepted records while others are pending: %v", err)
	}
	fl.fail.Store(0)
	before := len(files(t, root+"/main"))
	if err := s.Put(ctx, rec("e")); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, k := range keysOf(files(t, root+"/main")) {
		got += string(files(t, root+"/main")[k])
	}
	if len(files(t, root+"/main")) != before+2 || !strings.Contains(got, "d") || !strings.Contains(got, "e") {
		t.Errorf("pending records not delivered: %q", got)
	}
}

func TestBackupAllData(t *testing.T) {
	bdir := t.TempDir()
	cfg := transformConfig()
	cfg.Backup = &Backup{Mode: BackupAllData, Directory: &DirectoryConfig{Path: bdir}, Prefix: "source/", Compression: GZIP}
	s, _, out := newTestStream(t, cfg, Deps{Transform: func(ctx context.Context, ev *TransformEvent) (*TransformResponse, error) {
		var r TransformResponse
		for _, x := range ev.Records {
			r.Records = append(r.Records, TransformResult{RecordID: x.RecordID, Result: ResultDropped})
		}
		return &r, nil
	}})
	if err := s.Put(ctx, rec("one"), rec("two")); err != nil {
		t.Fatal(err)
	}
	if len(files(t, out)) != 0 {
		t.Fatal("dropped records delivered")
	}
	bf := withPrefix(files(t, bdir), "source/2024/03/09/14/")
	if len(bf) != 1 || !strings.HasSuffix(keysOf(bf)[0], ".gz") {
		t.Fatalf("backup %v", keysOf(files(t, bdir)))
	}
	zr, _ := gzip.NewReader(bytes.NewReader(bf[keysOf(bf)[0]]))
	if b, _ := io.ReadAll(zr); string(b) != "onetwo" {
		t.Errorf("backup content %q", b)
	}
}

func TestHTTPEndpointDestination(t *testing.T) {
	var got []HTTPRequest
	var headers []http.Header
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			body, _ = gzip.NewReader(r.Body)
		}
		var req HTTPRequest
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got = append(got, req)
		headers = append(headers, r.Header.Clone())
		if fail.Load() {
			w.WriteHeader(413)
			json.NewEncoder(w).Encode(HTTPResponse{RequestID: req.RequestID, Timestamp: 1, ErrorMessage: "Payload too large"})
			return
		}
		json.NewEncoder(w).Encode(HTTPResponse{RequestID: req.RequestID, Timestamp: 1})
	}))
	defer srv.Close()
	bdir := t.TempDir()
	cfg := Config{
		HTTPEndpoint: &HTTPEndpointConfig{URL: srv.URL + "/ingest?x=1", AccessKey: "secret", ContentEncoding: "GZIP",
			CommonAttributes: map[string]string{"env": "test"}},
		Backup:                 &Backup{Directory: &DirectoryConfig{Path: bdir}, ErrorOutputPrefix: "failed/!{firehose:error-output-type}/"},
		Buffering:              BufferingHints{IntervalInSeconds: Seconds(0)},
		RetryDurationInSeconds: Seconds(20),
	}
	s, _, _ := newTestStream(t, cfg, Deps{RetryInterval: 5 * time.Second})
	if err := s.Put(ctx, rec("r1"), rec("r2")); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Records) != 2 || string(got[0].Records[1].Data) != "r2" {
		t.Fatalf("requests %+v", got)
	}
	h := headers[0]
	if h.Get(HeaderProtocolVersion) != "1.0" || h.Get(HeaderAccessKey) != "secret" || h.Get(HeaderRequestID) != got[0].RequestID ||
		h.Get("Content-Type") != "application/json" || !strings.Contains(h.Get(HeaderCommonAttributes), `"env":"test"`) ||
		!strings.HasSuffix(h.Get(HeaderSourceArn), "deliverystream/orders") {
		t.Errorf("headers %v", h)
	}
	fail.Store(true)
	got = nil
	if err := s.Put(ctx, rec("r3")); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].RequestID != got[4].RequestID {
		t.Errorf("%d attempts; request id must stay the same across retries", len(got))
	}
	bf := withPrefix(files(t, bdir), "failed/http-endpoint-failed/")
	if len(bf) != 1 {
		t.Fatalf("backup %v", keysOf(files(t, bdir)))
	}
	if d := docs(t, bf[keysOf(bf)[0]]); len(d) != 1 || d[0]["errorCode"] != CodeHTTPDestination || !strings.Contains(d[0]["errorMessage"].(string), "Payload too large") {
		t.Errorf("docs %v", d)
	}
}

func TestStageCommitAbort(t *testing.T) {
	s, _, out := newTestStream(t, Config{Format: Format{Type: FormatJSONLines}}, Deps{})
	s.Put(ctx, rec("a"), rec("b"))
	staged, err := s.StageAll(ctx)
	if err != nil || len(staged) != 1 {
		t.Fatalf("staged %v %v", staged, err)
	}
	if len(files(t, out)) != 0 {
		t.Fatal("a staged object is visible")
	}
	// The handle survives the process: a new store commits it.
	b, _ := staged[0].Marshal()
	h, err := UnmarshalStaged(b)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := NewDirStore(out)
	if err := ds.Commit(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := ds.Commit(ctx, h); err != nil {
		t.Fatalf("commit is not idempotent: %v", err)
	}
	if fs := files(t, out); len(fs) != 1 || string(fs[h.Key]) != "a\nb\n" {
		t.Fatalf("files %v", fs)
	}
	// A staged object left by a crash is found and aborted.
	s.Put(ctx, rec("c"))
	staged, _ = s.StageAll(ctx)
	found, err := ds.ListStaged(ctx, "")
	if err != nil || len(found) != 1 || found[0].Key != staged[0].Key {
		t.Fatalf("ListStaged %v %v", found, err)
	}
	if err := ds.Abort(ctx, found[0]); err != nil {
		t.Fatal(err)
	}
	if left, _ := ds.ListStaged(ctx, ""); len(left) != 0 || len(files(t, out)) != 1 {
		t.Fatalf("abort left %v", left)
	}
	if _, err := UnmarshalStaged([]byte(`{"v":99}`)); err == nil {
		t.Error("unknown handle version accepted")
	}
}
