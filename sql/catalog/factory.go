package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
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
	return []Factory{Datagen{}, Print{}, Blackhole{}, Filesystem{}, ShardLog{}, Kinesis{}}
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
		if !c.Type.IsNumeric() && !c.Type.IsCharString() && c.Type.Kind != types.Boolean {
			return v.Errorf(p+"kind", "datagen: column '%s' of type %s is not supported yet (numbers, strings and booleans are)", c.Name, c.Type)
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

// Filesystem is Flink's filesystem connector, as a sink: JSON lines
// committed exactly once per checkpoint (package connectors/file).
type Filesystem struct{}

// Name implements Factory.
func (Filesystem) Name() string { return "filesystem" }

// Options implements Factory.
func (Filesystem) Options() []OptionSpec {
	return []OptionSpec{{Key: "path", Required: true}, {Key: "format", Required: true}}
}

// Check implements Factory.
func (Filesystem) Check(v *Validator) error {
	_, err := v.OneOf("format", "json", "json")
	return err
}
