package catalog

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/connectors/firehose/prefix"
	"github.com/sluicehq/sluice/connectors/parquet"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Firehose is a delivery stream as a sink table (package
// connectors/firehose): rows are buffered by the buffering hints, written
// as JSON lines or Parquet, compressed, under Firehose prefixes (with
// !{timestamp:...} and, for PARTITIONED BY columns, dynamic partitioning
// as !{partitionKeyFromQuery:col}) to a local directory or S3, exactly
// once in a job that checkpoints. The options are the JSON configuration's
// (`sluice firehose run --config`) in SQL's spelling:
//
//	'destination'          'dir' or 's3' (required)
//	'path'                 the directory (dir)
//	'bucket'               the bucket (s3), with 's3.endpoint', 's3.region',
//	                       's3.path-style', 's3.access-key-id', 's3.secret-access-key'
//	'name'                 the delivery stream name (default: the table's)
//	'prefix', 'error-output-prefix'   Firehose prefixes
//	'buffering.size'       '1 mb' to '128 mb' (default 5 mb; 64 mb partitioned)
//	'buffering.interval'   '0 s' to '900 s' (default 300 s)
//	'compression'          UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY
//	'format'               json (default), csv, raw (one record a line) or parquet
//	'parquet.compression'  SNAPPY (default), GZIP, UNCOMPRESSED
//	'custom-time-zone', 'file-extension'
type Firehose struct{}

// Name implements Factory.
func (Firehose) Name() string { return "firehose" }

// Options implements Factory.
func (Firehose) Options() []OptionSpec {
	return append([]OptionSpec{{Key: "destination", Required: true}, {Key: "path"}, {Key: "bucket"},
		{Key: "s3.endpoint"}, {Key: "s3.region"}, {Key: "s3.path-style"},
		{Key: "s3.access-key-id"}, {Key: "s3.secret-access-key"},
		{Key: "name"}, {Key: "prefix"}, {Key: "error-output-prefix"},
		{Key: "buffering.size"}, {Key: "buffering.interval"}, {Key: "compression"},
		{Key: "format"}, {Key: "parquet.compression"}, {Key: "custom-time-zone"}, {Key: "file-extension"}}, formatKeys()...)
}

// PartitionTypeOK implements PartitionedFactory: a partition column is a
// dynamic partitioning key, a value in the object's prefix.
func (Firehose) PartitionTypeOK(t types.Type) error { return partitionTypeOK(t) }

// FirehoseFormats are the firehose table's formats: sql/format's (one
// record a line, Firehose's JSON lines framing) and parquet.
func FirehoseFormats() []string { return append(format.Names(), "parquet") }

// FirehoseCompressions are the 'compression' values, spelled as
// Firehose's.
var FirehoseCompressions = []string{firehose.Uncompressed, firehose.GZIP, firehose.ZIP, firehose.Snappy, firehose.HadoopSnappy}

// Check implements Factory: each option on its own, then the delivery
// stream as connectors/firehose validates it.
func (f Firehose) Check(v *Validator) error {
	_, err := FirehoseConfig(v)
	return err
}

// FirehoseConfig is the delivery stream of a firehose table, checked; an
// error points at the option at fault.
func FirehoseConfig(v *Validator) (firehose.Config, error) {
	t := v.Table
	o := t.Options
	cfg := firehose.Config{Name: t.Name}
	if n, ok := o["name"]; ok {
		if n == "" || strings.ContainsAny(n, "/\\") {
			return cfg, v.Errorf("name", "option 'name': '%s' is not a delivery stream name (non-empty, no '/')", n)
		}
		cfg.Name = n
	}
	dest, err := v.OneOf("destination", "", "dir", "s3")
	if err != nil {
		return cfg, err
	}
	need := func(key string) error {
		if strings.TrimSpace(o[key]) == "" {
			return v.Errorf("destination", "Missing required option '%s' for 'destination' = '%s'", key, dest)
		}
		return nil
	}
	only := func(keys []string, forDest string) error {
		for _, k := range keys {
			if _, ok := o[k]; ok && dest != forDest {
				return v.Errorf(k, "option '%s' is for 'destination' = '%s', not '%s'", k, forDest, dest)
			}
		}
		return nil
	}
	s3Keys := append([]string{"bucket"}, S3OptionKeys...)
	if err := only(s3Keys, "s3"); err != nil {
		return cfg, err
	}
	if err := only([]string{"path"}, "dir"); err != nil {
		return cfg, err
	}
	switch dest {
	case "dir":
		if err := need("path"); err != nil {
			return cfg, err
		}
		cfg.Directory = &firehose.DirectoryConfig{Path: strings.TrimPrefix(o["path"], "file://")}
	case "s3":
		if err := need("bucket"); err != nil {
			return cfg, err
		}
		c, err := s3Options(v, o["bucket"])
		if err != nil {
			return cfg, err
		}
		if err := c.Validate(); err != nil {
			return cfg, v.Errorf("bucket", "%v", err)
		}
		cfg.S3 = c
	}
	if n, err := v.MemorySize("buffering.size", 0); err != nil {
		return cfg, err
	} else if _, ok := o["buffering.size"]; ok {
		if n%(1<<20) != 0 || n < 1<<20 || n > 128<<20 {
			return cfg, v.Errorf("buffering.size", "option 'buffering.size': '%s' must be a whole number of MiB from '1 mb' to '128 mb' (Firehose's buffering size)", o["buffering.size"])
		}
		cfg.Buffering.SizeInMBs = int(n >> 20)
	}
	if d, err := v.Duration("buffering.interval", 0); err != nil {
		return cfg, err
	} else if _, ok := o["buffering.interval"]; ok {
		if d%time.Second != 0 || d > 900*time.Second {
			return cfg, v.Errorf("buffering.interval", "option 'buffering.interval': '%s' must be whole seconds from '0 s' to '900 s' (Firehose's buffering interval)", o["buffering.interval"])
		}
		cfg.Buffering.IntervalInSeconds = firehose.Seconds(int(d / time.Second))
	}
	if cfg.Compression, err = v.OneOf("compression", firehose.Uncompressed, FirehoseCompressions...); err != nil {
		return cfg, err
	}
	fmtName, err := v.OneOf("format", "json", FirehoseFormats()...)
	if err != nil {
		return cfg, err
	}
	if _, ok := o["parquet.compression"]; ok && fmtName != "parquet" {
		return cfg, v.Errorf("parquet.compression", "option 'parquet.compression' is for 'format' = 'parquet', not '%s'", fmtName)
	}
	pqc, err := v.OneOf("parquet.compression", parquet.Snappy, ParquetCompressions...)
	if err != nil {
		return cfg, err
	}
	switch fmtName {
	default:
		if _, ok := o["format"]; ok {
			if err := v.CheckFormat("format", RowLayout(t)); err != nil {
				return cfg, err
			}
		} else if _, err := format.New(fmtName, o, "", RowLayout(t)); err != nil {
			// The default json format, with json.* options.
			var oe *format.OptionError
			if errors.As(err, &oe) {
				e := v.Errorf(oe.Key, "%s", oe.Msg)
				e.(*diag.Error).Hint = oe.Hint
				return cfg, e
			}
			return cfg, diag.New(v.src, t.Span, "%v", err)
		}
		if len(t.PartitionKeys) > 0 && fmtName != "json" {
			return cfg, v.Errorf("format", "a PARTITIONED BY firehose table needs 'format' = 'json' or 'parquet': Firehose evaluates partition keys over JSON records")
		}
		cfg.Format.Type = firehose.FormatJSONLines
	case "parquet":
		for _, k := range format.Keys("") {
			if _, ok := o[k]; ok {
				return cfg, v.Errorf(k, "Unsupported option '%s' for format 'parquet'", k)
			}
		}
		if _, ok := o["compression"]; ok && cfg.Compression != firehose.Uncompressed {
			return cfg, v.Errorf("compression", "option 'compression' must be UNCOMPRESSED with 'format' = 'parquet', which compresses inside the file: set 'parquet.compression'")
		}
		cols, err := ParquetColumns(v, t.ColumnNames())
		if err != nil {
			return cfg, err
		}
		cfg.Format.Type = firehose.FormatParquet
		cfg.Format.Parquet = &firehose.ParquetFormat{Columns: cols, Options: parquet.Options{Compression: pqc}, Table: t.Name}
	}
	if z, ok := o["custom-time-zone"]; ok {
		if _, err := time.LoadLocation(z); err != nil || z == "" {
			return cfg, v.Errorf("custom-time-zone", "option 'custom-time-zone': '%s' is not an IANA time zone", z)
		}
		cfg.CustomTimeZone = z
	}
	if e, ok := o["file-extension"]; ok {
		if !strings.HasPrefix(e, ".") || strings.ContainsAny(e, "/\\ ") {
			return cfg, v.Errorf("file-extension", "option 'file-extension': '%s' must start with '.' and hold no '/' or spaces", e)
		}
		cfg.FileExtension = e
	}
	cfg.Prefix, cfg.ErrorOutputPrefix = o["prefix"], o["error-output-prefix"]
	if len(t.PartitionKeys) > 0 {
		keys := map[string]string{}
		for _, k := range t.PartitionKeys {
			keys[k] = k
		}
		cfg.Partitioning = &firehose.Partitioning{Keys: keys}
	}
	if err := checkPrefixes(v, cfg.Prefix, cfg.ErrorOutputPrefix, t.PartitionKeys); err != nil {
		return cfg, err
	}
	check := cfg
	check.EnsureDefaults()
	if err := check.Validate(); err != nil {
		return cfg, diag.New(v.src, t.Span, "delivery stream '%s': %v", cfg.Name, err)
	}
	return cfg, nil
}

// checkPrefixes applies Firehose's prefix rules, pointing at the prefix
// at fault and speaking of the SQL options.
func checkPrefixes(v *Validator, pfx, errPfx string, partKeys []string) error {
	sqlTerms := func(err error) string {
		m := err.Error()
		m = strings.ReplaceAll(m, "ErrorOutputPrefix", "'error-output-prefix'")
		m = strings.ReplaceAll(m, "Prefix", "'prefix'")
		return strings.TrimPrefix(m, "prefix: ")
	}
	at := func(key string, err error) error {
		if _, ok := v.Table.Options[key]; !ok {
			key = "prefix"
		}
		return v.Errorf(key, "option '%s': %s", key, sqlTerms(err))
	}
	if _, err := prefix.Parse(pfx); err != nil {
		return at("prefix", err)
	}
	if _, err := prefix.Parse(errPfx); err != nil {
		return at("error-output-prefix", err)
	}
	p, err := prefix.Compile(pfx, errPfx, func(k string) bool { return slices.Contains(partKeys, k) })
	switch {
	case errors.Is(err, prefix.ErrKeyInErrorPrefix), errors.Is(err, prefix.ErrNeedErrorType):
		return at("error-output-prefix", err)
	case errors.Is(err, prefix.ErrUnknownKey):
		e := at("prefix", err).(*diag.Error)
		if len(partKeys) == 0 {
			e.Hint = "!{partitionKeyFromQuery:k} names a PARTITIONED BY column; the table has none"
		} else {
			e.Hint = "PARTITIONED BY columns: " + strings.Join(partKeys, ", ")
		}
		return e
	case errors.Is(err, prefix.ErrNeedErrorPrefix):
		e := at("prefix", err).(*diag.Error)
		e.Hint = "set 'error-output-prefix', e.g. 'errors/!{firehose:error-output-type}/'"
		return e
	case err != nil:
		return at("prefix", err)
	}
	if len(partKeys) > 0 {
		used := p.Prefix.QueryKeys()
		for _, k := range partKeys {
			if !slices.Contains(used, k) {
				return v.Errorf("prefix", "option 'prefix' must use every PARTITIONED BY column: add !{partitionKeyFromQuery:%s}", k)
			}
		}
		if errPfx == "" {
			return v.Errorf("prefix", "a PARTITIONED BY firehose table needs 'error-output-prefix' (Firehose's dynamic partitioning requires one)")
		}
	}
	return nil
}

// ParquetColumns are the Parquet columns of the named table columns
// (connectors/parquet's declared form); an unsupported type is an error at
// the column.
func ParquetColumns(v *Validator, names []string) ([]parquet.Column, error) {
	var cols []parquet.Column
	for _, n := range names {
		c := v.Table.Columns[v.Table.Column(n)]
		if c.Expr != nil {
			return nil, diag.New(v.src, c.Span, "a sink table cannot have computed columns")
		}
		if err := ParquetTypeOK(c.Type); err != nil {
			return nil, diag.New(v.src, c.Span, "format 'parquet': column '%s': %v", c.Name, err)
		}
		cols = append(cols, parquet.Column{Name: c.Name, Type: ParquetTypeName(c.Type), Nullable: c.Type.IsNullable()})
	}
	return cols, nil
}

// ParquetTypeName is connectors/parquet's name of a supported type.
func ParquetTypeName(t types.Type) string {
	switch t.Kind {
	case types.Boolean:
		return "boolean"
	case types.TinyInt:
		return "tinyint"
	case types.SmallInt:
		return "smallint"
	case types.Int:
		return "int"
	case types.BigInt:
		return "bigint"
	case types.Float:
		return "float"
	case types.Double:
		return "double"
	case types.Date:
		return "date"
	case types.Timestamp, types.TimestampLTZ:
		switch {
		case t.Precision <= 3:
			return "timestamp(ms)"
		case t.Precision <= 6:
			return "timestamp(us)"
		}
		return "timestamp(ns)"
	}
	return "string"
}

// RowLayout is the row of a table's physical columns.
func RowLayout(t *Table) *row.Layout {
	var names []string
	var ts []types.Type
	for _, c := range t.Columns {
		if c.Expr == nil {
			names = append(names, c.Name)
			ts = append(ts, c.Type)
		}
	}
	return row.NewLayout(ts, names)
}

// Validator for a table outside CREATE TABLE (the planner rebuilds a
// table's configuration with it).
func NewValidator(src string, t *Table) *Validator { return &Validator{src: src, Table: t} }
