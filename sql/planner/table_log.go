package planner

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
)

// This file is the 'shardlog' table: the built-in log read and written
// through its engine connectors (shardconn), records in a sql/format
// format. One program opens each log directory once, shared by all its
// tables, and Program.Close closes it.
//
// Records that do not decode go to the table's error output: JSON lines
// {"table", "reason", "raw", "raw_encoding" ("text" or "base64"), "time",
// "shard-id", "sequence-number", "partition-key"} appended to
// <error.path>/errors.jsonl (default <data dir>/errors/<table>), counted
// by the source's decode operator (the run's progress line shows them as
// the table's errors); the job goes on. With
// '<format>.ignore-parse-errors' a bad record is skipped as Flink skips
// it: not written there, not counted. The error output is at least once:
// records replayed after a restore from a checkpoint are written again.

// runResources are the logs and error files a built program holds open.
type runResources struct {
	mu     sync.Mutex
	clock  shardlog.Clock
	shared map[string]*shardlog.Log // RunOptions.Logs: used, never closed
	logs   map[string]*shardlog.Log
	errs   map[string]*errorFile
}

// log opens the log in dir, once (or uses the embedder's, RunOptions.Logs).
func (r *runResources) log(dir string) (*shardlog.Log, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.shared[filepath.Clean(dir)]; ok {
		return l, nil
	}
	if l, ok := r.logs[dir]; ok {
		return l, nil
	}
	l, err := shardlog.Open(shardlog.Options{Dir: dir, Clock: r.clock})
	if err != nil {
		return nil, fmt.Errorf("open the log in %s: %w", dir, err)
	}
	if r.logs == nil {
		r.logs = map[string]*shardlog.Log{}
	}
	r.logs[dir] = l
	return l, nil
}

func (r *runResources) errorFile(dir string) *errorFile {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.errs[dir]; ok {
		return f
	}
	if r.errs == nil {
		r.errs = map[string]*errorFile{}
	}
	f := &errorFile{path: filepath.Join(dir, "errors.jsonl")}
	r.errs[dir] = f
	return f
}

func (r *runResources) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, f := range r.errs {
		errs = append(errs, f.close())
	}
	for dir, l := range r.logs {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the log in %s: %w", dir, err))
		}
	}
	r.logs, r.errs = nil, nil
	return errors.Join(errs...)
}

// errorFile appends error lines to one file, opened at the first.
type errorFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func (e *errorFile) write(line []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.f == nil {
		if err := os.MkdirAll(filepath.Dir(e.path), 0o755); err != nil {
			return fmt.Errorf("error output: %w", err)
		}
		f, err := os.OpenFile(e.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("error output: %w", err)
		}
		e.f = f
	}
	if _, err := e.f.Write(line); err != nil {
		return fmt.Errorf("error output %s: %w", e.path, err)
	}
	return nil
}

func (e *errorFile) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.f == nil {
		return nil
	}
	err := e.f.Close()
	e.f = nil
	if err != nil {
		return fmt.Errorf("error output %s: %w", e.path, err)
	}
	return nil
}

// logDir is the table's log directory: 'log.path', else the run's data
// directory's "log".
func logDir(t *catalog.Table, o RunOptions) (string, error) {
	if p, ok := t.Options["log.path"]; ok {
		return p, nil
	}
	if o.DataDir == "" {
		return "", fmt.Errorf("table '%s': 'connector' = 'shardlog' needs 'log.path' or a data directory (sluice run --data-dir)", t.Name)
	}
	return filepath.Join(o.DataDir, "log"), nil
}

func errorDir(t *catalog.Table, o RunOptions) (string, error) {
	if p, ok := t.Options["error.path"]; ok {
		return p, nil
	}
	if o.DataDir == "" {
		return "", fmt.Errorf("table '%s': records that do not decode need somewhere to go: set 'error.path' or a data directory (sluice run --data-dir)", t.Name)
	}
	return filepath.Join(o.DataDir, "errors", t.Name), nil
}

func logCodec(t *catalog.Table, l *row.Layout) (format.Codec, error) {
	_, name, prefix := catalog.LogFormat(t)
	c, err := format.New(name, t.Options, prefix, l)
	if err != nil {
		return nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	return c, nil
}

// prepareLogs creates the streams the program writes that do not exist
// yet, before any source looks for them.
func (p *Program) prepareLogs(o RunOptions) error {
	for _, ip := range p.inserts {
		t := ip.sink
		if t.Factory.Name() != "shardlog" && t.Factory.Name() != "upsert-shardlog" {
			continue
		}
		dir, err := logDir(t, o)
		if err != nil {
			return err
		}
		l, err := o.res.log(dir)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(t.Options["stream.shards"]) // validated by the catalog
		if n == 0 {
			n = 1
		}
		err = l.CreateStream(shardlog.CreateStreamInput{Name: t.Options["stream"], ShardCount: n})
		if err != nil && !errors.Is(err, shardlog.ErrResourceInUse) {
			return fmt.Errorf("table '%s': create stream '%s': %w", t.Name, t.Options["stream"], err)
		}
	}
	return nil
}

// metaFill sets one metadata column of a source row from a record.
type metaFill struct {
	dst int
	key string
}

func (m metaFill) set(r *row.Row, rec *shardlog.Record) {
	switch m.key {
	case "timestamp":
		r.SetTimestamp(m.dst, row.TimestampFromMillis(rec.ArrivalTime.UnixMilli()))
	case "partition-key":
		r.SetStr(m.dst, string(rec.PartitionKey))
	case "sequence-number":
		r.SetStr(m.dst, rec.SequenceNumber.String())
	case "shard-id":
		r.SetStr(m.dst, shardlog.ShardID(rec.SequenceNumber.Shard))
	}
}

// openTableStream opens the log of table t's stream (its 'log.path' or
// the run's), checks that the stream exists, and gives its error output
// directory.
func openTableStream(t *catalog.Table, o RunOptions) (*shardlog.Log, shardlog.StreamRef, string, error) {
	ref := shardlog.StreamRef{Name: t.Options["stream"]}
	dir, err := logDir(t, o)
	if err != nil {
		return nil, ref, "", err
	}
	edir, err := errorDir(t, o)
	if err != nil {
		return nil, ref, "", err
	}
	l, err := o.res.log(dir)
	if err != nil {
		return nil, ref, "", err
	}
	if _, err := l.DescribeStream(ref); err != nil {
		return nil, ref, "", fmt.Errorf("table '%s': stream '%s': %w", t.Name, ref.Name, err)
	}
	return l, ref, edir, nil
}

// buildLogSource reads the table's stream: each record decoded by the
// format into the physical columns, the metadata columns filled from the
// record, then the computed columns.
func (ip *insertPlan) buildLogSource(j *engine.Job, o RunOptions) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	l, ref, edir, err := openTableStream(t, o)
	if err != nil {
		return nil, err
	}
	codec, err := logCodec(t, catalog.FormatLayout(t))
	if err != nil {
		return nil, err
	}
	opts := shardconn.SourceOptions{Stream: ref, Bounded: t.Options["scan.bounded"] == "true", KeepAggregates: t.Options["scan.kpl.deaggregate"] == "false"}
	switch t.Options["scan.stream.initpos"] {
	case "TRIM_HORIZON":
		opts.Start.Type = shardlog.TrimHorizon
	case "AT_TIMESTAMP":
		opts.Start.Type = shardlog.AtTimestamp
		if opts.Start.Timestamp, err = catalog.ParseInitPosTimestamp(t.Options["scan.stream.initpos-timestamp"]); err != nil {
			return nil, fmt.Errorf("table '%s': %w", t.Name, err)
		}
	default: // LATEST, Flink's default
		opts.Start.Type = shardlog.Latest
	}
	// The source row: the connector's columns (format fields and
	// metadata, in the table's order), then the computed ones.
	var fields []int
	var notNull []string // per format field: its name when NOT NULL
	var metas []metaFill
	k := 0
	for _, c := range t.Columns {
		if c.Expr != nil {
			continue
		}
		if c.Metadata != "" {
			metas = append(metas, metaFill{dst: k, key: c.Metadata})
		} else {
			fields = append(fields, k)
			nn := ""
			if !c.Type.IsNullable() {
				nn = c.Name
			}
			notNull = append(notNull, nn)
		}
		k++
	}
	layout, comp := ip.src.layout, ip.src.computed
	decode := func(rec *shardlog.Record) (*row.Row, error) {
		fr, err := codec.Decode(rec.Data)
		if err != nil || fr == nil {
			return nil, err // nil, nil: skipped under ignore-parse-errors
		}
		r := layout.New()
		for f, dst := range fields {
			if fr.IsNull(f) {
				if notNull[f] != "" {
					return nil, fmt.Errorf("column '%s' is NOT NULL, but the record gives no value for it", notNull[f])
				}
				continue
			}
			if err := r.Set(dst, fr.Get(f)); err != nil {
				return nil, err
			}
		}
		for _, m := range metas {
			m.set(r, rec)
		}
		fn := comp.get()
		err = fn(r)
		comp.put(fn)
		if err != nil {
			return nil, fmt.Errorf("computed column: %w", err)
		}
		return r, nil
	}
	ds, err := shardconn.NewDecodingSource(l, opts, decode)
	if err != nil {
		return nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	ws := sourceWatermarks(ip, func(r *row.Row) *row.Row { return r })
	s := shardconn.SourceOfDecoded(j, ip.op(t.Name), ds, ws)
	ef := o.res.errorFile(edir)
	bad := engine.SideOutput(s, shardconn.DecodeErrors)
	engine.ForEach(bad, ip.op(t.Name+"-errors"), func(e shardconn.DecodeError) error {
		return ef.write(errorLine(t.Name, e))
	})
	return engine.FlatMap(s, ip.op(t.Name+"-skip"), func(r *row.Row, emit func(*row.Row)) {
		if r != nil {
			emit(r)
		}
	}), nil
}

// errorLine is one line of a table's error output.
func errorLine(table string, e shardconn.DecodeError) []byte {
	reason := "undecodable record"
	if e.Err != nil {
		reason = e.Err.Error()
	}
	return streamErrorLine(table, reason, e.Data, e.ArrivalTime, e.ShardID, e.SequenceNumber.String(), e.PartitionKey)
}

// streamErrorLine is one line of the error output of a table over a
// stream (shardlog, kinesis): the record's bytes, why they did not decode,
// and where the record was in the stream.
func streamErrorLine(table, reason string, data []byte, arrival time.Time, shard, seq, key string) []byte {
	raw, enc := rawField(data)
	b, _ := json.Marshal(struct { // strings always marshal
		Table          string `json:"table"`
		Reason         string `json:"reason"`
		Raw            string `json:"raw"`
		RawEncoding    string `json:"raw_encoding"`
		Time           string `json:"time"`
		ShardID        string `json:"shard-id"`
		SequenceNumber string `json:"sequence-number"`
		PartitionKey   string `json:"partition-key"`
	}{table, reason, raw, enc, arrival.UTC().Format(time.RFC3339Nano), shard, seq, key})
	return append(b, '\n')
}

// rawField is a bad record's bytes as an error output writes them: the
// text when it is UTF-8, else base64 (raw_encoding says which).
func rawField(data []byte) (raw, encoding string) {
	if !utf8.Valid(data) {
		return base64.StdEncoding.EncodeToString(data), "base64"
	}
	return string(data), "text"
}

// buildLogSink writes rows to the table's stream in its format, the
// partition key made of the PARTITIONED BY columns.
func (ip *insertPlan) buildLogSink(s *engine.Stream[*row.Row], o RunOptions) error {
	t := ip.sink
	dir, err := logDir(t, o)
	if err != nil {
		return err
	}
	l, err := o.res.log(dir)
	if err != nil {
		return err
	}
	codec, err := logCodec(t, ip.sinkL)
	if err != nil {
		return err
	}
	keyOf := ip.partitionKeyOf()
	var seq atomic.Int64
	enc := func(r *row.Row, buf []byte) (shardlog.PutEntry, error) {
		data, err := codec.Encode(buf, r)
		if err != nil {
			return shardlog.PutEntry{}, fmt.Errorf("table '%s': %w", t.Name, err)
		}
		if keyOf == nil {
			// Flink's random partitioner: a key of its own per record.
			return shardlog.PutEntry{PartitionKey: strconv.FormatInt(seq.Add(1), 36), Data: data}, nil
		}
		key, err := keyOf(r)
		if err != nil {
			return shardlog.PutEntry{}, err
		}
		return shardlog.PutEntry{PartitionKey: key, Data: data}, nil
	}
	sink, err := shardconn.NewSink(l, shardconn.SinkOptions{Stream: shardlog.StreamRef{Name: t.Options["stream"]}, Aggregate: t.Options["sink.kpl.aggregate"] == "true"}, enc)
	if err != nil {
		return fmt.Errorf("table '%s': %w", t.Name, err)
	}
	engine.SinkTo(s, ip.op(t.Name), sink)
	return nil
}

// partitionKeyOf is a stream sink's partition key of a row: its
// PARTITIONED BY columns in their print form, joined by
// 'sink.partitioner-field-delimiter' ('|'), an error when that is empty;
// nil when the table has no PARTITIONED BY.
func (ip *insertPlan) partitionKeyOf() func(r *row.Row) (string, error) {
	t := ip.sink
	var keyCols []int
	for _, k := range t.PartitionKeys {
		for i := 0; i < ip.sinkL.Len(); i++ {
			if ip.sinkL.Name(i) == k {
				keyCols = append(keyCols, i)
			}
		}
	}
	if len(keyCols) == 0 {
		return nil
	}
	delim := "|"
	if d, ok := t.Options["sink.partitioner-field-delimiter"]; ok {
		delim = d
	}
	return func(r *row.Row) (string, error) {
		var b []byte
		for n, i := range keyCols {
			if n > 0 {
				b = append(b, delim...)
			}
			b = row.AppendJava(b, ip.sinkL.Type(i), r.Get(i))
		}
		if len(b) == 0 {
			return "", fmt.Errorf("table '%s': the partition key of a row is empty (PARTITIONED BY %s); a key needs 1 to 256 characters", t.Name, strings.Join(t.PartitionKeys, ", "))
		}
		return string(b), nil
	}
}

// sinkColumns are the columns an INSERT writes: all but METADATA VIRTUAL
// ones. A metadata column that is not VIRTUAL is refused: no connector
// writes metadata yet.
func sinkColumns(c *compiler, sink *catalog.Table) ([]catalog.Column, error) {
	var cols []catalog.Column
	for _, col := range sink.Columns {
		if col.Metadata == "" {
			cols = append(cols, col)
			continue
		}
		if col.Virtual {
			continue
		}
		e := diag.New(c.src, col.Span, "Invalid metadata key '%s' in column '%s' of table '%s'. The connector '%s' supports the following metadata keys for writing: none",
			col.Metadata, col.Name, sink.Name, sink.Factory.Name())
		e.Hint = "declare the column METADATA VIRTUAL to read it only"
		return nil, e
	}
	return cols, nil
}

// metadataExtras is DESCRIBE's extras of a metadata column.
func metadataExtras(col catalog.Column) string {
	s := "METADATA"
	if col.Metadata != col.Name {
		s += " FROM '" + col.Metadata + "'"
	}
	if col.Virtual {
		s += " VIRTUAL"
	}
	return s
}

// logSourceOps are EXPLAIN's lines for the operators a shardlog source
// adds after itself.
func (ip *insertPlan) logSourceOps() []string {
	t := ip.src.table
	if t.Factory.Name() != "shardlog" {
		return nil
	}
	_, name, _ := catalog.LogFormat(t)
	return []string{
		fmt.Sprintf("  -> decode %q (forward, chained; %s records into rows; undecodable ones to %q, the error output)", ip.op(t.Name)+"/decode", name, ip.op(t.Name+"-errors")),
		fmt.Sprintf("  -> skip %q (forward, chained; drops records skipped by ignore-parse-errors)", ip.op(t.Name+"-skip")),
	}
}
