package firehose

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicehq/sluice/connectors/parquet"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/connectors/s3/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// TestMinIOParquetAndErrors delivers JSON as Parquet and failures as error
// documents to a real MinIO through the AWS SDK, and reads the objects
// back with the SDK and pqarrow.
func TestMinIOParquetAndErrors(t *testing.T) {
	sc := s3test.Config(t)
	sc.PartSizeBytes = s3.MinPartSize
	sc.MultipartThresholdBytes = 64 << 10 // objects above 64 KiB go through multipart uploads
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "customer", Type: arrow.BinaryTypes.String},
		{Name: "payload", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	cfg := Config{
		Name:              "orders",
		S3:                &sc,
		Prefix:            "tables/orders/customer=!{partitionKeyFromQuery:c}/dt=!{timestamp:yyyy-MM-dd}/",
		ErrorOutputPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
		Partitioning:      &Partitioning{Keys: map[string]string{"c": "customer"}},
		Format:            Format{Type: FormatParquet, Parquet: &ParquetFormat{Schema: schema, Options: parquet0()}},
		Buffering:         BufferingHints{SizeInMBs: 64, IntervalInSeconds: Seconds(60)},
	}
	s, _, _ := newTestStream(t, cfg, Deps{})
	pad := strings.Repeat("p", 200)
	var recs []Record
	const n = 30000
	for i := 0; i < n; i++ {
		recs = append(recs, rec(fmt.Sprintf(`{"id":%d,"customer":"c%d","payload":"%s-%d"}`, i, i%2, pad, i)))
	}
	recs = append(recs, rec(`{"id":"not a number","customer":"c0"}`))
	if err := s.Put(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := s3.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := b.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var dataKeys, errKeys []string
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, "tables/orders/customer=c0/dt=2024-03-09/orders-1-2024-03-09-14-05-06-"),
			strings.HasPrefix(k, "tables/orders/customer=c1/dt=2024-03-09/orders-1-2024-03-09-14-05-06-"):
			dataKeys = append(dataKeys, k)
		case strings.HasPrefix(k, "errors/format-conversion-failed/2024/03/09/orders-1-"):
			errKeys = append(errKeys, k)
		default:
			t.Errorf("unexpected key %s", k)
		}
	}
	if len(dataKeys) != 2 || len(errKeys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	for _, k := range dataKeys {
		body, err := b.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := pqarrow.ReadTable(ctx, bytes.NewReader(body), aparquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		cust := tbl.Column(1).Data().Chunk(0).(*array.String)
		want := k[len("tables/orders/customer=") : len("tables/orders/customer=")+2]
		for i := 0; i < cust.Len(); i++ {
			if cust.Value(i) != want {
				t.Fatalf("%s: row %d has customer %s", k, i, cust.Value(i))
			}
		}
		total += int(tbl.NumRows())
		tbl.Release()
	}
	if total != n {
		t.Errorf("%d rows read back, want %d", total, n)
	}
	body, _ := b.Get(ctx, errKeys[0])
	if d := docs(t, body); len(d) != 1 || d[0]["lastErrorCode"] != CodeFormatConversion {
		t.Errorf("error docs %v", d)
	}
}

func parquet0() (o parquet.Options) { return }

// TestMinIOStagedCommitAfterRestart stages objects (uncompleted multipart
// uploads), then a new stream — a new process — commits some handles from
// their serialised form and aborts the others.
func TestMinIOStagedCommitAfterRestart(t *testing.T) {
	sc := s3test.Config(t)
	cfg := Config{Name: "events", S3: &sc, Compression: GZIP, Format: Format{Type: FormatJSONLines}}
	s, clk, _ := newTestStream(t, cfg, Deps{})
	s.Put(ctx, rec(`{"a":1}`), rec(`{"a":2}`))
	first, err := s.StageAll(ctx)
	if err != nil || len(first) != 1 {
		t.Fatalf("stage: %v %v", first, err)
	}
	clk.Advance(3600e9)
	s.Put(ctx, rec(`{"a":3}`))
	second, err := s.StageAll(ctx)
	if err != nil || len(second) != 1 {
		t.Fatalf("stage: %v %v", second, err)
	}
	b, _ := s3.Open(ctx, sc)
	if keys, _ := b.List(ctx, ""); len(keys) != 0 {
		t.Fatalf("staged objects visible: %v", keys)
	}
	h1, _ := first[0].Marshal()
	h2, _ := second[0].Marshal()

	s2, _, _ := newTestStream(t, cfg, Deps{})
	c1, _ := UnmarshalStaged(h1)
	a2, _ := UnmarshalStaged(h2)
	if err := s2.Commit(ctx, []Staged{c1}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Commit(ctx, []Staged{c1}); err != nil {
		t.Fatalf("commit twice: %v", err)
	}
	if err := s2.Abort(ctx, []Staged{a2}); err != nil {
		t.Fatal(err)
	}
	keys, _ := b.List(ctx, "")
	if len(keys) != 1 || keys[0] != c1.Key || !strings.HasSuffix(keys[0], ".gz") {
		t.Fatalf("keys %v", keys)
	}
	body, _ := b.Get(ctx, keys[0])
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(got) != "{\"a\":1}\n{\"a\":2}\n" {
		t.Errorf("content %q", got)
	}
	if ups, _ := b.ListUploads(ctx, a2.Key); len(ups) != 0 {
		t.Errorf("aborted upload still listed: %v", ups)
	}
}
