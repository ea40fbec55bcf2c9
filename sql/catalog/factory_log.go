package catalog

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// MetadataReader is a factory whose source has metadata columns (Flink's
// SupportsReadingMetadata): the keys and their types.
type MetadataReader interface {
	ReadableMetadata() map[string]types.Type
}

// Partitioned is a factory that takes PARTITIONED BY.
type Partitioned interface {
	TakesPartitionedBy() bool
}

// checkMetadata checks each METADATA column's key against f's and its
// declared type against the key's.
func checkMetadata(src string, t *Table, s *ast.CreateTable, f Factory) error {
	var keys map[string]types.Type
	if mr, ok := f.(MetadataReader); ok {
		keys = mr.ReadableMetadata()
	}
	names := slices.Sorted(maps.Keys(keys))
	for _, col := range t.Columns {
		if col.Metadata == "" {
			continue
		}
		mt, ok := keys[col.Metadata]
		if !ok {
			list := strings.Join(quoteAll(names), ", ")
			if list == "" {
				list = "none"
			}
			e := diag.New(src, col.Span, "Invalid metadata key '%s' in column '%s' of table '%s'. The connector '%s' supports the following metadata keys for reading: %s",
				col.Metadata, col.Name, t.Name, f.Name(), list)
			if best, ok := diag.Closest(col.Metadata, names); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return e
		}
		if !metadataFits(mt, col.Type) {
			return diag.New(src, col.Span, "Metadata column '%s' of table '%s' is %s, but metadata key '%s' is %s", col.Name, t.Name, col.Type, col.Metadata, mt)
		}
	}
	return nil
}

// metadataFits reports whether a metadata value of type mt can fill a
// column of type ct: the same kind (any length of a string, any
// precision of a timestamp, TIMESTAMP_LTZ read as a UTC TIMESTAMP).
func metadataFits(mt, ct types.Type) bool {
	switch {
	case mt.IsCharString():
		return ct.IsCharString()
	case mt.IsTimestamp():
		return ct.IsTimestamp()
	}
	return mt.EqualIgnoringNull(ct)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + s + "'"
	}
	return out
}

// checkPartitionedBy refuses PARTITIONED BY for connectors that do not
// take it, and checks the columns it names.
func checkPartitionedBy(src string, t *Table, s *ast.CreateTable, f Factory) error {
	if len(s.PartitionedBy) == 0 {
		return nil
	}
	if p, ok := f.(Partitioned); !ok || !p.TakesPartitionedBy() {
		return diag.New(src, s.PartitionedBy[0].Span(), "PARTITIONED BY is not supported for connector '%s'", f.Name())
	}
	for _, id := range s.PartitionedBy {
		i := t.Column(id.Name)
		if i < 0 {
			e := diag.New(src, id.Span(), "Partition column '%s' not defined in the table schema", id.Name)
			if best, ok := diag.Closest(id.Name, t.ColumnNames()); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return e
		}
		if c := t.Columns[i]; c.Expr != nil || c.Metadata != "" {
			return diag.New(src, id.Span(), "Partition column '%s' must be a physical column", id.Name)
		}
		t.PartitionKeys = append(t.PartitionKeys, id.Name)
	}
	return nil
}

var streamName = regexp.MustCompile(`^(?:` + shardlog.NamePattern + `)$`)

// ShardLog is the built-in log (connectors/shardlog) as a table, with the
// option names of Flink's Kinesis connector where they apply:
//
//   - 'stream' (required): the stream; a program that writes it creates it
//     when missing, with 'stream.shards' shards (default 1).
//   - 'format' or 'value.format' (one of them, required): the record
//     format (package sql/format), with its options.
//   - 'scan.stream.initpos': LATEST (the default, as Flink's),
//     TRIM_HORIZON or AT_TIMESTAMP with 'scan.stream.initpos-timestamp'
//     (seconds since the epoch, or an ISO-8601 / RFC 3339 time).
//   - 'scan.bounded' (Sluice's): 'true' reads each shard to its end as of
//     the job's start, then finishes.
//   - PARTITIONED BY (cols): the partition key is the columns' values
//     joined with 'sink.partitioner-field-delimiter' (default '|', NULL
//     as 'null'); without it each record gets a key of its own (Flink's
//     random partitioner).
//   - 'log.path': the log's directory; default the run's data directory.
//   - 'error.path': where records that do not decode go (see the
//     planner); default <data dir>/errors/<table>.
//   - 'scan.kpl.deaggregate' (Sluice's): 'true' (the default, as the KCL)
//     splits KPL-aggregated records into their user records; 'false'
//     reads them as stored. 'sink.kpl.aggregate' (Sluice's): 'true' packs
//     written records into KPL aggregates per shard (default 'false').
//
// Metadata columns (read only): 'timestamp' TIMESTAMP_LTZ(3) (the
// arrival time), 'partition-key', 'sequence-number' and 'shard-id'
// (STRING).
type ShardLog struct{}

// Name implements Factory.
func (ShardLog) Name() string { return "shardlog" }

var logOptions = []string{"stream", "stream.shards", "format", "value.format", "scan.stream.initpos",
	"scan.stream.initpos-timestamp", "scan.bounded", "sink.partitioner-field-delimiter", "log.path", "error.path",
	"scan.kpl.deaggregate", "sink.kpl.aggregate"}

// Options implements Factory.
func (ShardLog) Options() []OptionSpec {
	specs := []OptionSpec{{Key: "stream", Required: true}}
	for _, k := range logOptions[1:] {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, k := range format.Keys("") {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, k := range format.Keys("value.") {
		specs = append(specs, OptionSpec{Key: k})
	}
	return specs
}

// ReadableMetadata implements MetadataReader.
func (ShardLog) ReadableMetadata() map[string]types.Type {
	return map[string]types.Type{
		"timestamp":       types.TimestampLTZType(3).AsNotNull(),
		"partition-key":   types.StringType().AsNotNull(),
		"sequence-number": types.StringType().AsNotNull(),
		"shard-id":        types.StringType().AsNotNull(),
	}
}

// TakesPartitionedBy implements Partitioned.
func (ShardLog) TakesPartitionedBy() bool { return true }

// LogFormat is the table's format option: its key ('format' or
// 'value.format'), the format name and the prefix of its options.
func LogFormat(t *Table) (key, name, prefix string) {
	if v, ok := t.Options["value.format"]; ok {
		return "value.format", v, "value."
	}
	return "format", t.Options["format"], ""
}

// FormatLayout is the layout of the columns a table's format reads and
// writes: the physical columns, neither computed nor metadata.
func FormatLayout(t *Table) *row.Layout {
	var ts []types.Type
	var ns []string
	for _, c := range t.Columns {
		if c.Expr == nil && c.Metadata == "" {
			ts = append(ts, c.Type)
			ns = append(ns, c.Name)
		}
	}
	return row.NewLayout(ts, ns)
}

// ParseInitPosTimestamp reads 'scan.stream.initpos-timestamp': seconds
// since the epoch (fractions allowed, as Flink's) or an RFC 3339 time.
func ParseInitPosTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(f * 1000)).UTC(), nil
	}
	if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return ts, nil
	}
	return time.Time{}, errors.New("expected seconds since the epoch or an ISO-8601 time such as 2024-01-02T03:04:05Z")
}

// checkLogStream checks the options of a table's stream that the
// shardlog and upsert-shardlog connectors share: stream, stream.shards
// and scan.bounded.
func checkLogStream(v *Validator) error {
	t := v.Table
	if st := t.Options["stream"]; len(st) > shardlog.MaxStreamNameLen || !streamName.MatchString(st) {
		return v.Errorf("stream", "option 'stream': '%s' is not a stream name: 1 to %d characters of a-z, A-Z, 0-9, '_', '-' and '.'", st, shardlog.MaxStreamNameLen)
	}
	if n, err := v.Int("stream.shards", 1); err != nil {
		return err
	} else if n < 1 {
		return v.Errorf("stream.shards", "option 'stream.shards' must be at least 1")
	}
	if _, err := v.OneOf("scan.bounded", "false", "true", "false"); err != nil {
		return err
	}
	return nil
}

// checkKPL checks the KPL options of the shardlog table.
func checkKPL(v *Validator) error {
	if _, err := v.OneOf("scan.kpl.deaggregate", "true", "true", "false"); err != nil {
		return err
	}
	if _, err := v.OneOf("sink.kpl.aggregate", "false", "true", "false"); err != nil {
		return err
	}
	return nil
}

// Check implements Factory.
func (ShardLog) Check(v *Validator) error {
	t := v.Table
	_, hasF := t.Options["format"]
	_, hasVF := t.Options["value.format"]
	switch {
	case hasF && hasVF:
		return v.Errorf("value.format", "Table '%s' sets both 'format' and 'value.format'; give one", t.Name)
	case !hasF && !hasVF:
		return diag.New(v.src, t.Span, "Missing required option 'format' for connector 'shardlog'")
	}
	if err := checkLogStream(v); err != nil {
		return err
	}
	if err := checkKPL(v); err != nil {
		return err
	}
	pos, err := v.OneOf("scan.stream.initpos", "LATEST", "LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")
	if err != nil {
		return err
	}
	tsv, hasTS := t.Options["scan.stream.initpos-timestamp"]
	switch {
	case pos == "AT_TIMESTAMP" && !hasTS:
		return v.Errorf("scan.stream.initpos", "Please set value for initial timestamp ('scan.stream.initpos-timestamp') when using AT_TIMESTAMP initial position.")
	case pos != "AT_TIMESTAMP" && hasTS:
		return v.Errorf("scan.stream.initpos-timestamp", "option 'scan.stream.initpos-timestamp' applies to 'scan.stream.initpos' = 'AT_TIMESTAMP' only")
	case hasTS:
		if _, err := ParseInitPosTimestamp(tsv); err != nil {
			return v.Errorf("scan.stream.initpos-timestamp", "option 'scan.stream.initpos-timestamp': '%s': %v", tsv, err)
		}
	}
	if d, ok := t.Options["sink.partitioner-field-delimiter"]; ok && d == "" {
		return v.Errorf("sink.partitioner-field-delimiter", "option 'sink.partitioner-field-delimiter' must not be empty")
	}
	key, _, _ := LogFormat(t)
	return v.CheckFormat(key, FormatLayout(t))
}

// CheckFormat checks the format a table names in option formatKey
// ('format', or 'value.format' whose options are 'value.<format>.*')
// for rows of layout l, with the caret on the offending option. An
// option of the other prefix ('value.json.*' on a table with 'format',
// 'json.*' with 'value.format') is refused by name. For factories whose
// Options include format.Keys of their prefixes.
func (v *Validator) CheckFormat(formatKey string, l *row.Layout) error {
	t := v.Table
	name := t.Options[formatKey]
	prefix := strings.TrimSuffix(formatKey, "format")
	for _, k := range slices.Sorted(maps.Keys(t.Options)) {
		valueKey := strings.HasPrefix(k, "value.") && k != "value.format"
		if valueKey && prefix == "" {
			return v.Errorf(k, "option '%s' applies with 'value.format'; this table sets 'format'", k)
		}
		if !valueKey && prefix != "" && slices.Contains(format.Keys(""), k) {
			return v.Errorf(k, "option '%s' applies with 'format'; this table sets 'value.format' (use 'value.%s')", k, k)
		}
	}
	if _, err := format.New(name, t.Options, prefix, l); err != nil {
		var oe *format.OptionError
		if errors.As(err, &oe) {
			e := v.Errorf(oe.Key, "%s", oe.Msg)
			if de, ok := e.(*diag.Error); ok {
				de.Hint = oe.Hint
			}
			return e
		}
		return v.Errorf(formatKey, "%v", err)
	}
	return nil
}
