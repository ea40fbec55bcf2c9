package catalog

import (
	"errors"

	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
)

// UpsertShardLog is the 'upsert-shardlog' connector, the built-in log
// in the spirit of Flink's 'upsert-kafka': a table with a PRIMARY KEY
// whose records are keyed by it. As a sink it writes each +I and +U row
// as a record whose partition key is the key columns in 'key.format' and
// whose data is the row in 'value.format'; -U rows are not written (the
// +U that follows replaces the value), and each -D is a tombstone: a
// record of the key with empty data (the log's records may be empty; a
// format never encodes a row as no bytes). As a source it reads the
// records back as a changelog: the last value per key, +I for a key's
// first, -U/+U for a new value, -D for a tombstone.
type UpsertShardLog struct{}

// Name implements Factory.
func (UpsertShardLog) Name() string { return "upsert-shardlog" }

var upsertLogOptions = []string{"stream.shards", "scan.stream.initpos", "scan.bounded", "log.path", "error.path"}

// Options implements Factory.
func (UpsertShardLog) Options() []OptionSpec {
	specs := []OptionSpec{{Key: "stream", Required: true}, {Key: "key.format", Required: true}, {Key: "value.format", Required: true}}
	for _, k := range upsertLogOptions {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, k := range format.Keys("key.") {
		specs = append(specs, OptionSpec{Key: k})
	}
	for _, k := range format.Keys("value.") {
		specs = append(specs, OptionSpec{Key: k})
	}
	return specs
}

// AcceptsUpdates implements UpdatingSink.
func (UpsertShardLog) AcceptsUpdates() bool { return true }

// KeyLayout is the layout of an upsert table's key columns, in the
// primary key's order.
func KeyLayout(t *Table) *row.Layout {
	l := FormatLayout(t)
	var is []int
	for _, c := range t.PrimaryKey.Columns {
		for i := range l.Len() {
			if l.Name(i) == c {
				is = append(is, i)
			}
		}
	}
	kl, _ := l.Project(is)
	return kl
}

// Check implements Factory.
func (UpsertShardLog) Check(v *Validator) error {
	t := v.Table
	if t.PrimaryKey == nil {
		return diag.New(v.src, t.Span, "'upsert-shardlog' tables require to define a PRIMARY KEY constraint. The PRIMARY KEY specifies which columns should be read from or write to the log record's partition key. The PRIMARY KEY also defines records in the 'upsert-shardlog' table should update or delete on which keys.")
	}
	for _, c := range t.Columns {
		if c.Expr != nil || c.Metadata != "" {
			return diag.New(v.src, c.Span, "'upsert-shardlog' tables take physical columns only yet: column '%s' is computed or metadata", c.Name)
		}
	}
	if t.Watermark != nil {
		return diag.New(v.src, t.Watermark.Span, "'upsert-shardlog' tables do not take a WATERMARK yet")
	}
	if err := checkLogStream(v); err != nil {
		return err
	}
	// As upsert-kafka, the table is read from the start of the log: the
	// last value of every key is the table.
	if _, err := v.OneOf("scan.stream.initpos", "TRIM_HORIZON", "TRIM_HORIZON"); err != nil {
		return err
	}
	if _, err := format.New(t.Options["key.format"], t.Options, "key.", KeyLayout(t)); err != nil {
		var oe *format.OptionError
		if errors.As(err, &oe) {
			e := v.Errorf(oe.Key, "%s", oe.Msg)
			if de, ok := e.(*diag.Error); ok {
				de.Hint = oe.Hint
			}
			return e
		}
		return v.Errorf("key.format", "%v", err)
	}
	for k := range t.Options {
		if len(k) > 4 && k[:4] == "key." && k != "key.format" && t.Options["key.format"] != "" && !hasPrefix(k, "key."+t.Options["key.format"]+".") {
			return v.Errorf(k, "option '%s' applies to another key format than '%s'", k, t.Options["key.format"])
		}
	}
	return v.checkValueFormat(t)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// checkValueFormat checks 'value.format' and its options only (the key's
// are checked above).
func (v *Validator) checkValueFormat(t *Table) error {
	if _, err := format.New(t.Options["value.format"], t.Options, "value.", FormatLayout(t)); err != nil {
		var oe *format.OptionError
		if errors.As(err, &oe) {
			e := v.Errorf(oe.Key, "%s", oe.Msg)
			if de, ok := e.(*diag.Error); ok {
				de.Hint = oe.Hint
			}
			return e
		}
		return v.Errorf("value.format", "%v", err)
	}
	return nil
}
