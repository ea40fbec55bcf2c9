// Package firehosebench is `sluice bench firehose`: JSON→Parquet
// conversion beside a hand-written parquet-go loop, and delivery to an
// S3-compatible server (MinIO), plain and through the exactly-once sink in
// a job.
package firehosebench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/connectors/parquet"
	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/testsupport/minio"
)

// benchEvent is the row shape of `sluice bench firehose`. The parquet tags
// give the hand-written baseline the same columns, encodings and codec as
// the converter's (dictionary on every non-boolean column, Snappy).
type benchEvent struct {
	ID       int64     `json:"id" parquet:"id,dict"`
	User     string    `json:"user" parquet:"user,dict"`
	Event    string    `json:"event" parquet:"event,dict"`
	Amount   float64   `json:"amount" parquet:"amount,dict"`
	OK       bool      `json:"ok" parquet:"ok"`
	Quantity int32     `json:"quantity" parquet:"quantity,dict"`
	At       time.Time `json:"at" parquet:"at,timestamp(millisecond),dict"`
}

// Config is the configuration of Run.
type Config struct {
	Runs    int // runs per case (medians are reported)
	Records int // records per run
	// S3Endpoint, AccessKey and SecretKey name the server of the delivery
	// cases; with no endpoint, Run starts a MinIO from the CI cache
	// (internal/testsupport/minio) and skips those cases when there is none.
	S3Endpoint, AccessKey, SecretKey string
	// CheckpointInterval is the checkpoint interval of the exactly-once
	// sink job (objects are cut at every checkpoint).
	CheckpointInterval time.Duration
	// Log receives notes such as a skipped case; nil discards them.
	Log io.Writer
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, Records: 200000, CheckpointInterval: 250 * time.Millisecond}

// Run runs the cases and hands each result to emit as it finishes. It
// blocks until they are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs < 1 || cfg.Records < 1 || cfg.CheckpointInterval <= 0 {
		return bench.ConfigError("--runs, --records and --checkpoint-interval must be positive")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	recs, total := benchRecords(cfg.Records)
	as, err := parquet.SchemaFromStruct(benchEvent{})
	if err != nil {
		return err
	}
	schema, err := parquet.NewSchema(as)
	if err != nil {
		return err
	}

	// Case and baseline interleaved: both see the same machine conditions.
	var conv, base []bench.Sample
	var outBytes int64
	for r := 0; r < cfg.Runs; r++ {
		s, err := bench.Measure(func() (int64, int64, error) {
			var buf bytes.Buffer
			w, err := parquet.NewWriter(&buf, schema, parquet.Options{})
			if err != nil {
				return 0, 0, err
			}
			rows, err := w.WriteJSON(recs, func(i int, err error) {})
			if err != nil {
				return 0, 0, err
			}
			if err := w.Close(); err != nil {
				return 0, 0, err
			}
			outBytes = int64(buf.Len())
			if rows != len(recs) {
				return 0, 0, fmt.Errorf("converted %d of %d records", rows, len(recs))
			}
			return int64(rows), total, nil
		})
		if err != nil {
			return err
		}
		conv = append(conv, s)
		b, err := bench.Measure(func() (int64, int64, error) { return handwrittenParquet(recs, total) })
		if err != nil {
			return err
		}
		base = append(base, b)
	}
	res := bench.FromSamples("firehose_json_to_parquet", conv).WithBaseline(base).
		Set("baseline", "json.Unmarshal into a struct + parquet-go GenericWriter[T], same columns/codec").
		Set("baseline_records_per_sec", bench.Median(base, bench.Sample.RecordsPerSec)).
		Set("mb_per_cpu_sec", bench.Median(conv, func(s bench.Sample) float64 { return float64(s.Bytes) / s.CPU.Seconds() / 1e6 })).
		Set("parquet_bytes", outBytes)
	if err := emit(res); err != nil {
		return err
	}
	return benchFirehoseMinIO(ctx, cfg, emit, recs, total)
}

func benchRecords(n int) ([][]byte, int64) {
	events := []string{"view", "click", "purchase", "refund"}
	recs := make([][]byte, n)
	var total int64
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"id":%d,"user":"user-%d","event":"%s","amount":%d.%02d,"ok":%t,"quantity":%d,"at":%d}`,
			i, i%5000, events[i%len(events)], i%1000, i%100, i%3 == 0, i%17, at.Add(time.Duration(i)*time.Millisecond).UnixMilli())
		total += int64(len(recs[i]))
	}
	return recs, total
}

// handwrittenParquet is what a user would write by hand for the same job:
// decode each JSON record into a struct, write with parquet-go.
func handwrittenParquet(recs [][]byte, total int64) (int64, int64, error) {
	type row struct {
		ID       int64   `parquet:"id,dict"`
		User     string  `parquet:"user,dict"`
		Event    string  `parquet:"event,dict"`
		Amount   float64 `parquet:"amount,dict"`
		OK       bool    `parquet:"ok"`
		Quantity int32   `parquet:"quantity,dict"`
		At       int64   `parquet:"at,timestamp(millisecond),dict"`
	}
	var in struct {
		ID       int64   `json:"id"`
		User     string  `json:"user"`
		Event    string  `json:"event"`
		Amount   float64 `json:"amount"`
		OK       bool    `json:"ok"`
		Quantity int32   `json:"quantity"`
		At       int64   `json:"at"`
	}
	var buf bytes.Buffer
	w := pq.NewGenericWriter[row](&buf, pq.Compression(&pq.Snappy), pq.PageBufferSize(parquet.DefaultPageSizeBytes))
	batch := make([]row, 0, 1024)
	for _, r := range recs {
		in = struct {
			ID       int64   `json:"id"`
			User     string  `json:"user"`
			Event    string  `json:"event"`
			Amount   float64 `json:"amount"`
			OK       bool    `json:"ok"`
			Quantity int32   `json:"quantity"`
			At       int64   `json:"at"`
		}{}
		if err := json.Unmarshal(r, &in); err != nil {
			return 0, 0, err
		}
		batch = append(batch, row{in.ID, in.User, in.Event, in.Amount, in.OK, in.Quantity, in.At})
		if len(batch) == cap(batch) {
			if _, err := w.Write(batch); err != nil {
				return 0, 0, err
			}
			batch = batch[:0]
		}
	}
	if _, err := w.Write(batch); err != nil {
		return 0, 0, err
	}
	if err := w.Close(); err != nil {
		return 0, 0, err
	}
	return int64(len(recs)), total, nil
}

// benchFirehoseMinIO runs the whole delivery stream (buffering, Parquet
// conversion, S3 upload through the SDK) against a real MinIO, twice per
// run and interleaved: the plain Stream (Put/Flush, objects visible at
// once) and the exactly-once Sink in an engine job with checkpoints
// (objects staged as multipart uploads, journaled, completed when each
// checkpoint completes).
func benchFirehoseMinIO(ctx context.Context, cfg Config, emit bench.Emit, recs [][]byte, total int64) error {
	endpoint, access, secret, runs, chkEvery := cfg.S3Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Runs, cfg.CheckpointInterval
	if endpoint == "" {
		bin := minio.Find()
		if bin == "" {
			fmt.Fprintln(cfg.Log, "firehose_delivery_minio: skipped (no MinIO: set SLUICE_S3_ENDPOINT or run .ci/setup.d/40-minio.sh)")
			return nil
		}
		m, err := minio.Start(ctx, bin)
		if err != nil {
			return err
		}
		defer m.Stop()
		endpoint, access, secret = m.Endpoint, m.AccessKey, m.SecretKey
	}
	schema, err := parquet.SchemaFromStruct(benchEvent{})
	if err != nil {
		return err
	}
	bucket := func(tag string, r int) (s3.Config, error) {
		sc := s3.Config{Bucket: fmt.Sprintf("sluice-bench-%s-%d-%d", tag, time.Now().UnixNano(), r), Endpoint: endpoint, Region: "us-east-1",
			UsePathStyle: true, AccessKeyID: access, SecretAccessKey: secret}
		b, err := s3.Open(ctx, sc)
		if err != nil {
			return sc, err
		}
		return sc, b.CreateBucket(ctx)
	}
	config := func(sc s3.Config) firehose.Config {
		return firehose.Config{
			Name: "bench", S3: &sc,
			Format:    firehose.Format{Type: firehose.FormatParquet, Parquet: &firehose.ParquetFormat{Schema: schema}},
			Buffering: firehose.BufferingHints{SizeInMBs: 8},
		}
	}
	plain := func(r int) (bench.Sample, int64, error) {
		sc, err := bucket("plain", r)
		if err != nil {
			return bench.Sample{}, 0, err
		}
		st, err := firehose.New(ctx, config(sc), firehose.Deps{})
		if err != nil {
			return bench.Sample{}, 0, err
		}
		s, err := bench.Measure(func() (int64, int64, error) {
			const batch = 500 // Firehose's PutRecordBatch limit
			rb := make([]firehose.Record, 0, batch)
			for i, d := range recs {
				rb = append(rb, firehose.Record{Data: d})
				if len(rb) == batch || i == len(recs)-1 {
					if err := st.Put(ctx, rb...); err != nil {
						return 0, 0, err
					}
					rb = rb[:0]
				}
			}
			if err := st.Flush(ctx); err != nil {
				return 0, 0, err
			}
			return st.Stats().RecordsDelivered, total, nil
		})
		return s, st.Stats().Objects, err
	}
	exactlyOnce := func(r int) (bench.Sample, firehose.SinkStats, int64, error) {
		sc, err := bucket("eo", r)
		if err != nil {
			return bench.Sample{}, firehose.SinkStats{}, 0, err
		}
		sink, err := firehose.NewSink[[]byte](config(sc), firehose.SinkOptions{}, nil)
		if err != nil {
			return bench.Sample{}, firehose.SinkStats{}, 0, err
		}
		dir, err := os.MkdirTemp("", "sluice-bench-firehose-")
		if err != nil {
			return bench.Sample{}, firehose.SinkStats{}, 0, err
		}
		defer os.RemoveAll(dir)
		var checkpoints int64
		s, err := bench.Measure(func() (int64, int64, error) {
			j := engine.NewJob("bench-firehose", engine.Config{Parallelism: 1, StateBackend: "memory",
				Checkpoint: engine.CheckpointConfig{Interval: chkEvery, Dir: dir}})
			engine.SinkTo(engine.FromSlice(j, "records", recs, engine.WatermarkStrategy[[]byte]{}), "firehose", sink)
			run, err := j.Start(ctx)
			if err != nil {
				return 0, 0, err
			}
			if err := run.Wait(); err != nil {
				return 0, 0, err
			}
			checkpoints, _ = run.LatestCheckpoint()
			if c := sink.Stats().CommittedRecords; c != int64(len(recs)) {
				return 0, 0, fmt.Errorf("the exactly-once sink committed %d of %d records", c, len(recs))
			}
			return int64(len(recs)), total, nil
		})
		return s, sink.Stats(), checkpoints, err
	}
	var plainS, eoS []bench.Sample
	var objects, checkpoints int64
	var eoStats firehose.SinkStats
	for r := 0; r < runs; r++ {
		// Alternate which goes first: both see the same conditions.
		for k := 0; k < 2; k++ {
			if (r+k)%2 == 0 {
				s, o, err := plain(r)
				if err != nil {
					return err
				}
				plainS, objects = append(plainS, s), o
			} else {
				s, st, c, err := exactlyOnce(r)
				if err != nil {
					return err
				}
				eoS, eoStats, checkpoints = append(eoS, s), st, c
			}
		}
	}
	res := bench.FromSamples("firehose_delivery_minio", plainS).Set("objects", objects).Set("buffer_mib", 8)
	if err := emit(res); err != nil {
		return err
	}
	eo := bench.FromSamples("firehose_sink_exactly_once_minio", eoS).WithBaseline(plainS).
		Set("baseline", "firehose_delivery_minio: the plain stream delivering the same records in the same run").
		Set("objects", eoStats.CommittedObjects).Set("checkpoints", checkpoints).
		Set("checkpoint_interval_ms", chkEvery.Milliseconds()).Set("parallelism", 1).Set("buffer_mib", 8)
	return emit(eo)
}
