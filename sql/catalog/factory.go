package catalog

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Factory is a connector: the option names it takes (Flink's), which of
// them are required, and further checks of their values. A factory is
// stateless and safe for concurrent use. The planner turns a validated
// table into an engine source or sink by the factory's Name.
type Factory interface {
	// Name is the 'connector' option value.
	Name() string
	// Options are the option keys the connector takes, besides
	// 'connector'; a key with a <field> part ("fields.<field>.kind")
	// matches any column name there.
	Options() []OptionSpec
	// Check validates the values once the keys are known to be good.
	Check(v *Validator) error
}

// UpdatingSink is implemented by the factories of connectors that take a
// changelog (update and delete rows) as a sink, such as an upsert
// connector writing by primary key.
type UpdatingSink interface {
	Factory
	AcceptsUpdates() bool
}

// OptionSpec is one option a connector takes.
type OptionSpec struct {
	Key      string
	Required bool
}

// Validator gives a factory's Check the table and error helpers that
// point at the option in the script.
type Validator struct {
	src   string
	Table *Table
}

// Errorf is an error at option key's position.
func (v *Validator) Errorf(key, format string, args ...any) error {
	sp, ok := v.Table.OptionSpans[key]
	if !ok {
		sp = v.Table.Span
	}
	return diag.New(v.src, sp, format, args...)
}

// Int reads an integer option, def when absent.
func (v *Validator) Int(key string, def int64) (int64, error) {
	s, ok := v.Table.Options[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, v.Errorf(key, "option '%s': '%s' is not an integer", key, s)
	}
	return n, nil
}

// Float reads a number option, def when absent.
func (v *Validator) Float(key string, def float64) (float64, error) {
	s, ok := v.Table.Options[key]
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, v.Errorf(key, "option '%s': '%s' is not a number", key, s)
	}
	return f, nil
}

// OneOf reads an option that takes one of the given values.
func (v *Validator) OneOf(key, def string, allowed ...string) (string, error) {
	s, ok := v.Table.Options[key]
	if !ok {
		return def, nil
	}
	if !slices.Contains(allowed, s) {
		e := v.Errorf(key, "option '%s': unsupported value '%s'; supported: %s", key, s, strings.Join(allowed, ", "))
		if best, ok := diag.Closest(s, allowed); ok {
			e.(*diag.Error).Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return "", e
	}
	return s, nil
}

// validateOptions checks every option key against f's, suggesting the
// closest for an unknown one, then the required ones, then f.Check.
func validateOptions(src string, t *Table, s *ast.CreateTable, f Factory) error {
	specs := f.Options()
	var known []string
	for _, sp := range specs {
		known = append(known, expandField(sp.Key, t)...)
	}
	// Every option, written here or inherited through LIKE, in key order.
	keys := make([]string, 0, len(t.Options))
	for k := range t.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "connector" || slices.Contains(known, k) {
			continue
		}
		e := diag.New(src, t.OptionSpans[k], "Unsupported option '%s' for connector '%s'", k, f.Name())
		if best, ok := diag.Closest(k, known); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		} else if strings.HasPrefix(k, "fields.") {
			e.Hint = "fields.<name>.* options name a physical column: " + strings.Join(physicalNames(t), ", ")
		}
		return e
	}
	for _, sp := range specs {
		if sp.Required && !strings.Contains(sp.Key, "<field>") {
			if _, ok := t.Options[sp.Key]; !ok {
				return diag.New(src, s.Name.Span(), "Missing required option '%s' for connector '%s'", sp.Key, f.Name())
			}
		}
	}
	return f.Check(&Validator{src: src, Table: t})
}

func physicalNames(t *Table) []string {
	var ns []string
	for _, c := range t.Columns {
		if c.Expr == nil {
			ns = append(ns, c.Name)
		}
	}
	return ns
}

// expandField is key with <field> replaced by each physical column.
func expandField(key string, t *Table) []string {
	if !strings.Contains(key, "<field>") {
		return []string{key}
	}
	var ks []string
	for _, n := range physicalNames(t) {
		ks = append(ks, strings.ReplaceAll(key, "<field>", n))
	}
	return ks
}

// Builtins are the connectors Sluice has as tables.
func Builtins() []Factory {
	return []Factory{Datagen{}, Print{}, Blackhole{}, Filesystem{}, ShardLog{}, Firehose{}, Kinesis{}, UpsertShardLog{}, Kafka{}, UpsertKafka{}, Nexmark{}}
}

// Datagen is Flink's datagen connector: rows-per-second, number-of-rows
// and per field kind (random or sequence), min/max/length for random
// values and start/end for sequences. Values are a function of the row's
// index, so a bounded table is the same on every run.
type Datagen struct{}

// Name implements Factory.
func (Datagen) Name() string { return "datagen" }

// Options implements Factory.
func (Datagen) Options() []OptionSpec {
	return []OptionSpec{{Key: "rows-per-second"}, {Key: "number-of-rows"},
		{Key: "fields.<field>.kind"}, {Key: "fields.<field>.min"}, {Key: "fields.<field>.max"},
		{Key: "fields.<field>.length"}, {Key: "fields.<field>.start"}, {Key: "fields.<field>.end"},
		{Key: "fields.<field>.null-rate"}}
}

// Check implements Factory.
func (Datagen) Check(v *Validator) error {
	if n, err := v.Int("number-of-rows", 0); err != nil {
		return err
	} else if n < 0 {
		return v.Errorf("number-of-rows", "option 'number-of-rows' must not be negative")
	}
	if r, err := v.Float("rows-per-second", 10000); err != nil {
		return err
	} else if r < 0 {
		return v.Errorf("rows-per-second", "option 'rows-per-second' must not be negative")
	}
	for _, c := range v.Table.Columns {
		if c.Expr != nil {
			continue
		}
		p := "fields." + c.Name + "."
		kind, err := v.OneOf(p+"kind", "random", "random", "sequence")
		if err != nil {
			return err
		}
		if !c.Type.IsNumeric() && !c.Type.IsCharString() && !c.Type.IsBinaryString() && c.Type.Kind != types.Boolean {
			return v.Errorf(p+"kind", "datagen: column '%s' of type %s is not supported yet (numbers, strings, bytes and booleans are)", c.Name, c.Type)
		}
		if kind == "sequence" && c.Type.IsBinaryString() {
			return v.Errorf(p+"kind", "datagen: column '%s' of type %s cannot be a sequence (only random bytes are generated)", c.Name, c.Type)
		}
		for _, k := range []string{"min", "max", "start", "end", "length"} {
			if _, err := v.Float(p+k, 0); err != nil {
				return err
			}
		}
		if kind == "sequence" {
			for _, k := range []string{"start", "end"} {
				if _, ok := v.Table.Options[p+k]; !ok {
					return v.Errorf(p+"kind", "Missing required option '%s%s' for a sequence field", p, k)
				}
			}
		}
		if r, err := v.Float(p+"null-rate", 0); err != nil {
			return err
		} else if r < 0 || r > 1 {
			return v.Errorf(p+"null-rate", "option '%snull-rate' must be between 0 and 1", p)
		}
	}
	return nil
}

// Print is Flink's print sink: each row in its changelog print form
// (+I[a, b]) on standard output, with print-identifier as a prefix.
type Print struct{}

// Name implements Factory.
func (Print) Name() string { return "print" }

// Options implements Factory.
func (Print) Options() []OptionSpec {
	return []OptionSpec{{Key: "print-identifier"}, {Key: "standard-error"}}
}

// Check implements Factory.
func (Print) Check(v *Validator) error {
	_, err := v.OneOf("standard-error", "false", "true", "false")
	return err
}

// Blackhole is Flink's blackhole sink: it drops every row.
type Blackhole struct{}

// Name implements Factory.
func (Blackhole) Name() string { return "blackhole" }

// Options implements Factory.
func (Blackhole) Options() []OptionSpec { return nil }

// Check implements Factory.
func (Blackhole) Check(*Validator) error { return nil }

// PartitionedFactory is a Factory whose tables may be PARTITIONED BY
// columns. Check (after checkPartitions) sees them in Table.PartitionKeys.
type PartitionedFactory interface {
	Factory
	// PartitionTypeOK reports whether a partition column of type t can be
	// written as a directory name and read back (an error saying why not).
	PartitionTypeOK(t types.Type) error
}

// checkPartitions checks PARTITIONED BY: a connector that has partitions,
// physical columns of the table, each once, of a type a directory name
// holds, and not every column.
// Other connectors are checkPartitionedBy's (Partitioned).
func checkPartitions(src string, t *Table, s *ast.CreateTable) error {
	pf, ok := t.Factory.(PartitionedFactory)
	if len(s.PartitionedBy) == 0 {
		if p, isP := t.Factory.(Partitioned); len(t.PartitionKeys) > 0 && !ok && (!isP || !p.TakesPartitionedBy()) {
			return diag.New(src, s.Span(), "PARTITIONED BY (from LIKE) is not supported for connector '%s'", t.Factory.Name())
		}
		return nil
	}
	t.PartitionKeys = nil // LIKE's are replaced
	if !ok {
		return checkPartitionedBy(src, t, s, t.Factory)
	}
	for _, id := range s.PartitionedBy {
		i := t.Column(id.Name)
		if i < 0 || t.Columns[i].Expr != nil {
			e := diag.New(src, id.Span(), "Partition column '%s' not defined in the table schema. Available columns: [%s]", id.Name, strings.Join(physicalNames(t), ", "))
			if best, ok := diag.Closest(id.Name, physicalNames(t)); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return e
		}
		if slices.Contains(t.PartitionKeys, id.Name) {
			return diag.New(src, id.Span(), "Partition column '%s' is given twice", id.Name)
		}
		if err := pf.PartitionTypeOK(t.Columns[i].Type); err != nil {
			return diag.New(src, id.Span(), "Partition column '%s': %v", id.Name, err)
		}
		t.PartitionKeys = append(t.PartitionKeys, id.Name)
	}
	if len(t.PartitionKeys) == len(physicalNames(t)) {
		return diag.New(src, s.PartitionedBy[0].Span(), "every column of table '%s' is a partition column: the files would hold no data", t.Name)
	}
	return nil
}

// Duration reads a duration option in Flink's forms ('30 min', '10s',
// '500 ms', '1 h', '2 d'; a bare number is milliseconds), def when absent.
func (v *Validator) Duration(key string, def time.Duration) (time.Duration, error) {
	s, ok := v.Table.Options[key]
	if !ok {
		return def, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return 0, v.Errorf(key, "option '%s': '%s' is not a duration (%v); write e.g. '30 s', '10 min' or '1 h'", key, s, err)
	}
	if d < 0 {
		return 0, v.Errorf(key, "option '%s' must not be negative", key)
	}
	return d, nil
}

// ParseDuration reads Flink's duration forms: a number and an optional
// unit (ms, s, min, h, d and their long names; none is milliseconds).
func ParseDuration(s string) (time.Duration, error) {
	num, unit := splitNumber(s)
	if num == "" {
		return 0, fmt.Errorf("no number")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is not an integer", num)
	}
	var u time.Duration
	switch strings.ToLower(unit) {
	case "", "ms", "milli", "millis", "millisecond", "milliseconds":
		u = time.Millisecond
	case "s", "sec", "secs", "second", "seconds":
		u = time.Second
	case "min", "mins", "minute", "minutes", "m":
		u = time.Minute
	case "h", "hour", "hours":
		u = time.Hour
	case "d", "day", "days":
		u = 24 * time.Hour
	case "us", "micro", "micros", "microsecond", "microseconds":
		u = time.Microsecond
	case "ns", "nano", "nanos", "nanosecond", "nanoseconds":
		u = time.Nanosecond
	default:
		return 0, fmt.Errorf("unknown time unit '%s'", unit)
	}
	if n > int64(math.MaxInt64/u) || n < int64(math.MinInt64/u) {
		return 0, fmt.Errorf("too large")
	}
	return time.Duration(n) * u, nil
}

// MemorySize reads a size option in Flink's MemorySize forms ('128mb',
// '1 kb', '64 MiB', '1024'; a bare number is bytes), def when absent.
func (v *Validator) MemorySize(key string, def int64) (int64, error) {
	s, ok := v.Table.Options[key]
	if !ok {
		return def, nil
	}
	n, err := ParseMemorySize(s)
	if err != nil {
		return 0, v.Errorf(key, "option '%s': '%s' is not a memory size (%v); write e.g. '128mb' or '1 kb'", key, s, err)
	}
	return n, nil
}

// ParseMemorySize reads Flink's MemorySize: a number of bytes with an
// optional unit (b, k/kb/kibibytes, m/mb/mebibytes, g/gb, t/tb; powers of
// 1024, as Flink's).
func ParseMemorySize(s string) (int64, error) {
	num, unit := splitNumber(s)
	if num == "" {
		return 0, fmt.Errorf("no number")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is not an integer", num)
	}
	var shift uint
	switch strings.ToLower(unit) {
	case "", "b", "bytes":
	case "k", "kb", "kib", "kibibytes":
		shift = 10
	case "m", "mb", "mib", "mebibytes":
		shift = 20
	case "g", "gb", "gib", "gibibytes":
		shift = 30
	case "t", "tb", "tib", "tebibytes":
		shift = 40
	default:
		return 0, fmt.Errorf("unknown size unit '%s'", unit)
	}
	if n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("out of range")
	}
	return n << shift, nil
}

// splitNumber splits "  30 min " into "30" and "min".
func splitNumber(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || i == 0 && s[i] == '-') {
		i++
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// Filesystem is Flink's filesystem connector. As a source it reads the
// files under 'path' (recursively, skipping hidden files whose names
// start with '.' or '_') once, bounded, with PARTITIONED BY columns from
// k=v directory names; as a sink it writes part files exactly once per
// checkpoint with Flink's rolling policy and partition directories. The
// formats are sql/format's line formats and parquet. A line that does not
// decode goes to the error output in 'error.path' (as for shardlog
// tables; see sql/planner/table_fs.go).
type Filesystem struct{}

// Filesystem defaults, as Flink's.
const (
	DefaultRollingFileSize      = 128 << 20
	DefaultRolloverInterval     = 30 * time.Minute
	DefaultRollingCheckInterval = time.Minute
	DefaultPartitionName        = "__DEFAULT_PARTITION__"
)

// FilesystemFormats are the formats the filesystem connector reads and
// writes: sql/format's (one record a line) and parquet.
func FilesystemFormats() []string { return append(format.Names(), "parquet") }

// ParquetCompressions are the parquet.compression values.
var ParquetCompressions = []string{"SNAPPY", "GZIP", "UNCOMPRESSED"}

// Name implements Factory.
func (Filesystem) Name() string { return "filesystem" }

// Options implements Factory.
func (Filesystem) Options() []OptionSpec {
	return append([]OptionSpec{{Key: "path", Required: true}, {Key: "format", Required: true},
		{Key: "source.monitor-interval"},
		{Key: "sink.rolling-policy.file-size"}, {Key: "sink.rolling-policy.rollover-interval"},
		{Key: "sink.rolling-policy.check-interval"}, {Key: "partition.default-name"},
		{Key: "parquet.compression"},
		{Key: "sink.partition-commit.policy.kind"}, {Key: "sink.partition-commit.success-file.name"},
		{Key: "sink.partition-commit.trigger"}, {Key: "sink.partition-commit.delay"},
		{Key: "error.path"}}, append(formatKeys(), s3OptionSpecs()...)...)
}

func s3OptionSpecs() []OptionSpec {
	specs := make([]OptionSpec, len(S3OptionKeys))
	for i, k := range S3OptionKeys {
		specs[i] = OptionSpec{Key: k}
	}
	return specs
}

func formatKeys() []OptionSpec {
	var specs []OptionSpec
	for _, k := range format.Keys("") {
		specs = append(specs, OptionSpec{Key: k})
	}
	return specs
}

// FileLayout is the row of what a filesystem table's files hold: its
// physical columns but the partition columns, which are directories.
func FileLayout(t *Table) *row.Layout {
	var names []string
	var ts []types.Type
	for _, c := range t.Columns {
		if c.Expr == nil && !slices.Contains(t.PartitionKeys, c.Name) {
			names = append(names, c.Name)
			ts = append(ts, c.Type)
		}
	}
	return row.NewLayout(ts, names)
}

// PartitionTypeOK implements PartitionedFactory: partition values are
// directory names, so strings, integers, booleans and dates.
func (Filesystem) PartitionTypeOK(t types.Type) error { return partitionTypeOK(t) }

func partitionTypeOK(t types.Type) error {
	switch {
	case t.IsCharString(), t.Kind == types.Boolean, t.Kind == types.Date,
		t.Kind == types.TinyInt, t.Kind == types.SmallInt, t.Kind == types.Int, t.Kind == types.BigInt:
		return nil
	}
	return fmt.Errorf("type %s is not supported as a partition yet (strings, integers, booleans and dates are)", t)
}

// Check implements Factory.
func (Filesystem) Check(v *Validator) error {
	if _, err := FilesystemLocation(v); err != nil {
		return err
	}
	fmtName, err := v.OneOf("format", "", FilesystemFormats()...)
	if err != nil {
		return err
	}
	if _, ok := v.Table.Options["source.monitor-interval"]; ok {
		return v.Errorf("source.monitor-interval", "option 'source.monitor-interval': continuous monitoring of a directory is not supported yet; the filesystem source reads the files present when the job starts (bounded)")
	}
	if n, err := v.MemorySize("sink.rolling-policy.file-size", DefaultRollingFileSize); err != nil {
		return err
	} else if n <= 0 {
		return v.Errorf("sink.rolling-policy.file-size", "option 'sink.rolling-policy.file-size' must be positive")
	}
	for _, k := range []string{"sink.rolling-policy.rollover-interval", "sink.rolling-policy.check-interval"} {
		if d, err := v.Duration(k, time.Minute); err != nil {
			return err
		} else if d <= 0 {
			return v.Errorf(k, "option '%s' must be positive", k)
		}
	}
	if n, ok := v.Table.Options["partition.default-name"]; ok && (n == "" || strings.ContainsAny(n, "/\\") || n == "." || n == "..") {
		return v.Errorf("partition.default-name", "option 'partition.default-name': '%s' is not a directory name", n)
	}
	if err := checkPartitionCommit(v); err != nil {
		return err
	}
	if _, ok := v.Table.Options["parquet.compression"]; ok && fmtName != "parquet" {
		return v.Errorf("parquet.compression", "option 'parquet.compression' is for format 'parquet', not '%s'", fmtName)
	}
	if _, err := v.OneOf("parquet.compression", "SNAPPY", ParquetCompressions...); err != nil {
		return err
	}
	if fmtName != "parquet" {
		return v.CheckFormat("format", FileLayout(v.Table))
	}
	for _, k := range format.Keys("") {
		if _, ok := v.Table.Options[k]; ok {
			return v.Errorf(k, "Unsupported option '%s' for format 'parquet'", k)
		}
	}
	{
		for _, c := range v.Table.Columns {
			if c.Expr != nil || slices.Contains(v.Table.PartitionKeys, c.Name) {
				continue
			}
			if err := ParquetTypeOK(c.Type); err != nil {
				return diag.New(v.src, c.Span, "format 'parquet': column '%s': %v", c.Name, err)
			}
		}
	}
	return nil
}

// ParquetTypeOK reports whether a column of type t can be a Parquet
// column (connectors/parquet's types).
func ParquetTypeOK(t types.Type) error {
	switch t.Kind {
	case types.Boolean, types.TinyInt, types.SmallInt, types.Int, types.BigInt,
		types.Float, types.Double, types.Char, types.VarChar, types.Date:
		return nil
	case types.Timestamp, types.TimestampLTZ:
		if t.Precision > 9 {
			return fmt.Errorf("%s has more than nanosecond precision", t)
		}
		return nil
	}
	return fmt.Errorf("type %s is not supported in Parquet files yet (booleans, integers, FLOAT, DOUBLE, strings, DATE and timestamps are)", t)
}

// checkPartitionCommit checks Flink's partition commit options: the
// success-file policy, on the process-time trigger without delay.
func checkPartitionCommit(v *Validator) error {
	o := v.Table.Options
	if _, err := v.OneOf("sink.partition-commit.trigger", "process-time", "process-time"); err != nil {
		if o["sink.partition-commit.trigger"] == "partition-time" {
			return v.Errorf("sink.partition-commit.trigger", "option 'sink.partition-commit.trigger': 'partition-time' is not supported yet (partitions are committed with the checkpoint that makes their files visible: 'process-time')")
		}
		return err
	}
	if d, err := v.Duration("sink.partition-commit.delay", 0); err != nil {
		return err
	} else if d != 0 {
		return v.Errorf("sink.partition-commit.delay", "option 'sink.partition-commit.delay': a delay is not supported yet (only '0 s')")
	}
	kind, ok := o["sink.partition-commit.policy.kind"]
	if !ok {
		if _, named := o["sink.partition-commit.success-file.name"]; named {
			return v.Errorf("sink.partition-commit.success-file.name", "option 'sink.partition-commit.success-file.name' needs 'sink.partition-commit.policy.kind' = 'success-file'")
		}
		return nil
	}
	if len(v.Table.PartitionKeys) == 0 {
		return v.Errorf("sink.partition-commit.policy.kind", "option 'sink.partition-commit.policy.kind': partition commit needs PARTITIONED BY")
	}
	for _, k := range strings.Split(kind, ",") {
		switch k = strings.TrimSpace(k); k {
		case "success-file":
		case "metastore", "custom":
			return v.Errorf("sink.partition-commit.policy.kind", "option 'sink.partition-commit.policy.kind': '%s' is not supported yet (there is no metastore; 'success-file' is)", k)
		default:
			e := v.Errorf("sink.partition-commit.policy.kind", "option 'sink.partition-commit.policy.kind': unknown policy '%s'; supported: success-file", k)
			if best, ok := diag.Closest(k, []string{"success-file", "metastore", "custom"}); ok {
				e.(*diag.Error).Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return e
		}
	}
	if n, ok := o["sink.partition-commit.success-file.name"]; ok && (n == "" || strings.ContainsAny(n, "/\\") || n == "." || n == ".." || strings.HasPrefix(n, "part-")) {
		return v.Errorf("sink.partition-commit.success-file.name", "option 'sink.partition-commit.success-file.name': '%s' is not a plain file name", n)
	}
	return nil
}

// SuccessFile is the success file a filesystem table's partition commit
// writes, "" for none.
func SuccessFile(t *Table) string {
	if !strings.Contains(t.Options["sink.partition-commit.policy.kind"], "success-file") {
		return ""
	}
	if n, ok := t.Options["sink.partition-commit.success-file.name"]; ok {
		return n
	}
	return "_SUCCESS"
}
