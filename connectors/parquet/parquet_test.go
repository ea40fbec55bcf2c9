package parquet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

type event struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Score   *float64  `json:"score"`
	Small   int8      `json:"small"`
	Count   uint32    `json:"count"`
	OK      bool      `json:"ok"`
	At      time.Time `json:"at"`
	Payload []byte    `json:"payload,omitempty"`
}

func mustSchema(t testing.TB, v any) *Schema {
	t.Helper()
	as, err := SchemaFromStruct(v)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSchema(as)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readBack reads a file with arrow-go's pqarrow, an implementation
// independent of the writer's.
func readBack(t *testing.T, b []byte) arrow.Table {
	t.Helper()
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(b), aparquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("pqarrow.ReadTable: %v", err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

func arrowColumn(t *testing.T, tbl arrow.Table, name string) arrow.Array {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %v", name, tbl.Schema())
	}
	chunks := tbl.Column(idx[0]).Data().Chunks()
	if len(chunks) != 1 {
		arr, err := array.Concatenate(chunks, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		return arr
	}
	return chunks[0]
}

func TestJSONToParquetReadByArrow(t *testing.T) {
	s := mustSchema(t, event{})
	var buf bytes.Buffer
	w, err := NewWriter(&buf, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs := [][]byte{
		[]byte(`{"id": 1, "name": "a", "score": 1.5, "small": -3, "count": 7, "ok": true, "at": 1518033528}`),
		[]byte(`{"ID": 2, "NAME": "b\u00e9\n", "score": null, "small": 127, "count": "8", "ok": "false", "at": "2018-02-07T19:58:48.123Z", "extra": {"x": [1, "}"]}}`),
		[]byte(`{"id": 3, "name": 42, "small": 0, "count": 0, "ok": false, "at": 1518033528123, "payload": "raw"}` + "\n" + `{"id": 4, "name": true, "small": 1, "count": 1, "ok": true, "at": "2018-02-07 19:58:48.5"}`),
		[]byte(`{"id": 5, "name": "x", "small": 128, "count": 1, "ok": true, "at": 0}`),    // int8 overflow
		[]byte(`{"id": 6.5, "name": "x", "small": 1, "count": 1, "ok": true, "at": 0}`),    // fraction in int
		[]byte(`{"id": 7, "small": 1, "count": 1, "ok": true, "at": 0}`),                   // missing non-nullable
		[]byte(`[{"id": 8, "name": "x", "small": 1, "count": 1, "ok": true, "at": 0}]`),    // array
		[]byte(`{"id": 9, "name": "x", "small": 1, "count": 1, "ok": true, "at": "noon"}`), // bad timestamp
		[]byte(`{"id": 10, "name": "x", "small": 1, "count": -1, "ok": true, "at": 0}`),    // negative uint
		[]byte(`{"id": 11, "name": "x", "small": 1, "count": 1, "ok": {}, "at": 0}`),       // object for bool
		[]byte(`{"id": 12, "name": "x" "small": 1}`),                                       // malformed
		[]byte(`not json`),
	}
	var failed []int
	var msgs []string
	rows, err := w.WriteJSON(recs, func(i int, err error) {
		var ce *ConversionError
		if !errors.As(err, &ce) {
			t.Errorf("record %d: error %v is not a *ConversionError", i, err)
		}
		failed = append(failed, i)
		msgs = append(msgs, err.Error())
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if rows != 4 || fmt.Sprint(failed) != "[3 4 5 6 7 8 9 10 11]" {
		t.Fatalf("rows = %d, failed = %v (%q)", rows, failed, msgs)
	}

	tbl := readBack(t, buf.Bytes())
	if tbl.NumRows() != 4 {
		t.Fatalf("arrow read %d rows", tbl.NumRows())
	}
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name)
	}
	if got := fmt.Sprint(names); got != "[id name score small count ok at payload]" {
		t.Errorf("column order %s", got)
	}
	ids := arrowColumn(t, tbl, "id").(*array.Int64)
	nameCol := arrowColumn(t, tbl, "name").(*array.String)
	score := arrowColumn(t, tbl, "score").(*array.Float64)
	small := arrowColumn(t, tbl, "small").(*array.Int8)
	count := arrowColumn(t, tbl, "count").(*array.Uint32)
	ok := arrowColumn(t, tbl, "ok").(*array.Boolean)
	at := arrowColumn(t, tbl, "at").(*array.Timestamp)
	payload := arrowColumn(t, tbl, "payload").(*array.Binary)
	wantNames := []string{"a", "bé\n", "42", "true"}
	wantAt := []time.Time{
		time.Unix(1518033528, 0), time.UnixMilli(1518033528123), time.UnixMilli(1518033528123),
		time.Date(2018, 2, 7, 19, 58, 48, 5e8, time.UTC),
	}
	for i := 0; i < 4; i++ {
		if ids.Value(i) != int64(i+1) || nameCol.Value(i) != wantNames[i] {
			t.Errorf("row %d: id %d name %q", i, ids.Value(i), nameCol.Value(i))
		}
		if got := time.UnixMilli(int64(at.Value(i))); !got.Equal(wantAt[i]) {
			t.Errorf("row %d: at %v, want %v", i, got, wantAt[i])
		}
	}
	if score.IsNull(0) || score.Value(0) != 1.5 || !score.IsNull(1) || !score.IsNull(3) {
		t.Errorf("score nulls wrong")
	}
	if small.Value(0) != -3 || small.Value(1) != 127 || count.Value(1) != 8 {
		t.Errorf("small/count wrong: %d %d %d", small.Value(0), small.Value(1), count.Value(1))
	}
	if !ok.Value(0) || ok.Value(1) || !ok.Value(3) {
		t.Errorf("ok wrong")
	}
	if !payload.IsNull(0) || string(payload.Value(2)) != "raw" {
		t.Errorf("payload wrong")
	}
}

func TestCompressionDictionaryAndRowGroups(t *testing.T) {
	s := mustSchema(t, struct {
		K string `json:"k"`
		V int64  `json:"v"`
	}{})
	for _, c := range []struct {
		opt  string
		want compress.Compression
	}{{"", compress.Codecs.Snappy}, {"gzip", compress.Codecs.Gzip}, {"UNCOMPRESSED", compress.Codecs.Uncompressed}} {
		for _, dict := range []bool{true, false} {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, s, Options{Compression: c.opt, DisableDictionary: !dict, BlockSizeBytes: 4096})
			if err != nil {
				t.Fatal(err)
			}
			var recs [][]byte
			for i := 0; i < 2000; i++ {
				recs = append(recs, fmt.Appendf(nil, `{"k":"key-%d","v":%d}`, i%10, i))
			}
			if _, err := w.WriteJSON(recs, func(i int, err error) { t.Errorf("record %d: %v", i, err) }); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			md := rdr.MetaData()
			if md.NumRows != 2000 || md.NumRowGroups() < 2 {
				t.Errorf("%s: %d rows in %d row groups, want 2000 in several", c.opt, md.NumRows, md.NumRowGroups())
			}
			rg := md.RowGroup(0)
			cc, err := rg.ColumnChunk(0)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != c.want {
				t.Errorf("%q: codec %v, want %v", c.opt, cc.Compression(), c.want)
			}
			if cc.HasDictionaryPage() != dict {
				t.Errorf("%q dict=%v: HasDictionaryPage = %v", c.opt, dict, cc.HasDictionaryPage())
			}
			rdr.Close()
			tbl := readBack(t, buf.Bytes())
			v := arrowColumn(t, tbl, "v").(*array.Int64)
			for i := 0; i < v.Len(); i++ {
				if v.Value(i) != int64(i) {
					t.Fatalf("row %d: v = %d", i, v.Value(i))
				}
			}
		}
	}
}

func TestSchemaRejects(t *testing.T) {
	if _, err := NewSchema(arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("list: %v", err)
	}
	if _, err := NewSchema(arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)); err == nil {
		t.Error("duplicate column accepted")
	}
	if _, err := SchemaFromStruct(struct{ M map[string]int }{}); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("map field: %v", err)
	}
	if err := (Options{Compression: "LZO"}).Validate(); err == nil {
		t.Error("LZO accepted")
	}
}

func TestDateAndTimestampUnits(t *testing.T) {
	as := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "us", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	}, nil)
	s, err := NewSchema(as)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, s, Options{})
	if _, err := w.WriteJSON([][]byte{[]byte(`{"d":"2020-02-29","us":"2020-02-29T01:02:03.000004+01:00","f":0.5}`), []byte(`{"d":3,"us":1.5}`)},
		func(i int, err error) { t.Errorf("record %d: %v", i, err) }); err != nil {
		t.Fatal(err)
	}
	w.Close()
	tbl := readBack(t, buf.Bytes())
	d := arrowColumn(t, tbl, "d").(*array.Date32)
	us := arrowColumn(t, tbl, "us").(*array.Timestamp)
	if got := d.Value(0).ToTime(); !got.Equal(time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC)) || d.Value(1) != 3 {
		t.Errorf("dates %v %v", got, d.Value(1))
	}
	if got := time.UnixMicro(int64(us.Value(0))); !got.Equal(time.Date(2020, 2, 29, 0, 2, 3, 4000, time.UTC)) {
		t.Errorf("us %v", got)
	}
	if us.Value(1) != 1500000 {
		t.Errorf("fractional epoch seconds: %d", us.Value(1))
	}
}

func TestSchemaFromColumns(t *testing.T) {
	as, err := SchemaFromColumns([]Column{
		{Name: "id", Type: "BIGINT"}, {Name: "ok", Type: "boolean"}, {Name: "q", Type: "int"},
		{Name: "amount", Type: "double", Nullable: true}, {Name: "user", Type: "string"},
		{Name: "day", Type: "date"}, {Name: "at", Type: "timestamp(us)"}, {Name: "raw", Type: "binary"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"int64", "bool", "int32", "float64", "utf8", "date32", "timestamp[us, tz=UTC]", "binary"}
	for i, f := range as.Fields() {
		if f.Type.String() != want[i] {
			t.Errorf("column %s: %s, want %s", f.Name, f.Type, want[i])
		}
	}
	if !as.Field(3).Nullable || as.Field(0).Nullable {
		t.Error("nullability not kept")
	}
	if _, err := NewSchema(as); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]Column{nil, {{Name: "", Type: "int"}}, {{Name: "x", Type: "decimal(10,2)"}}} {
		if _, err := SchemaFromColumns(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
