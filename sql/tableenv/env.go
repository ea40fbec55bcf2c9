// Package tableenv is SQL inside a Go engine job, as Flink's
// StreamTableEnvironment: Go functions registered for SQL (scalar,
// aggregate and table functions, typed with generics and checked when
// registered), a Go engine.Stream registered as a table, and a query's
// result taken back as a typed engine.Stream or a changelog stream. The
// Go streams, the SQL operators and the Go operators after them are one
// engine job: one checkpoint covers them all.
//
// Go types map to SQL types as bool BOOLEAN, int32 INT, int64 BIGINT,
// float64 DOUBLE, string STRING, time.Time TIMESTAMP_LTZ(3) — each NOT
// NULL — and a pointer to one of them to the nullable type; anything else
// is refused where it is registered. A struct's columns are its exported
// fields, named by a `sql:"name"` tag or the field's name.
//
// See docs/sql-interop.md for what differs from Flink.
package tableenv

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Options configure an Env.
type Options struct {
	// DataDir is the data directory of the scripts' own tables (see
	// planner.RunOptions.DataDir); "" when they use none.
	DataDir string
	// Stdout receives the rows of print tables the scripts write to.
	Stdout io.Writer
}

// Env plans SQL into one engine job. It is not safe for concurrent use:
// register, then query, from one goroutine, before the job starts.
type Env struct {
	job     *engine.Job
	opts    Options
	reg     *functions.Registry
	tables  []*catalog.Table
	convs   map[string]func() *engine.Stream[*row.Row] // a Go stream table's conversion, made on first read
	streams map[string]*engine.Stream[*row.Row]
	tfuncs  map[string]*planner.TableFunc
	used    map[string]bool
	bad     []*engine.Stream[BadRow]
	progs   []*planner.Program
}

// BadRow is a row a Go function failed on (returned an error or
// panicked): it went to its operator's error output, and the job went
// on.
type BadRow = planner.BadRow

// New is an Env that builds into job j.
func New(j *engine.Job, o Options) *Env {
	return &Env{job: j, opts: o, reg: functions.Builtins().Clone(), convs: map[string]func() *engine.Stream[*row.Row]{},
		streams: map[string]*engine.Stream[*row.Row]{}, tfuncs: map[string]*planner.TableFunc{}, used: map[string]bool{}}
}

// TableOption configures a table from a Go stream.
type TableOption func(*tableConfig) error

type tableConfig struct{ rowtime string }

// Rowtime adds column name, TIMESTAMP_LTZ(3) NOT NULL, holding each
// record's engine timestamp; it is the table's rowtime attribute, and the
// stream's own watermarks are the table's (Flink's SOURCE_WATERMARK()).
func Rowtime(name string) TableOption {
	return func(c *tableConfig) error {
		if name == "" {
			return errors.New("tableenv: Rowtime needs a column name")
		}
		c.rowtime = name
		return nil
	}
}

// streamFactory is the "factory" of a Go stream's table: the planner
// reads it from RunOptions.Source.
type streamFactory struct{}

func (streamFactory) Name() string                   { return "datastream" }
func (streamFactory) Options() []catalog.OptionSpec  { return nil }
func (streamFactory) Check(*catalog.Validator) error { return nil }
func (streamFactory) ExternalSource()                {}

// FromStream registers s as table name: one column per exported field of
// T (T a struct), plus the rowtime column of a Rowtime option.
func FromStream[T any](e *Env, name string, s *engine.Stream[T], opts ...TableOption) error {
	var cfg tableConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return err
		}
	}
	if err := e.checkName(name); err != nil {
		return err
	}
	fs, err := schemaOf(reflect.TypeFor[T]())
	if err != nil {
		return fmt.Errorf("tableenv: table %s: %w", name, err)
	}
	t := &catalog.Table{Name: name, Factory: streamFactory{}, Options: map[string]string{}}
	for _, f := range fs {
		t.Columns = append(t.Columns, catalog.Column{Name: f.name, Type: f.sql})
	}
	rt := -1
	if cfg.rowtime != "" {
		if t.Column(cfg.rowtime) >= 0 {
			return fmt.Errorf("tableenv: table %s: the rowtime column %q is also a field's column", name, cfg.rowtime)
		}
		rt = len(t.Columns)
		t.Columns = append(t.Columns, catalog.Column{Name: cfg.rowtime, Type: types.TimestampLTZType(3).AsNotNull()})
		t.Watermark = &catalog.Watermark{Column: cfg.rowtime, Expr: &ast.FuncCall{Name: &ast.Name{Parts: []*ast.Ident{{Name: "SOURCE_WATERMARK"}}}}}
	}
	names := t.ColumnNames()
	colTypes := make([]types.Type, len(t.Columns))
	for i, c := range t.Columns {
		colTypes[i] = c.Type
	}
	if rt >= 0 {
		colTypes[rt] = colTypes[rt].WithAttr(types.Rowtime)
	}
	layout := row.NewLayout(colTypes, names)
	conv := name + "-to-sql"
	e.used[conv] = true
	e.tables = append(e.tables, t)
	e.convs[name] = func() *engine.Stream[*row.Row] {
		return engine.Process[T, *row.Row](s, conv, engine.ProcessFunc[T, *row.Row](func(v T, ctx *engine.Context[*row.Row]) error {
			rv := reflect.ValueOf(v)
			r := layout.New()
			for i, f := range fs {
				functions.Write(r, i, f.toV(rv.Field(f.index)))
			}
			if rt >= 0 {
				r.SetTimestamp(rt, row.TimestampFromMillis(ctx.Timestamp()))
			}
			ctx.Emit(r)
			return nil
		}))
	}
	return nil
}

func (e *Env) checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "`\"' ") {
		return fmt.Errorf("tableenv: table name %q: want an identifier", name)
	}
	for _, t := range e.tables {
		if t.Name == name {
			return fmt.Errorf("tableenv: table %s is already registered", name)
		}
	}
	return nil
}

// source is RunOptions.Source: each Go stream table's rows, converted
// once however many queries read it.
func (e *Env) source(table string) (*engine.Stream[*row.Row], error) {
	if s, ok := e.streams[table]; ok {
		return s, nil
	}
	conv, ok := e.convs[table]
	if !ok {
		return nil, fmt.Errorf("no Go stream is registered as table %s", table)
	}
	s := conv()
	e.streams[table] = s
	return s, nil
}

// plan plans a script whose one top-level SELECT is the result, and
// builds it into the job; the SELECT's rows are returned as a stream.
func (e *Env) plan(script string) (*planner.Program, *row.Layout, func() (*engine.Stream[*row.Row], error), error) {
	// The names the plan takes become the job's only once it is built:
	// a refused query leaves the next one's names (its state's uids) as
	// they would be without it.
	used := maps.Clone(e.used)
	p, err := planner.PlanWith(script, planner.Extensions{Functions: e.reg, Tables: e.tables, TableFuncs: maps.Clone(e.tfuncs), Used: used})
	if err != nil {
		return nil, nil, nil, err
	}
	if n := p.Selects(); n != 1 {
		return nil, nil, nil, fmt.Errorf("tableenv: the script has %d top-level SELECTs: want one, whose rows become the stream", n)
	}
	build := func() (*engine.Stream[*row.Row], error) {
		var res *engine.Stream[*row.Row]
		o := planner.RunOptions{
			DataDir: e.opts.DataDir,
			Stdout:  e.opts.Stdout,
			Source:  e.source,
			StreamTo: func(table string, s *engine.Stream[*row.Row]) bool {
				if table != planner.ResultTable {
					return false
				}
				res = s
				return true
			},
			BadRows: func(_ string, s *engine.Stream[planner.BadRow]) { e.bad = append(e.bad, s) },
		}
		if err := p.Build(e.job, o); err != nil {
			return nil, err
		}
		e.used = used
		e.progs = append(e.progs, p)
		return res, nil
	}
	return p, p.Result(), build, nil
}

// outName is a free operator name for a result's conversion.
func (e *Env) outName(base string) string {
	for k := 1; ; k++ {
		n := base
		if k > 1 {
			n = fmt.Sprintf("%s#%d", base, k)
		}
		if !e.used[n] {
			e.used[n] = true
			return n
		}
	}
}

// resultFields matches the query's columns to T's fields by name: a
// column without a field, a field without a column and a column of
// another type are errors naming them.
func resultFields[T any](p *planner.Program, l *row.Layout) ([]field, []int, error) {
	t := reflect.TypeFor[T]()
	fs, err := schemaOf(t)
	if err != nil {
		return nil, nil, err
	}
	cols := map[string]int{}
	for i := range l.Len() {
		cols[l.Name(i)] = i
	}
	byName := map[string]bool{}
	idx := make([]int, len(fs))
	for k, f := range fs {
		byName[f.name] = true
		i, ok := cols[f.name]
		if !ok {
			return nil, nil, p.ResultError("the query has no column '%s' for field %s.%s (its columns: %s)", f.name, t, t.Field(f.index).Name, strings.Join(layoutNames(l), ", "))
		}
		if ct := l.Type(i); !f.accepts(ct) {
			hint := ""
			if ct.IsNullable() && !f.sql.IsNullable() {
				hint = fmt.Sprintf(" (a nullable column needs a pointer field: *%s)", f.t)
			}
			return nil, nil, p.ResultError("column '%s' of the query is %s, which field %s.%s (%s, SQL %s) cannot hold%s", f.name, ct.WithAttr(types.Regular), t, t.Field(f.index).Name, f.t, f.sql, hint)
		}
		idx[k] = i
	}
	for i := range l.Len() {
		if !byName[l.Name(i)] {
			return nil, nil, p.ResultError("column '%s' of the query has no field in %s: add a field (or a `sql:\"%s\"` tag), or leave the column out of the SELECT", l.Name(i), t, l.Name(i))
		}
	}
	return fs, idx, nil
}

func layoutNames(l *row.Layout) []string {
	ns := make([]string, l.Len())
	for i := range ns {
		ns[i] = l.Name(i)
	}
	return ns
}

// decoder reads a result row into a T.
func decoder[T any](fs []field, idx []int) func(r *row.Row) T {
	return func(r *row.Row) T {
		var v T
		rv := reflect.ValueOf(&v).Elem()
		for k, f := range fs {
			rv.Field(f.index).Set(f.from(functions.Read(r, idx[k])))
		}
		return v
	}
}

// anonymousSink is Flink's name of toDataStream's sink in its errors.
const anonymousSink = "*anonymous_datastream_sink$1*"

// ToStream plans script (DDL and SETs, then one SELECT) over the
// registered tables and functions and returns the SELECT's rows as
// values of T: each column goes to the field of its name, checked here.
// An updating query (GROUP BY without a window, a regular join, ...) is
// refused as Flink refuses it: use ToChangelogStream.
func ToStream[T any](e *Env, script string) (*engine.Stream[T], error) {
	p, l, build, err := e.plan(script)
	if err != nil {
		return nil, err
	}
	if err := p.RefuseUpdates(anonymousSink, "take the query's result with ToChangelogStream, or make the query append-only (a window aggregation instead of GROUP BY)"); err != nil {
		return nil, err
	}
	fs, idx, err := resultFields[T](p, l)
	if err != nil {
		return nil, err
	}
	s, err := build()
	if err != nil {
		return nil, err
	}
	dec := decoder[T](fs, idx)
	return engine.Map(s, e.outName("sql-to-go"), dec), nil
}

// Kind is a changelog row's kind: Insert (+I), UpdateBefore (-U),
// UpdateAfter (+U) or Delete (-D).
type Kind = row.Kind

// The changelog kinds.
const (
	Insert       = row.Insert
	UpdateBefore = row.UpdateBefore
	UpdateAfter  = row.UpdateAfter
	Delete       = row.Delete
)

// Change is one row of a changelog stream.
type Change[T any] struct {
	Kind Kind
	Row  T
}

// ToChangelogStream is ToStream for any query, updating ones included:
// each row with its kind, as Flink's toChangelogStream.
func ToChangelogStream[T any](e *Env, script string) (*engine.Stream[Change[T]], error) {
	p, l, build, err := e.plan(script)
	if err != nil {
		return nil, err
	}
	fs, idx, err := resultFields[T](p, l)
	if err != nil {
		return nil, err
	}
	s, err := build()
	if err != nil {
		return nil, err
	}
	dec := decoder[T](fs, idx)
	return engine.Map(s, e.outName("sql-to-go-changelog"), func(r *row.Row) Change[T] {
		return Change[T]{Kind: r.Kind, Row: dec(r)}
	}), nil
}

// Errors is the union of the error outputs of the operators built so
// far (call it after the queries): the rows Go functions failed on. nil
// when no operator has one.
func (e *Env) Errors() *engine.Stream[BadRow] {
	if len(e.bad) == 0 {
		return nil
	}
	return engine.Union(e.bad[0], e.bad[1:]...)
}

// Close releases what the queries' own tables opened; call it once the
// job has ended.
func (e *Env) Close() error {
	var errs []error
	for _, p := range e.progs {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// Explain is the plan ToStream would build for script, without building
// it: the logical plan and the engine operators, as EXPLAIN prints them.
func (e *Env) Explain(script string) (string, error) {
	p, err := planner.PlanWith(script, planner.Extensions{Functions: e.reg, Tables: e.tables, TableFuncs: maps.Clone(e.tfuncs), Used: maps.Clone(e.used)})
	if err != nil {
		return "", err
	}
	return p.Explain(), nil
}
