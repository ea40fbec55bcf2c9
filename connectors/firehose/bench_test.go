package firehose

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkPutJSONLinesGzip reports end-to-end records/s and bytes/s of a
// stream writing gzip JSON lines to a directory.
func BenchmarkPutJSONLinesGzip(b *testing.B) {
	recs := make([]Record, 500)
	var size int64
	for i := range recs {
		recs[i] = Record{Data: fmt.Appendf(nil, `{"id":%d,"user":"user-%d","event":"e%d"}`, i, i%50, i%4)}
		size += int64(len(recs[i].Data))
	}
	s, err := New(context.Background(), Config{Name: "bench", Directory: &DirectoryConfig{Path: b.TempDir()},
		Format: Format{Type: FormatJSONLines}, Compression: GZIP, Buffering: BufferingHints{SizeInMBs: 4}}, Deps{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]Record, len(recs))
		copy(batch, recs)
		if err := s.Put(context.Background(), batch...); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(recs))/sec, "records/s")
	b.ReportMetric(float64(int64(b.N)*size)/sec, "bytes/s")
}
