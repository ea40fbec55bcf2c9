package planner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/kinesis"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/row"
)

// This file is the 'kinesis' table: any Kinesis endpoint through the AWS
// SDK (connectors/kinesis), records in a sql/format format. Records that
// do not decode go to the table's error output as with 'shardlog' tables
// (see table_log.go), with the Kinesis record's shard, sequence number
// and partition key; the job goes on.

// kinesisClient builds the table's SDK client from its aws.* options
// (validated by the catalog).
func kinesisClient(t *catalog.Table) (kinesis.API, error) {
	o := t.Options
	cfg := kinesis.ClientConfig{Region: o["aws.region"], Endpoint: o["aws.endpoint"]}
	switch o["aws.credentials.provider"] {
	case "BASIC":
		cfg.Credentials = kinesis.CredentialsBasic
		cfg.AccessKeyID, cfg.SecretKey = o["aws.credentials.basic.accesskeyid"], o["aws.credentials.basic.secretkey"]
	case "ENV_VAR":
		cfg.Credentials = kinesis.CredentialsEnv
	case "PROFILE":
		cfg.Credentials = kinesis.CredentialsProfile
		cfg.Profile, cfg.ProfilePath = o["aws.credentials.profile.name"], o["aws.credentials.profile.path"]
	}
	if cfg.Region == "" {
		// Flink takes an endpoint alone; requests are still signed for a
		// region.
		cfg.Region = "us-east-1"
	}
	c, err := kinesis.NewClient(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	return c, nil
}

// kinesisStream splits 'stream' into a name or an ARN.
func kinesisStream(t *catalog.Table) (name, arn string) {
	s := t.Options["stream"]
	if strings.HasPrefix(s, "arn:") {
		return "", s
	}
	return s, ""
}

// optInt is an integer option, 0 when absent (validated by the catalog).
func optInt(t *catalog.Table, key string) int64 {
	n, _ := strconv.ParseInt(t.Options[key], 10, 64)
	return n
}

func optMillis(t *catalog.Table, key string) time.Duration {
	return time.Duration(optInt(t, key)) * time.Millisecond
}

// kinRow is what the table's source emits: a decoded row, or the record
// that did not decode (bad), or neither (skipped by ignore-parse-errors).
type kinRow struct {
	r   *row.Row
	bad *kinesisBadRecord
}

type kinesisBadRecord struct {
	rec kinesis.Record
	err error
}

// buildKinesisSource reads the table's stream: each record decoded by the
// format into the physical columns, the metadata columns filled from the
// record, then the computed columns.
func (ip *insertPlan) buildKinesisSource(j *engine.Job, o RunOptions) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	edir, err := errorDir(t, o)
	if err != nil {
		return nil, err
	}
	cl, err := kinesisClient(t)
	if err != nil {
		return nil, err
	}
	codec, err := logCodec(t, catalog.FormatLayout(t))
	if err != nil {
		return nil, err
	}
	opts := kinesis.SourceOptions{Bounded: t.Options["scan.bounded"] == "true", KeepAggregates: t.Options["scan.kpl.deaggregate"] == "false",
		MaxRecordsPerRead: int(optInt(t, "scan.shard.getrecords.maxrecordcount")),
		PollInterval:      optMillis(t, "scan.shard.getrecords.intervalmillis"),
		DiscoveryInterval: optMillis(t, "scan.shard.discovery.intervalmillis")}
	if _, ok := t.Options["scan.shard.getrecords.intervalmillis"]; ok && opts.PollInterval == 0 {
		opts.PollInterval = time.Nanosecond // 0 written out: no rest
	}
	opts.Stream, opts.StreamARN = kinesisStream(t)
	switch t.Options["scan.stream.initpos"] {
	case "TRIM_HORIZON":
		opts.Start = kinesis.TrimHorizon
	case "AT_TIMESTAMP":
		opts.Start = kinesis.AtTimestamp
		if opts.StartTimestamp, err = catalog.ParseInitPosTimestamp(t.Options["scan.stream.initpos-timestamp"]); err != nil {
			return nil, fmt.Errorf("table '%s': %w", t.Name, err)
		}
	default: // LATEST, Flink's default
		opts.Start = kinesis.Latest
	}
	var fields []int
	var metas []kinesisMeta
	k := 0
	for _, c := range t.Columns {
		if c.Expr != nil {
			continue
		}
		if c.Metadata != "" {
			metas = append(metas, kinesisMeta{dst: k, key: c.Metadata})
		} else {
			fields = append(fields, k)
		}
		k++
	}
	layout, comp := ip.src.layout, ip.src.computed
	decode := func(rec *kinesis.Record) (kinRow, error) {
		fr, err := codec.Decode(rec.Data)
		if err != nil {
			return kinRow{bad: &kinesisBadRecord{rec: *rec, err: err}}, nil
		}
		if fr == nil {
			return kinRow{}, nil // skipped under ignore-parse-errors
		}
		r := layout.New()
		for f, dst := range fields {
			if err := r.Set(dst, fr.Get(f)); err != nil {
				return kinRow{bad: &kinesisBadRecord{rec: *rec, err: err}}, nil
			}
		}
		for _, m := range metas {
			m.set(r, rec)
		}
		fn := comp.get()
		err = fn(r)
		comp.put(fn)
		if err != nil {
			return kinRow{}, fmt.Errorf("computed column: %w", err)
		}
		return kinRow{r: r}, nil
	}
	src, err := kinesis.NewSourceWith(cl, opts, decode)
	if err != nil {
		return nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	ws := sourceWatermarks(ip, func(k kinRow) *row.Row { return k.r })
	name := ip.op(t.Name)
	raw := engine.SourceOf(j, name, src, ws)
	ef := o.res.errorFile(edir)
	return engine.Transform(raw, name+"/decode", func() engine.OneInputOperator[kinRow, *row.Row] {
		return &kinesisDecodeOp{table: t.Name, errs: ef}
	}), nil
}

// kinesisMeta sets one metadata column of a source row from a record.
type kinesisMeta struct {
	dst int
	key string
}

func (m kinesisMeta) set(r *row.Row, rec *kinesis.Record) {
	switch m.key {
	case "timestamp":
		r.SetTimestamp(m.dst, row.TimestampFromMillis(rec.ArrivalTime.UnixMilli()))
	case "partition-key":
		r.SetStr(m.dst, rec.PartitionKey)
	case "sequence-number":
		r.SetStr(m.dst, rec.SequenceNumber)
	case "shard-id":
		r.SetStr(m.dst, rec.ShardID)
	}
}

// kinesisDecodeOp passes the decoded rows on and writes the records that
// did not decode to the table's error output, counting them as the
// shardlog tables' decode operator does (shardconn.DecodeErrorCounter).
type kinesisDecodeOp struct {
	table string
	errs  *errorFile
	out   *engine.Collector[*row.Row]
	ctr   *engine.Counter
}

func (o *kinesisDecodeOp) Open(ctx *engine.OperatorContext[*row.Row]) error {
	o.out = ctx.Output()
	o.ctr = ctx.Counter(shardconn.DecodeErrorCounter)
	return nil
}

func (o *kinesisDecodeOp) ProcessBatch(b []engine.Record[kinRow]) error {
	for i := range b {
		k := &b[i].Value
		switch {
		case k.bad != nil:
			o.ctr.Inc()
			if err := o.errs.write(kinesisErrorLine(o.table, k.bad)); err != nil {
				return err
			}
		case k.r != nil:
			o.out.Collect(k.r, b[i].Time)
		}
	}
	return nil
}

func (o *kinesisDecodeOp) Close() error { return nil }

// kinesisErrorLine is one line of a table's error output, in the shape
// of the shardlog tables' (errorLine).
func kinesisErrorLine(table string, e *kinesisBadRecord) []byte {
	return streamErrorLine(table, e.err.Error(), e.rec.Data, e.rec.ArrivalTime, e.rec.ShardID, e.rec.SequenceNumber, e.rec.PartitionKey)
}

// buildKinesisSink writes rows to the table's stream in its format, the
// partition key made of the PARTITIONED BY columns, else the subtask's
// index ('fixed'), else one of its own per record ('random').
func (ip *insertPlan) buildKinesisSink(s *engine.Stream[*row.Row], o RunOptions) error {
	t := ip.sink
	cl, err := kinesisClient(t)
	if err != nil {
		return err
	}
	codec, err := logCodec(t, ip.sinkL)
	if err != nil {
		return err
	}
	keyOf := ip.partitionKeyOf()
	var seq atomic.Int64
	salt := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	fixed := t.Options["sink.partitioner"] == "fixed"
	enc := func(subtask int, r *row.Row) (kinesis.Entry, error) {
		data, err := codec.Encode(nil, r)
		if err != nil {
			return kinesis.Entry{}, fmt.Errorf("table '%s': %w", t.Name, err)
		}
		switch {
		case fixed: // Flink's FixedKinesisPartitioner: the subtask's index
			return kinesis.Entry{PartitionKey: strconv.Itoa(subtask), Data: data}, nil
		case keyOf == nil: // Flink's random partitioner
			return kinesis.Entry{PartitionKey: salt + strconv.FormatInt(seq.Add(1), 36), Data: data}, nil
		}
		key, err := keyOf(r)
		if err != nil {
			return kinesis.Entry{}, err
		}
		return kinesis.Entry{PartitionKey: key, Data: data}, nil
	}
	so := kinesis.SinkOptions{}
	so.Stream, so.StreamARN = kinesisStream(t)
	so.MaxBatchRecords = int(optInt(t, "sink.batch.max-size"))
	so.FailOnError = t.Options["sink.fail-on-error"] == "true"
	so.Aggregate = t.Options["sink.kpl.aggregate"] == "true"
	if _, ok := t.Options["sink.flush-buffer.timeout"]; ok {
		so.FlushTimeout = max(optMillis(t, "sink.flush-buffer.timeout"), time.Nanosecond)
	}
	sink, err := kinesis.NewSinkPerSubtask(cl, so, func(subtask int) kinesis.Encoder[*row.Row] {
		return func(r *row.Row) (kinesis.Entry, error) { return enc(subtask, r) }
	})
	if err != nil {
		return fmt.Errorf("table '%s': %w", t.Name, err)
	}
	engine.SinkTo(s, ip.op(t.Name), sink)
	return nil
}
