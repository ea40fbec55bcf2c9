// Package catalog holds the tables a SQL script declares: CREATE TABLE
// (physical, computed and METADATA [FROM 'key'] [VIRTUAL] columns,
// WATERMARK FOR, PARTITIONED BY where the connector takes it, WITH
// options) checked against the connector's factory, DROP TABLE, and SET
// for the job settings. A Catalog is not safe for concurrent use: one
// script, one catalog.
//
// CREATE [TEMPORARY] VIEW keeps the view's query, which package planner
// plans where the view is read; DROP VIEW and DROP TABLE remove them.
// CREATE TABLE ... LIKE merges the base table as Flink's LIKE options say
// (INCLUDING, EXCLUDING, OVERWRITING of ALL, GENERATED, WATERMARKS,
// OPTIONS, CONSTRAINTS: the primary key).
//
// SHOW TABLES and DESCRIBE are answered by package planner, which types
// computed columns. PRIMARY KEY (...) NOT ENFORCED is kept (PrimaryKey)
// with Flink's checks, its columns made NOT NULL. The shardlog table and its formats are described in
// docs/sql-tables.md.
package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/engine"
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
	// PrimaryKey is the PRIMARY KEY ... NOT ENFORCED, nil without one.
	PrimaryKey *PrimaryKey
	Span       diag.Span
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

// View is CREATE [TEMPORARY] VIEW name [(columns)] AS query. The planner
// plans Query where the view is read.
type View struct {
	Name string
	// Columns rename the query's columns when given.
	Columns   []*ast.Ident
	Query     *ast.Query
	Temporary bool
	Span      diag.Span
}

// Catalog is the tables, views and settings of one script.
type Catalog struct {
	src       string
	tables    map[string]*Table
	views     map[string]*View
	factories map[string]Factory
	// Settings are the SET 'k' = 'v' values.
	Settings map[string]string
}

// New is an empty catalog for the script src (kept to render errors) with
// the built-in connector factories.
func New(src string) *Catalog {
	c := &Catalog{src: src, tables: map[string]*Table{}, views: map[string]*View{}, factories: map[string]Factory{}, Settings: map[string]string{}}
	for _, f := range Builtins() {
		c.factories[f.Name()] = f
	}
	return c
}

// Source is the script the catalog renders errors against.
func (c *Catalog) Source() string { return c.src }

// View returns the named view.
func (c *Catalog) View(name string) (*View, bool) {
	v, ok := c.views[name]
	return v, ok
}

// Lookup returns the named table, or an error at span suggesting the
// closest declared name (of a table or view).
func (c *Catalog) Lookup(name string, span diag.Span) (*Table, error) {
	if t, ok := c.tables[name]; ok {
		return t, nil
	}
	e := diag.New(c.src, span, "Object '%s' not found", name)
	names := c.TableNames()
	for n := range c.views {
		names = append(names, n)
	}
	slices.Sort(names)
	if best, ok := diag.Closest(name, names); ok {
		e.Hint = fmt.Sprintf("did you mean '%s'?", best)
	}
	return nil, e
}

// ViewNames are the declared views, sorted.
func (c *Catalog) ViewNames() []string {
	ns := make([]string, 0, len(c.views))
	for n := range c.views {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
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
var settingKeys = append(append([]string{"parallelism.default", "pipeline.name", "execution.checkpointing.interval", "table.exec.source.idle-timeout", "table.exec.state.ttl",
	"execution.checkpointing.dir", "state.checkpoints.dir", "execution.checkpointing.num-retained", "state.checkpoints.num-retained"}, S3OptionKeys...),
	engine.RestartOptionKeys...)

// Exec applies a DDL or SET statement. It reports whether stmt was one the
// catalog handles; other statements are the planner's.
func (c *Catalog) Exec(stmt ast.Statement) (bool, error) {
	switch s := stmt.(type) {
	case *ast.CreateTable:
		return true, c.createTable(s)
	case *ast.CreateView:
		return true, c.createView(s)
	case *ast.Drop:
		return true, c.drop(s)
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

// identifier is Flink's summary form of a name in the default catalog.
func identifier(name string) string { return "default_catalog.default_database." + name }

func (c *Catalog) createView(s *ast.CreateView) error {
	name := s.Name.Last().Name
	if _, isT := c.tables[name]; isT {
		return diag.New(c.src, s.Name.Span(), "Could not execute CreateView in path `default_catalog`.`default_database`.`%s`: a table of that name exists", name)
	}
	if _, dup := c.views[name]; dup {
		if s.IfNotExists {
			return nil
		}
		if !s.OrReplace {
			return diag.New(c.src, s.Name.Span(), "Could not execute CreateView in path `default_catalog`.`default_database`.`%s`: the view exists", name)
		}
	}
	seen := map[string]bool{}
	for _, col := range s.Columns {
		if seen[col.Name] {
			return diag.New(c.src, col.Span(), "Duplicate column name '%s' in the column list of view '%s'", col.Name, name)
		}
		seen[col.Name] = true
	}
	c.views[name] = &View{Name: name, Columns: s.Columns, Query: s.Query, Temporary: s.Temporary, Span: s.Span()}
	return nil
}

// drop is DROP TABLE and DROP VIEW with Flink's messages.
func (c *Catalog) drop(s *ast.Drop) error {
	name := s.Name.Last().Name
	switch s.Kind {
	case ast.ObjTable:
		if _, ok := c.tables[name]; ok {
			delete(c.tables, name)
			return nil
		}
		if s.IfExists {
			return nil
		}
		e := diag.New(c.src, s.Name.Span(), "Table with identifier '%s' does not exist.", identifier(name))
		if _, isV := c.views[name]; isV {
			e.Hint = fmt.Sprintf("'%s' is a view: use DROP VIEW", name)
		} else if best, ok := diag.Closest(name, c.TableNames()); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return e
	case ast.ObjView:
		if _, ok := c.views[name]; ok {
			delete(c.views, name)
			return nil
		}
		if s.IfExists {
			return nil
		}
		e := diag.New(c.src, s.Name.Span(), "View with identifier '%s' does not exist.", identifier(name))
		if _, isT := c.tables[name]; isT {
			e.Hint = fmt.Sprintf("'%s' is a table: use DROP TABLE", name)
		} else if best, ok := diag.Closest(name, c.ViewNames()); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return e
	}
	return diag.New(c.src, s.Span(), "DROP %s is not supported yet", s.Kind)
}

func (c *Catalog) createTable(s *ast.CreateTable) error {
	name := s.Name.Last().Name
	switch {
	case s.AsQuery != nil:
		return diag.New(c.src, s.Span(), "CREATE TABLE ... AS SELECT is not supported yet")
	case len(s.Watermarks) > 1:
		return diag.New(c.src, s.Watermarks[1].Span(), "a table has at most one WATERMARK")
	}
	if _, isV := c.views[name]; isV {
		return diag.New(c.src, s.Name.Span(), "Could not execute CreateTable in path `default_catalog`.`default_database`.`%s`: a view of that name exists", name)
	}
	if _, dup := c.tables[name]; dup {
		if s.IfNotExists {
			return nil
		}
		if !s.OrReplace {
			return diag.New(c.src, s.Name.Span(), "Table '%s' already exists", name)
		}
	}
	pk, err := c.primaryKey(s)
	if err != nil {
		return err
	}
	t := &Table{Name: name, Options: map[string]string{}, OptionSpans: map[string]diag.Span{}, Span: s.Span()}
	var like *likeMerge
	if s.Like != nil {
		if like, err = c.likeBase(s, t); err != nil {
			return err
		}
	}
	for _, cd := range s.Columns {
		col := Column{Name: cd.Name.Name, Span: cd.Span()}
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
		if i := t.Column(col.Name); i >= 0 {
			if like == nil || i >= like.baseCols {
				return diag.New(c.src, cd.Name.Span(), "Column '%s' is declared twice", col.Name)
			}
			if err := like.mergeColumn(c.src, t, i, col, cd); err != nil {
				return err
			}
			continue
		}
		t.Columns = append(t.Columns, col)
	}
	if pk != nil {
		if t.PrimaryKey != nil {
			return diag.New(c.src, pk.Span, "The base table already has a primary key. You might want to specify EXCLUDING CONSTRAINTS.")
		}
		t.PrimaryKey = pk
	}
	if t.PrimaryKey != nil {
		if err := checkPrimaryKey(c.src, t, t.PrimaryKey); err != nil {
			return err
		}
	}
	if len(s.Watermarks) == 1 {
		w := s.Watermarks[0]
		cn := w.Column.Last().Name
		if t.Watermark != nil {
			if t.Watermark.Column != cn {
				return diag.New(c.src, w.Span(), "a table has at most one WATERMARK: the base table's is for column '%s'", t.Watermark.Column)
			}
			if like.strategy["WATERMARKS"] == "INCLUDING" {
				return diag.New(c.src, w.Span(), "There already exists a watermark spec for column '%s' in the base table. You might want to specify EXCLUDING WATERMARKS or OVERWRITING WATERMARKS.", cn)
			}
		}
		t.Watermark = &Watermark{Column: cn, Expr: w.Expr, Span: w.Span()}
	}
	if t.Watermark != nil {
		cn := t.Watermark.Column
		if t.Column(cn) < 0 {
			sp := t.Watermark.Span
			if len(s.Watermarks) == 1 {
				sp = s.Watermarks[0].Column.Span()
			} else if s.Like != nil {
				sp = s.Like.Span() // the watermark came with LIKE
			}
			e := diag.New(c.src, sp, "The rowtime attribute field '%s' is not defined in the table schema", cn)
			if best, ok := diag.Closest(cn, t.ColumnNames()); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return e
		}
	}
	seen := map[string]bool{}
	for _, o := range s.Options {
		k := o.Key.Value
		if seen[k] {
			return diag.New(c.src, o.Key.Span(), "option '%s' is given twice", k)
		}
		seen[k] = true
		if like != nil && like.strategy["OPTIONS"] == "INCLUDING" {
			if v, ok := t.Options[k]; ok {
				return diag.New(c.src, o.Key.Span(), "There already exists an option ['%s' -> '%s'] in the base table. You might want to specify EXCLUDING OPTIONS or OVERWRITING OPTIONS.", k, v)
			}
		}
		t.Options[k] = o.Value.Value
		t.OptionSpans[k] = o.Key.Span()
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
	if err := checkPartitions(c.src, t, s); err != nil {
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
		// Without a length, Flink's SQL VARCHAR is STRING (VARCHAR of the
		// maximum length), as the Flink nexmark suite's DDL relies on.
		t = types.VarCharType(p(0, types.MaxLength))
	case "CHAR", "CHARACTER":
		t = types.CharType(p(0, 1))
	case "BYTES":
		t = types.BytesType()
	case "VARBINARY", "BINARY VARYING":
		t = types.VarBinaryType(p(0, types.MaxLength)) // as VARCHAR: without a length, BYTES (Flink's SQL default)
	case "BINARY":
		t = types.BinaryType(p(0, 1))
	case "DATE":
		t = types.DateType()
	case "TIMESTAMP":
		t = types.TimestampType(p(0, 6))
	case "TIMESTAMP_LTZ", "TIMESTAMP WITH LOCAL TIME ZONE":
		t = types.TimestampLTZType(p(0, 6))
	case "ARRAY", "MULTISET", "MAP":
		var err error
		if t, err = convertCollection(src, at); err != nil {
			return types.Type{}, err
		}
	case "ROW":
		rt, err := convertRow(src, at)
		if err != nil {
			return types.Type{}, err
		}
		t = rt
	default:
		return types.Type{}, diag.New(src, at.Span(), "column type %s is not supported yet", at.Name)
	}
	if err := t.Validate(); err != nil {
		return types.Type{}, diag.New(src, at.Span(), "%v", err)
	}
	return t.WithNullable(!at.NotNull), nil
}

// convertCollection is ARRAY<T>, MULTISET<T> and MAP<K, V> (also written
// T ARRAY, T MULTISET).
func convertCollection(src string, at *ast.Type) (types.Type, error) {
	elem := func(e *ast.Type) (types.Type, error) {
		if e == nil {
			return types.Type{}, diag.New(src, at.Span(), "%s needs its element type, e.g. %s<STRING>", strings.ToUpper(at.Name), strings.ToUpper(at.Name))
		}
		return ConvertType(src, e)
	}
	switch strings.ToUpper(at.Name) {
	case "ARRAY", "MULTISET":
		e, err := elem(at.Elem)
		if err != nil {
			return types.Type{}, err
		}
		if strings.EqualFold(at.Name, "ARRAY") {
			return types.ArrayType(e), nil
		}
		return types.MultisetType(e), nil
	}
	if at.Key == nil || at.Value == nil {
		return types.Type{}, diag.New(src, at.Span(), "MAP needs its key and value types, e.g. MAP<STRING, BYTES>")
	}
	k, err := ConvertType(src, at.Key)
	if err != nil {
		return types.Type{}, err
	}
	v, err := ConvertType(src, at.Value)
	if err != nil {
		return types.Type{}, err
	}
	return types.MapType(k, v), nil
}
