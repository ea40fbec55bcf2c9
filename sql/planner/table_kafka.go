package planner

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/kafka"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
)

// This file is the 'kafka' and 'upsert-kafka' tables (catalog.Kafka,
// catalog.UpsertKafka) on connectors/kafka. Records that do not decode go
// to the table's error output as with the other record tables (see
// table_log.go), with the record's topic-partition as "shard-id", its
// offset as "sequence-number" and its key as "partition-key"; the job goes
// on.

// kafkaClient builds the client options from the table's properties.*
// (validated by the catalog).
func kafkaClient(t *catalog.Table) (kafka.ClientOptions, error) {
	o := t.Options
	var c kafka.ClientOptions
	for _, b := range strings.Split(o["properties.bootstrap.servers"], ",") {
		c.Brokers = append(c.Brokers, strings.TrimSpace(b))
	}
	c.ClientID = o["properties.client.id"]
	proto := o["properties.security.protocol"]
	if proto == "SSL" || proto == "SASL_SSL" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if loc := o["properties.ssl.truststore.location"]; loc != "" {
			pem, err := os.ReadFile(loc)
			if err != nil {
				return c, fmt.Errorf("table '%s': 'properties.ssl.truststore.location': %w", t.Name, err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return c, fmt.Errorf("table '%s': 'properties.ssl.truststore.location': %s holds no PEM certificate", t.Name, loc)
			}
		}
		if alg, ok := o["properties.ssl.endpoint.identification.algorithm"]; ok && alg == "" {
			// Kafka's '' turns off the host name check only: the chain is
			// still verified against the trust store.
			roots := cfg.RootCAs
			cfg.InsecureSkipVerify = true
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return fmt.Errorf("the broker sent no certificate")
				}
				inter := x509.NewCertPool()
				for _, ic := range cs.PeerCertificates[1:] {
					inter.AddCert(ic)
				}
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
				return err
			}
		}
		c.TLS = cfg
	}
	if strings.HasPrefix(proto, "SASL_") {
		user, pass, err := catalog.KafkaJAAS(o["properties.sasl.jaas.config"])
		if err != nil {
			return c, fmt.Errorf("table '%s': %w", t.Name, err)
		}
		c.SASLMechanism, c.SASLUser, c.SASLPassword = o["properties.sasl.mechanism"], user, pass
		if c.SASLMechanism == "" {
			c.SASLMechanism = "GSSAPI" // Kafka's default, refused by the catalog
		}
	}
	return c, nil
}

// kafkaSourceOptions are the source options of a kafka table.
func kafkaSourceOptions(t *catalog.Table) (kafka.SourceOptions, error) {
	o := t.Options
	cl, err := kafkaClient(t)
	if err != nil {
		return kafka.SourceOptions{}, err
	}
	so := kafka.SourceOptions{Client: cl, GroupID: o["properties.group.id"],
		Bounded:         o["scan.bounded.mode"] == "latest-offset",
		ReadUncommitted: o["properties.isolation.level"] == "read_uncommitted"}
	if pat, ok := o["topic-pattern"]; ok {
		so.TopicPattern = pat
	} else {
		so.Topics = catalog.KafkaTopics(t)
	}
	so.DiscoveryInterval = 5 * time.Minute
	if s, ok := o["scan.topic-partition-discovery.interval"]; ok {
		d, _ := catalog.ParseDuration(s) // validated
		so.DiscoveryInterval = d
		if d == 0 {
			so.DiscoveryInterval = -1
		}
	}
	switch o["scan.startup.mode"] {
	case "earliest-offset":
		so.Start = kafka.StartEarliest
	case "latest-offset":
		so.Start = kafka.StartLatest
	case "timestamp":
		so.Start = kafka.StartTimestamp
		ms, _ := strconv.ParseInt(o["scan.startup.timestamp-millis"], 10, 64)
		so.StartTimestamp = time.UnixMilli(ms)
		if ms == 0 {
			so.StartTimestamp = time.UnixMilli(0).Add(time.Nanosecond) // the epoch itself, set
		}
	case "specific-offsets":
		so.Start = kafka.StartSpecificOffsets
		offs, _ := catalog.ParseKafkaSpecificOffsets(o["scan.startup.specific-offsets"])
		so.SpecificOffsets = map[string]map[int32]int64{}
		for _, tp := range so.Topics {
			so.SpecificOffsets[tp] = offs
		}
		if len(so.Topics) != 1 {
			return so, fmt.Errorf("table '%s': 'scan.startup.specific-offsets' needs exactly one 'topic'", t.Name)
		}
	case "group-offsets":
		so.Start = kafka.StartGroupOffsets
	default: // Flink's default with a group; without one, the earliest offsets
		so.Start = kafka.StartEarliest
		if so.GroupID != "" {
			so.Start = kafka.StartGroupOffsets
		}
	}
	return so, nil
}

// kafkaSinkOptions are the sink options of a kafka table.
func kafkaSinkOptions(t *catalog.Table) (kafka.SinkOptions, error) {
	o := t.Options
	cl, err := kafkaClient(t)
	if err != nil {
		return kafka.SinkOptions{}, err
	}
	topics := catalog.KafkaTopics(t)
	if len(topics) != 1 {
		return kafka.SinkOptions{}, fmt.Errorf("table '%s': a Kafka sink writes one topic: set 'topic' to one name (not a list or 'topic-pattern')", t.Name)
	}
	so := kafka.SinkOptions{Client: cl, Topic: topics[0], Guarantee: o["sink.delivery-guarantee"],
		TransactionalIDPrefix: o["sink.transactional-id-prefix"], Compression: o["properties.compression.type"]}
	if v, ok := o["properties.transaction.timeout.ms"]; ok {
		n, _ := strconv.ParseInt(v, 10, 64)
		so.TransactionTimeout = time.Duration(n) * time.Millisecond
	}
	if v, ok := o["properties.linger.ms"]; ok {
		n, _ := strconv.ParseInt(v, 10, 64)
		so.Linger = time.Duration(n) * time.Millisecond
	}
	return so, nil
}

// kafkaCodecs are the key (nil without 'key.format') and value codecs of
// a kafka table, and the physical ordinals of their fields.
func kafkaCodecs(t *catalog.Table) (key, val format.Codec, keyIdx, valIdx []int, err error) {
	keyL, valL, keyIdx, valIdx := catalog.KafkaLayouts(t, catalog.KafkaKeyFields(t))
	if kf, ok := t.Options["key.format"]; ok {
		if key, err = format.New(kf, t.Options, "key.", keyL); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("table '%s': %w", t.Name, err)
		}
	}
	_, name, prefix := catalog.LogFormat(t)
	if val, err = format.New(name, t.Options, prefix, valL); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	return key, val, keyIdx, valIdx, nil
}

// kafRow is what a kafka table's source emits: a decoded row, or the
// record that did not decode (bad), or neither (skipped).
type kafRow struct {
	r   *row.Row
	bad *kafkaBadRecord
}

type kafkaBadRecord struct {
	topic     string
	partition int32
	offset    int64
	ts        time.Time
	key, val  []byte
	err       error
}

func newKafkaBad(rec *kafka.Record, err error) *kafkaBadRecord {
	return &kafkaBadRecord{topic: rec.Topic, partition: rec.Partition, offset: rec.Offset, ts: rec.Timestamp,
		key: bytes.Clone(rec.Key), val: bytes.Clone(rec.Value), err: err}
}

// setFields copies the fields of decoded row fr into r at the physical
// ordinals idx (through dst, physical ordinal to row position).
func setFields(r, fr *row.Row, idx, dst []int) error {
	for f, p := range idx {
		if fr.IsNull(f) {
			if !r.L.Type(dst[p]).IsNullable() {
				return fmt.Errorf("column '%s' is NOT NULL, but the record gives no value for it", r.L.Name(dst[p]))
			}
			continue
		}
		if err := r.Set(dst[p], fr.Get(f)); err != nil {
			return err
		}
	}
	return nil
}

// buildKafkaSource reads the table's topics: each record's value (and
// key, with 'key.format') decoded into the physical columns, the metadata
// columns filled from the record, then the computed columns.
func (ip *insertPlan) buildKafkaSource(j *engine.Job, o RunOptions) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	edir, err := errorDir(t, o)
	if err != nil {
		return nil, err
	}
	opts, err := kafkaSourceOptions(t)
	if err != nil {
		return nil, err
	}
	keyC, valC, keyIdx, valIdx, err := kafkaCodecs(t)
	if err != nil {
		return nil, err
	}
	var dst []int // physical ordinal -> row position
	var metas []kafkaMeta
	k := 0
	for _, c := range t.Columns {
		if c.Expr != nil {
			continue
		}
		if c.Metadata != "" {
			metas = append(metas, kafkaMeta{dst: k, key: c.Metadata})
		} else {
			dst = append(dst, k)
		}
		k++
	}
	layout, comp := ip.src.layout, ip.src.computed
	decode := func(rec *kafka.Record) (kafRow, error) {
		r := layout.New()
		if keyC != nil {
			if rec.Key == nil {
				return kafRow{bad: newKafkaBad(rec, fmt.Errorf("the record has no key for 'key.format'"))}, nil
			}
			kr, err := keyC.Decode(rec.Key)
			if err != nil {
				return kafRow{bad: newKafkaBad(rec, fmt.Errorf("key: %w", err))}, nil
			}
			if kr == nil {
				return kafRow{}, nil
			}
			if err := setFields(r, kr, keyIdx, dst); err != nil {
				return kafRow{bad: newKafkaBad(rec, fmt.Errorf("key: %w", err))}, nil
			}
		}
		if rec.Value == nil {
			return kafRow{bad: newKafkaBad(rec, fmt.Errorf("the record has no value (a tombstone)"))}, nil
		}
		fr, err := valC.Decode(rec.Value)
		if err != nil {
			return kafRow{bad: newKafkaBad(rec, err)}, nil
		}
		if fr == nil {
			return kafRow{}, nil // skipped under ignore-parse-errors
		}
		if err := setFields(r, fr, valIdx, dst); err != nil {
			return kafRow{bad: newKafkaBad(rec, err)}, nil
		}
		for _, m := range metas {
			m.set(r, rec)
		}
		fn := comp.get()
		err = fn(r)
		comp.put(fn)
		if err != nil {
			return kafRow{}, fmt.Errorf("computed column: %w", err)
		}
		return kafRow{r: r}, nil
	}
	src, err := kafka.NewSourceWith(opts, decode)
	if err != nil {
		return nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	ws := sourceWatermarks(ip, func(k kafRow) *row.Row { return k.r })
	name := ip.op(t.Name)
	raw := engine.SourceOf(j, name, src, ws)
	ef := o.res.errorFile(edir)
	return engine.Transform(raw, name+"/decode", func() engine.OneInputOperator[kafRow, *row.Row] {
		return &kafkaDecodeOp{table: t.Name, errs: ef}
	}), nil
}

// kafkaMeta sets one metadata column of a source row from a record.
type kafkaMeta struct {
	dst int
	key string
}

func (m kafkaMeta) set(r *row.Row, rec *kafka.Record) {
	switch m.key {
	case "topic":
		r.SetStr(m.dst, rec.Topic)
	case "partition":
		r.SetInt(m.dst, int64(rec.Partition))
	case "offset":
		r.SetInt(m.dst, rec.Offset)
	case "timestamp":
		r.SetTimestamp(m.dst, row.TimestampFromMillis(rec.Timestamp.UnixMilli()))
	case "timestamp-type":
		r.SetStr(m.dst, rec.TimestampType)
	case "leader-epoch":
		if rec.LeaderEpoch >= 0 {
			r.SetInt(m.dst, int64(rec.LeaderEpoch))
		}
	case "headers":
		mv := &row.MapValue{}
		for _, h := range rec.Headers {
			if i := indexOf(mv.Keys, h.Key); i >= 0 { // a repeated key: the last value, as Flink's map
				mv.Values[i] = bytesOrNil(h.Value)
				continue
			}
			mv.Keys = append(mv.Keys, h.Key)
			mv.Values = append(mv.Values, bytesOrNil(h.Value))
		}
		r.SetRef(m.dst, mv)
	}
}

func indexOf(keys []any, k string) int {
	for i, x := range keys {
		if x.(string) == k {
			return i
		}
	}
	return -1
}

// bytesOrNil is a header value as a BYTES value (a string holding the
// bytes, as sql/row keeps them), nil for a header without a value.
func bytesOrNil(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// kafkaDecodeOp passes the decoded rows on and writes the records that
// did not decode to the table's error output, counting them as the
// other record tables' decode operators do.
type kafkaDecodeOp struct {
	table string
	errs  *errorFile
	out   *engine.Collector[*row.Row]
	ctr   *engine.Counter
}

func (o *kafkaDecodeOp) Open(ctx *engine.OperatorContext[*row.Row]) error {
	o.out = ctx.Output()
	o.ctr = ctx.Counter(shardconn.DecodeErrorCounter)
	return nil
}

func (o *kafkaDecodeOp) ProcessBatch(b []engine.Record[kafRow]) error {
	for i := range b {
		k := &b[i].Value
		switch {
		case k.bad != nil:
			o.ctr.Inc()
			e := k.bad
			line := streamErrorLine(o.table, e.err.Error(), e.val, e.ts, e.topic+"-"+strconv.Itoa(int(e.partition)), strconv.FormatInt(e.offset, 10), string(e.key))
			if err := o.errs.write(line); err != nil {
				return err
			}
		case k.r != nil:
			o.out.Collect(k.r, b[i].Time)
		}
	}
	return nil
}

func (o *kafkaDecodeOp) Close() error { return nil }

// kafkaEncoder encodes a sink row's key (nil without a key format) and
// value (nil for a tombstone: a -D of an upsert table).
func kafkaEncoder(t *catalog.Table, sinkL *row.Layout) (func(r *row.Row) (kafka.Message, error), error) {
	keyC, valC, keyIdx, valIdx, err := kafkaCodecs(t)
	if err != nil {
		return nil, err
	}
	keyL, valL, _, _ := catalog.KafkaLayouts(t, catalog.KafkaKeyFields(t))
	project := func(l *row.Layout, r *row.Row, idx []int) (*row.Row, error) {
		p := l.New()
		for i, k := range idx {
			if r.IsNull(k) {
				continue
			}
			if err := p.Set(i, r.Get(k)); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	allValue := len(valIdx) == sinkL.Len()
	return func(r *row.Row) (kafka.Message, error) {
		var m kafka.Message
		if keyC != nil {
			kr, err := project(keyL, r, keyIdx)
			if err != nil {
				return m, err
			}
			if m.Key, err = keyC.Encode(nil, kr); err != nil {
				return m, fmt.Errorf("table '%s': key: %w", t.Name, err)
			}
		}
		if r.Kind == row.Delete {
			return m, nil
		}
		vr := r
		if !allValue {
			if vr, err = project(valL, r, valIdx); err != nil {
				return m, err
			}
		}
		if m.Value, err = valC.Encode(nil, vr); err != nil {
			return m, fmt.Errorf("table '%s': %w", t.Name, err)
		}
		return m, nil
	}, nil
}

// buildKafkaSink writes rows to the table's topic: the key fields in
// 'key.format' as the record key (which picks the partition), the value
// in the value format.
func (ip *insertPlan) buildKafkaSink(s *engine.Stream[*row.Row], o RunOptions) error {
	t := ip.sink
	so, err := kafkaSinkOptions(t)
	if err != nil {
		return err
	}
	enc, err := kafkaEncoder(t, ip.sinkL)
	if err != nil {
		return err
	}
	sink, err := kafka.NewSink(so, enc)
	if err != nil {
		return fmt.Errorf("table '%s': %w", t.Name, err)
	}
	if t.Factory.Name() == "upsert-kafka" {
		s = engine.FlatMap(s, ip.op(t.Name+"-upserts"), func(r *row.Row, emit func(*row.Row)) {
			if r.Kind != row.UpdateBefore {
				emit(r)
			}
		})
	}
	kafka.SinkTo(s, ip.op(t.Name), sink)
	return nil
}

// buildUpsertKafkaSource reads an upsert-kafka table's topic from its
// earliest offsets: a record with a value is an upsert of its key, one
// without (a tombstone) a -D, normalized by key into a changelog.
func (ip *insertPlan) buildUpsertKafkaSource(j *engine.Job, o RunOptions) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	edir, err := errorDir(t, o)
	if err != nil {
		return nil, err
	}
	opts, err := kafkaSourceOptions(t)
	if err != nil {
		return nil, err
	}
	opts.Start = kafka.StartEarliest
	keyC, valC, keyIdx, valIdx, err := kafkaCodecs(t)
	if err != nil {
		return nil, err
	}
	layout := ip.src.layout // physical columns only (the factory's check)
	dst := make([]int, layout.Len())
	for i := range dst {
		dst[i] = i
	}
	decode := func(rec *kafka.Record) (kafRow, error) {
		r := layout.New()
		if rec.Key == nil {
			return kafRow{bad: newKafkaBad(rec, fmt.Errorf("the record has no key"))}, nil
		}
		kr, err := keyC.Decode(rec.Key)
		if err != nil {
			return kafRow{bad: newKafkaBad(rec, fmt.Errorf("key: %w", err))}, nil
		}
		if kr == nil {
			return kafRow{}, nil
		}
		if err := setFields(r, kr, keyIdx, dst); err != nil {
			return kafRow{bad: newKafkaBad(rec, fmt.Errorf("key: %w", err))}, nil
		}
		if rec.Value == nil {
			r.Kind = row.Delete
			return kafRow{r: r}, nil
		}
		fr, err := valC.Decode(rec.Value)
		if err != nil {
			return kafRow{bad: newKafkaBad(rec, err)}, nil
		}
		if fr == nil {
			return kafRow{}, nil
		}
		if err := setFields(r, fr, valIdx, dst); err != nil {
			return kafRow{bad: newKafkaBad(rec, err)}, nil
		}
		return kafRow{r: r}, nil
	}
	src, err := kafka.NewSourceWith(opts, decode)
	if err != nil {
		return nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	name := ip.op(t.Name)
	raw := engine.SourceOf(j, name, src, engine.NoWatermarks[kafRow]())
	ef := o.res.errorFile(edir)
	rows := engine.Transform(raw, name+"/decode", func() engine.OneInputOperator[kafRow, *row.Row] {
		return &kafkaDecodeOp{table: t.Name, errs: ef}
	})
	pk := t.PrimaryKey.Indexes(t)
	enc := row.NewKeyEncoder(layout, pk)
	ks := engine.KeyBy(rows, func(r *row.Row) string { return enc.Key(r) })
	return engine.KeyedProcess[*row.Row, string, *row.Row](ks, ip.op(t.Name+"-normalize"), &changelogNormalize{layout: layout}), nil
}
