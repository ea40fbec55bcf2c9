package parquet

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkWriteJSON reports JSON→Parquet records/s and bytes/s.
func BenchmarkWriteJSON(b *testing.B) {
	s := mustSchema(b, struct {
		ID     int64   `json:"id"`
		User   string  `json:"user"`
		Event  string  `json:"event"`
		Amount float64 `json:"amount"`
		OK     bool    `json:"ok"`
	}{})
	recs := make([][]byte, 10000)
	var size int64
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"id":%d,"user":"user-%d","event":"e%d","amount":%d.5,"ok":%t}`, i, i%500, i%4, i, i%2 == 0)
		size += int64(len(recs[i]))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, s, Options{})
		if _, err := w.WriteJSON(recs, nil); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(recs))/sec, "records/s")
	b.ReportMetric(float64(int64(b.N)*size)/sec, "bytes/s")
}
