// Package catalog holds the tables a SQL script declares: CREATE TABLE
// (physical, computed and METADATA [FROM 'key'] [VIRTUAL] columns,
// WATERMARK FOR, PARTITIONED BY where the connector takes it, WITH
// options) checked against the connector's factory, DROP TABLE, and SET
// for the job settings. A Catalog is not safe for concurrent use: one
// script, one catalog.
//
// SHOW TABLES and DESCRIBE are answered by package planner, which types
// computed columns. Not here yet: PRIMARY KEY, LIKE options and views;
// each is refused by name with its position. The shardlog table and its
// formats are described in docs/sql-tables.md.
package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/types"
)

// Column is one column of a table.
type Column struct {
	Name string
	Type types.Type
	// Expr is a computed column's expression (c AS expr); nil for a
	// physical or metadata column. The planner types it and fixes Type.
	Expr ast.Expr
	// Metadata is a METADATA column's key (FROM 'key', else the column's
	// name); "" for other columns. The connector fills it when reading.
	Metadata string
	// Virtual marks a METADATA ... VIRTUAL column: read only, not part of
	// the table's columns when it is written.
	Virtual bool
	Span    diag.Span
}

// Watermark is WATERMARK FOR Column AS Expr.
type Watermark struct {
	Column string
	Expr   ast.Expr
	Span   diag.Span
}

// Table is a declared table: its schema, its connector and options.
type Table struct {
	Name      string
	Columns   []Column
	Watermark *Watermark
	// Options are the WITH options, validated by Factory.
	Options map[string]string
	// OptionSpans locate each option's key, for run-time errors.
	OptionSpans map[string]diag.Span
	Factory     Factory
	// PartitionKeys are the PARTITIONED BY columns (connectors that take
	// them only: see Partitioned).
	PartitionKeys []string
	Span          diag.Span
}

// Column returns the index of the named column (case-sensitive, as
// Flink), or -1.
func (t *Table) Column(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// ColumnNames are the table's column names in order.
func (t *Table) ColumnNames() []string {
	ns := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		ns[i] = c.Name
	}
	return ns
}

// Catalog is the tables and settings of one script.
type Catalog struct {
	src       string
	tables    map[string]*Table
	factories map[string]Factory
	// Settings are the SET 'k' = 'v' values.
	Settings map[string]string
}

// New is an empty catalog for the script src (kept to render errors) with
// the built-in connector factories.
func New(src string) *Catalog {
	c := &Catalog{src: src, tables: map[string]*Table{}, factories: map[string]Factory{}, Settings: map[string]string{}}
	for _, f := range Builtins() {
		c.factories[f.Name()] = f
	}
	return c
}

// Source is the script the catalog renders errors against.
func (c *Catalog) Source() string { return c.src }

// Lookup returns the named table, or an error at span suggesting the
// closest declared name.
func (c *Catalog) Lookup(name string, span diag.Span) (*Table, error) {
	if t, ok := c.tables[name]; ok {
		return t, nil
	}
	e := diag.New(c.src, span, "Object '%s' not found", name)
	if best, ok := diag.Closest(name, c.TableNames()); ok {
		e.Hint = fmt.Sprintf("did you mean '%s'?", best)
	}
	return nil, e
}

// TableNames are the declared tables, sorted.
func (c *Catalog) TableNames() []string {
	ns := make([]string, 0, len(c.tables))
	for n := range c.tables {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// settingKeys are the SET keys a job reads.
var settingKeys = []string{"parallelism.default", "pipeline.name", "execution.checkpointing.interval", "table.exec.source.idle-timeout"}

// Exec applies a DDL or SET statement. It reports whether stmt was one the
// catalog handles; other statements are the planner's.
func (c *Catalog) Exec(stmt ast.Statement) (bool, error) {
	switch s := stmt.(type) {
	case *ast.CreateTable:
		return true, c.createTable(s)
	case *ast.Drop:
		if s.Kind != ast.ObjTable {
			return true, diag.New(c.src, s.Span(), "DROP %s is not supported yet", s.Kind)
		}
		name := s.Name.Last().Name
		if _, ok := c.tables[name]; !ok {
			if s.IfExists {
				return true, nil
			}
			_, err := c.Lookup(name, s.Name.Span())
			return true, err
		}
		delete(c.tables, name)
		return true, nil
	case *ast.Set:
		if s.Key == nil {
			return true, diag.New(c.src, s.Span(), "SET without a key is not supported")
		}
		k := s.Key.Value
		if !slices.Contains(settingKeys, k) {
			e := diag.New(c.src, s.Key.Span(), "Unsupported setting '%s'", k)
			if best, ok := diag.Closest(k, settingKeys); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			} else {
				e.Hint = "supported: " + strings.Join(settingKeys, ", ")
			}
			return true, e
		}
		if s.Value == nil {
			return true, diag.New(c.src, s.Span(), "SET '%s' needs a value", k)
		}
		c.Settings[k] = s.Value.Value
		return true, nil
	}
	return false, nil
}

func (c *Catalog) createTable(s *ast.CreateTable) error {
	name := s.Name.Last().Name
	switch {
	case s.Like != nil && len(s.Like.Options) > 0:
		return diag.New(c.src, s.Like.Options[0].Span(), "LIKE options (INCLUDING, EXCLUDING, OVERWRITING) are not supported yet; without them LIKE includes everything and the new options overwrite the old")
	case s.AsQuery != nil:
		return diag.New(c.src, s.Span(), "CREATE TABLE ... AS SELECT is not supported yet")
	case len(s.Constraints) > 0:
		return diag.New(c.src, s.Constraints[0].Span(), "PRIMARY KEY is not supported yet")
	case len(s.Watermarks) > 1:
		return diag.New(c.src, s.Watermarks[1].Span(), "a table has at most one WATERMARK")
	}
	if _, dup := c.tables[name]; dup {
		if s.IfNotExists {
			return nil
		}
		if !s.OrReplace {
			return diag.New(c.src, s.Name.Span(), "Table '%s' already exists", name)
		}
	}
	t := &Table{Name: name, Options: map[string]string{}, OptionSpans: map[string]diag.Span{}, Span: s.Span()}
	if s.Like != nil {
		// Flink's default: INCLUDING ALL OVERWRITING OPTIONS.
		base, err := c.Lookup(s.Like.Source.Last().Name, s.Like.Source.Span())
		if err != nil {
			return err
		}
		t.Columns = append(t.Columns, base.Columns...)
		if base.Watermark != nil {
			w := *base.Watermark
			t.Watermark = &w
		}
		for k, v := range base.Options {
			t.Options[k] = v
			t.OptionSpans[k] = base.OptionSpans[k]
		}
	}
	for _, cd := range s.Columns {
		col := Column{Name: cd.Name.Name, Span: cd.Span()}
		if t.Column(col.Name) >= 0 {
			return diag.New(c.src, cd.Name.Span(), "Column '%s' is declared twice", col.Name)
		}
		if cd.Constraint != nil {
			return diag.New(c.src, cd.Constraint.Span(), "column constraints are not supported yet")
		}
		switch cd.Kind {
		case ast.PhysicalColumn:
			typ, err := ConvertType(c.src, cd.Type)
			if err != nil {
				return err
			}
			col.Type = typ
		case ast.ComputedColumn:
			col.Expr = cd.Expr
		default:
			typ, err := ConvertType(c.src, cd.Type)
			if err != nil {
				return err
			}
			col.Type, col.Metadata, col.Virtual = typ, col.Name, cd.Virtual
			if cd.MetadataKey != nil {
				col.Metadata = cd.MetadataKey.Value
			}
		}
		t.Columns = append(t.Columns, col)
	}
	if len(s.Watermarks) == 1 {
		if t.Watermark != nil {
			return diag.New(c.src, s.Watermarks[0].Span(), "table '%s' already has a WATERMARK from LIKE", name)
		}
		w := s.Watermarks[0]
		cn := w.Column.Last().Name
		i := t.Column(cn)
		if i < 0 {
			e := diag.New(c.src, w.Column.Span(), "The rowtime attribute field '%s' is not defined in the table schema", cn)
			if best, ok := diag.Closest(cn, t.ColumnNames()); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return e
		}
		t.Watermark = &Watermark{Column: cn, Expr: w.Expr, Span: w.Span()}
	}
	seen := map[string]bool{}
	for _, o := range s.Options {
		if seen[o.Key.Value] {
			return diag.New(c.src, o.Key.Span(), "option '%s' is given twice", o.Key.Value)
		}
		seen[o.Key.Value] = true
		t.Options[o.Key.Value] = o.Value.Value
		t.OptionSpans[o.Key.Value] = o.Key.Span()
	}
	conn, ok := t.Options["connector"]
	if !ok {
		return diag.New(c.src, s.Name.Span(), "Table '%s' needs a 'connector' option", name)
	}
	f, ok := c.factories[conn]
	if !ok {
		e := diag.New(c.src, t.OptionSpans["connector"], "Could not find any factory for identifier '%s'", conn)
		names := make([]string, 0, len(c.factories))
		for n := range c.factories {
			names = append(names, n)
		}
		slices.Sort(names)
		if best, ok := diag.Closest(conn, names); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		} else {
			e.Hint = "available: " + strings.Join(names, ", ")
		}
		return e
	}
	t.Factory = f
	if err := checkMetadata(c.src, t, s, f); err != nil {
		return err
	}
	if err := checkPartitionedBy(c.src, t, s, f); err != nil {
		return err
	}
	if err := validateOptions(c.src, t, s, f); err != nil {
		return err
	}
	c.tables[name] = t
	return nil
}

// ConvertType is the logical type of a column type as written.
func ConvertType(src string, at *ast.Type) (types.Type, error) {
	p := func(i, def int) int {
		if i < len(at.Params) {
			return at.Params[i]
		}
		return def
	}
	var t types.Type
	switch strings.ToUpper(at.Name) {
	case "BOOLEAN":
		t = types.BooleanType()
	case "TINYINT":
		t = types.TinyIntType()
	case "SMALLINT":
		t = types.SmallIntType()
	case "INT", "INTEGER":
		t = types.IntType()
	case "BIGINT":
		t = types.BigIntType()
	case "FLOAT", "REAL":
		t = types.FloatType()
	case "DOUBLE", "DOUBLE PRECISION":
		t = types.DoubleType()
	case "DECIMAL", "DEC", "NUMERIC":
		t = types.DecimalType(p(0, 10), p(1, 0))
	case "STRING":
		t = types.StringType()
	case "VARCHAR", "CHARACTER VARYING":
		t = types.VarCharType(p(0, 1))
	case "CHAR", "CHARACTER":
		t = types.CharType(p(0, 1))
	case "DATE":
		t = types.DateType()
	case "TIMESTAMP":
		t = types.TimestampType(p(0, 6))
	case "TIMESTAMP_LTZ", "TIMESTAMP WITH LOCAL TIME ZONE":
		t = types.TimestampLTZType(p(0, 6))
	default:
		return types.Type{}, diag.New(src, at.Span(), "column type %s is not supported yet", at.Name)
	}
	if err := t.Validate(); err != nil {
		return types.Type{}, diag.New(src, at.Span(), "%v", err)
	}
	return t.WithNullable(!at.NotNull), nil
}
