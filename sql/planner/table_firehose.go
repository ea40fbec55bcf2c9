package planner

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
)

// This file is the firehose table: a delivery stream of connectors/firehose
// as a sink, configured by the table's options (catalog.FirehoseConfig).
// Rows are encoded by the table's format: sql/format's codecs give one
// record each (written as JSON lines), parquet gives the JSON that
// Firehose's record format conversion turns into Parquet columns.

func firehoseConfig(ip *insertPlan) (firehose.Config, error) {
	cfg, err := catalog.FirehoseConfig(catalog.NewValidator(ip.c.src, ip.sink))
	if err != nil {
		return cfg, err
	}
	return cfg, nil
}

// firehoseDesc is the firehose sink for EXPLAIN.
func firehoseDesc(ip *insertPlan) string {
	cfg, err := firehoseConfig(ip)
	if err != nil {
		return "firehose"
	}
	cfg.EnsureDefaults()
	dest := "dir"
	if cfg.S3 != nil {
		dest = "s3://" + cfg.S3.Bucket
	}
	f := ip.sink.Options["format"]
	if f == "" {
		f = "json"
	}
	d := fmt.Sprintf("firehose %s to %s, format %s, buffering %d MiB or %v", cfg.Name, dest, f,
		cfg.Buffering.SizeInMBs, time.Duration(*cfg.Buffering.IntervalInSeconds)*time.Second)
	if cfg.Compression != firehose.Uncompressed {
		d += ", " + cfg.Compression
	}
	if len(ip.sink.PartitionKeys) > 0 {
		d += fmt.Sprintf(", partitioned by %v", ip.sink.PartitionKeys)
	}
	return d + "; exactly once with checkpoints"
}

func (ip *insertPlan) buildFirehoseSink(s *engine.Stream[*row.Row]) error {
	t := ip.sink
	cfg, err := firehoseConfig(ip)
	if err != nil {
		return err
	}
	var toRecord func(*row.Row) firehose.Record
	if cfg.Format.Type == firehose.FormatParquet {
		enc := newParquetJSON(ip.sinkL)
		toRecord = func(r *row.Row) firehose.Record { return firehose.Record{Data: enc.append(nil, r)} }
	} else {
		name := t.Options["format"]
		if name == "" {
			name = "json"
		}
		codec, err := format.New(name, t.Options, "", ip.sinkL)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		toRecord = func(r *row.Row) firehose.Record {
			b, err := codec.Encode(nil, r)
			if err != nil {
				// The sink's toRecord cannot fail; the engine turns the
				// panic into the sink operator's failure, naming it.
				panic(fmt.Errorf("table %s: encode a row: %w", t.Name, err))
			}
			return firehose.Record{Data: b}
		}
	}
	k, err := firehose.NewSink(cfg, firehose.SinkOptions{}, toRecord)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	engine.SinkTo(s, ip.op(t.Name), k)
	return nil
}
