package firehose

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
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

// BenchmarkSinkExactlyOnceDirectory reports records/s and bytes/s of the
// exactly-once Sink in a job with checkpoints every 50 ms, writing gzip
// JSON lines to a directory (staged, journaled, renamed at each
// checkpoint).
func BenchmarkSinkExactlyOnceDirectory(b *testing.B) {
	recs := make([][]byte, 100000)
	var size int64
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"id":%d,"user":"user-%d","event":"e%d"}`, i, i%50, i%4)
		size += int64(len(recs[i]))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink, err := NewSink[[]byte](Config{Name: "bench", Directory: &DirectoryConfig{Path: b.TempDir()},
			Format: Format{Type: FormatJSONLines}, Compression: GZIP, Buffering: BufferingHints{SizeInMBs: 4}}, SinkOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		j := engine.NewJob("bench", engine.Config{StateBackend: "memory",
			Checkpoint: engine.CheckpointConfig{Interval: 50 * time.Millisecond, Dir: b.TempDir()}})
		engine.SinkTo(engine.FromSlice(j, "in", recs, engine.WatermarkStrategy[[]byte]{}), "firehose", sink)
		if err := j.Execute(context.Background()); err != nil {
			b.Fatal(err)
		}
		if c := sink.Stats().CommittedRecords; c != int64(len(recs)) {
			b.Fatalf("committed %d of %d", c, len(recs))
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(recs))/sec, "records/s")
	b.ReportMetric(float64(int64(b.N)*size)/sec, "bytes/s")
}
