// Package planner turns a SQL script (CREATE TABLE, SET, INSERT INTO ...
// SELECT, EXPLAIN) into an engine job. Names are resolved against the
// catalog, expressions are typed with sql/types and resolved once with
// sql/functions, then compiled into closures over sql/row; nothing reads
// the syntax tree per record.
//
// A query is planned into a small relational tree (rel.go): table scans,
// calcs (WHERE and projection), window aggregations and UNION ALL, each
// node knowing its output row and its rowtime attribute. FROM reads a
// table, a view, a CTE of WITH or a subquery; a window function's TABLE
// argument a table, view or CTE whose time column is a rowtime attribute
// (a plain column reference passes it through a projection; window_time
// of a window aggregation is one). The tree is lowered to engine streams
// once per node (rel_build.go), so a table read by two branches or two
// INSERTs of a statement set is one engine source.
//
// What runs: INSERT INTO sink SELECT exprs FROM table [WHERE cond] (exprs
// with CAST/TRY_CAST, CASE, IN (list), BETWEEN [SYMMETRIC], LIKE [ESCAPE],
// IS [NOT] NULL/TRUE/FALSE and the registry's functions), and
// window aggregation over TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size)),
// HOP(..., slide, size), CUMULATE(..., step, max size) and
// SESSION(TABLE t [PARTITION BY keys], DESCRIPTOR(ts), gap) GROUP BY
// window_start, window_end[, keys] with the aggregates of
// sql/functions (COUNT, SUM, AVG, MIN, MAX, FIRST_VALUE, LAST_VALUE,
// LISTAGG; DISTINCT and FILTER (WHERE ...) included, and expressions
// over them and the grouped columns) through operators.Window; UNION ALL (columns widened to their common type);
// EXECUTE STATEMENT SET; EXPLAIN; SHOW TABLES, SHOW VIEWS; DESCRIBE.
// Everything else the parser reads is refused by name with its position.
//
// Tables: datagen sources, print, blackhole and filesystem sinks, and
// shardlog (the built-in log) both ways, its records in a sql/format
// format, undecodable ones to an error output (table_log.go,
// docs/sql-tables.md).
//
// Compiled evaluators keep per-call buffers and are not safe for
// concurrent use. Each parallel instance of the calc and cast operators
// compiles its own in Open; where the engine shares one function between
// subtasks (the datagen generator that fills computed columns, a window's
// Aggregator) they take evaluators from a sync.Pool compiled from the
// same, already validated, plan.
package planner

import (
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

func convertType(src string, t *ast.Type) (types.Type, error) { return catalog.ConvertType(src, t) }

// Program is a planned script: its catalog, the INSERTs that make up the
// job, and whether the script asked for EXPLAIN.
type Program struct {
	Catalog *catalog.Catalog
	inserts []*insertPlan
	res     *runResources // opened by Build, closed by Close
	// Explained is set when the script's INSERT was under EXPLAIN.
	Explained bool
	// Output are the lines SHOW TABLES and DESCRIBE print, in order.
	Output []string
	result *row.Layout // a top-level SELECT's rows (select.go)
}

// HasJob reports whether the script has an INSERT to run.
func (p *Program) HasJob() bool { return len(p.inserts) > 0 }

// describe is DESCRIBE t: each column's name, type, nullability, computed
// expression and watermark, as Flink's columns of that table.
func describe(c *compiler, rp *relPlanner, cat *catalog.Catalog, s *ast.Describe) ([]string, error) {
	if v, ok := cat.View(s.Name.Last().Name); ok {
		in, err := rp.view(v, s.Name)
		if err != nil {
			return nil, err
		}
		rows := [][]string{{"name", "type", "null", "extras", "watermark"}}
		for i, n := range in.sc.names {
			typ := in.sc.types[i]
			null := "TRUE"
			if !typ.IsNullable() {
				null = "FALSE"
			}
			rows = append(rows, []string{n, typ.Nullable().String(), null, "", ""})
		}
		return formatRows(rows), nil
	}
	t, err := cat.Lookup(s.Name.Last().Name, s.Name.Span())
	if err != nil {
		return nil, err
	}
	sc := &scope{}
	for _, col := range t.Columns {
		if col.Expr == nil {
			sc.names = append(sc.names, col.Name)
			sc.types = append(sc.types, col.Type)
		}
	}
	colTypes := map[string]types.Type{}
	for i, col := range t.Columns {
		if col.Expr != nil {
			x, err := c.compile(col.Expr, sc)
			if err != nil {
				return nil, err
			}
			t.Columns[i].Type = x.typ
			sc.names = append(sc.names, col.Name)
			sc.types = append(sc.types, x.typ)
		}
		colTypes[col.Name] = t.Columns[i].Type
	}
	rows := [][]string{{"name", "type", "null", "extras", "watermark"}}
	for _, col := range t.Columns {
		typ := colTypes[col.Name]
		null := "TRUE"
		if !typ.IsNullable() {
			null = "FALSE"
		}
		extras, wm := "", ""
		if col.Expr != nil {
			extras = "AS " + ast.Format(col.Expr)
		} else if col.Metadata != "" {
			extras = metadataExtras(col)
		}
		tn := typ.Nullable().String()
		if t.Watermark != nil && t.Watermark.Column == col.Name {
			wm = ast.Format(t.Watermark.Expr)
			tn += " *ROWTIME*"
		}
		rows = append(rows, []string{col.Name, tn, null, extras, wm})
	}
	if t.PrimaryKey != nil {
		withKeyColumn(rows, t)
	}
	return formatRows(rows), nil
}

// formatRows lays rows out in columns separated by " | ".
func formatRows(rows [][]string) []string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, f := range r {
			widths[i] = max(widths[i], len(f))
		}
	}
	var out []string
	for _, r := range rows {
		var b strings.Builder
		for i, f := range r {
			if i > 0 {
				b.WriteString(" | ")
			}
			fmt.Fprintf(&b, "%-*s", widths[i], f)
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}

// Plan parses and plans a script. Errors are *diag.Error with positions.
func Plan(src string) (*Program, error) { return PlanWith(src, Extensions{}) }

// PlanWith is Plan with what an embedding program adds (embed.go).
func PlanWith(src string, ext Extensions) (*Program, error) {
	stmts, err := parser.Parse(src)
	if err != nil {
		return nil, err
	}
	p := &Program{Catalog: catalog.New(src)}
	c := &compiler{src: src, reg: functions.Builtins(), ctx: &functions.Context{}}
	rp := newRelPlanner(c, p.Catalog)
	if err := ext.apply(p, c, rp); err != nil {
		return nil, err
	}
	for _, st := range stmts {
		if ok, err := p.Catalog.Exec(st); ok {
			if err != nil {
				return nil, err
			}
			rp.gen++
			if cv, ok := st.(*ast.CreateView); ok {
				// A view's query is checked where it is created, as
				// Flink's; IF NOT EXISTS may have kept an older one.
				if v, ok := p.Catalog.View(cv.Name.Last().Name); ok && v.Query == cv.Query {
					if _, err := rp.view(v, cv.Name); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		if ex, ok := st.(*ast.Explain); ok {
			p.Explained = true
			st = ex.Stmt
		}
		if ex, ok := st.(*ast.Execute); ok {
			st = ex.Stmt
		}
		switch s := st.(type) {
		case *ast.Show:
			if (s.What != "TABLES" && s.What != "VIEWS") || s.Name != nil || s.Like != nil {
				return nil, diag.New(src, s.Span(), "SHOW %s is not supported yet (SHOW TABLES and SHOW VIEWS are)", s.What)
			}
			// As Flink's, SHOW TABLES lists the views too.
			names := p.Catalog.ViewNames()
			if s.What == "TABLES" {
				names = append(names, p.Catalog.TableNames()...)
				slices.Sort(names)
			}
			p.Output = append(p.Output, names...)
			continue
		case *ast.Describe:
			lines, err := describe(c, rp, p.Catalog, s)
			if err != nil {
				return nil, err
			}
			p.Output = append(p.Output, lines...)
			continue
		case *ast.Insert:
			ip, err := rp.planInsert(s)
			if err != nil {
				return nil, err
			}
			p.inserts = append(p.inserts, ip)
		case *ast.CreateStream:
			if err := rp.createStream(s); err != nil {
				return nil, err
			}
			continue
		case *ast.CreatePump:
			ip, err := rp.createPump(s)
			if err != nil {
				return nil, err
			}
			if ip != nil {
				p.inserts = append(p.inserts, ip)
			}
		case *ast.QueryStmt:
			if err := p.planSelect(rp, s); err != nil {
				return nil, err
			}
		case *ast.StatementSet:
			for _, in := range s.Inserts {
				ip, err := rp.planInsert(in)
				if err != nil {
					return nil, err
				}
				p.inserts = append(p.inserts, ip)
			}
		default:
			return nil, diag.New(src, st.Span(), "%s is not supported yet", stmtName(st))
		}
	}
	if err := rp.checkStreams(); err != nil {
		return nil, err
	}
	if len(p.inserts) == 0 && len(p.Output) == 0 {
		return nil, ErrNoJob
	}
	return p, nil
}

func stmtName(st ast.Statement) string {
	n := fmt.Sprintf("%T", st)
	return strings.ToUpper(strings.TrimPrefix(n, "*ast.")) + " statement"
}

// Config is the engine configuration the script's SET statements give.
func (p *Program) Config() (engine.Config, error) {
	cfg := engine.Config{}
	s := p.Catalog.Settings
	if v, ok := s["parallelism.default"]; ok {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
			return cfg, fmt.Errorf("SET 'parallelism.default' = '%s': want a positive integer", v)
		}
		cfg.Parallelism = n
	}
	if v, ok := s["execution.checkpointing.interval"]; ok {
		d, err := parseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("SET 'execution.checkpointing.interval' = '%s': %w", v, err)
		}
		cfg.Checkpoint.Interval = d
	}
	n, err := p.numRetained()
	if err != nil {
		return cfg, err
	}
	cfg.Checkpoint.Retain = n
	r, err := engine.RestartFromOptions(s)
	if err != nil {
		return cfg, fmt.Errorf("SET %w", err)
	}
	cfg.Restart = r
	return cfg, nil
}

// JobName is pipeline.name, or def.
func (p *Program) JobName(def string) string {
	if n, ok := p.Catalog.Settings["pipeline.name"]; ok {
		return n
	}
	return def
}

// parseDuration reads Flink's duration forms: 10s, 1 min, 500 ms, 10000.
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(strings.ReplaceAll(v, " ", "")); err == nil {
		return d, nil
	}
	var n int64
	var unit string
	if k, _ := fmt.Sscanf(v, "%d%s", &n, &unit); k < 1 {
		return 0, fmt.Errorf("not a duration")
	}
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "", "ms", "milli", "millis":
		return time.Duration(n) * time.Millisecond, nil
	case "s", "sec", "second", "seconds":
		return time.Duration(n) * time.Second, nil
	case "min", "minute", "minutes":
		return time.Duration(n) * time.Minute, nil
	case "h", "hour", "hours":
		return time.Duration(n) * time.Hour, nil
	}
	return 0, fmt.Errorf("unknown unit %q", unit)
}

// RunOptions are where the job's print output goes and where its data
// lives.
type RunOptions struct {
	// Stdout and Stderr receive the print connector's rows.
	Stdout, Stderr io.Writer
	// DataDir is the run's data directory: shardlog tables keep their log
	// in DataDir/log unless they set 'log.path', and records that do not
	// decode go to DataDir/errors/<table> unless 'error.path' is set.
	DataDir string
	// LogClock is the clock of the logs the program opens (arrival
	// times, retention); default the wall clock. Tests set a manual one.
	LogClock shardlog.Clock

	// Tap, when set, is applied to the stream of every table read, before
	// any operator of the query: tests inject failures there, embedders
	// observe rows (a tap must not keep or change the rows it passes on).
	Tap func(table string, s *engine.Stream[*row.Row]) *engine.Stream[*row.Row]
	// SinkTo, when set, is asked for each INSERT's sink table first: a
	// non-nil sink takes the INSERT's rows (each a copy it may keep)
	// instead of the table's connector, e.g. an engine.TxCollect that
	// tests read exactly once.
	SinkTo func(table string) engine.Sink[*row.Row]
	// Source, StreamTo and BadRows connect a program to an embedding
	// program's streams (embed.go): the stream of a table whose factory
	// is an ExternalSource; a sink table's rows taken as a stream (true:
	// taken, no sink built); each calc's error output.
	Source   func(table string) (*engine.Stream[*row.Row], error)
	StreamTo func(table string, s *engine.Stream[*row.Row]) bool
	BadRows  func(operator string, s *engine.Stream[BadRow])
	// Logs are logs the embedder already holds open, by directory (a
	// log's directory is locked by the process that opens it): a
	// shardlog table whose log is in one of them uses it, and Close
	// leaves it open. `sluice serve` passes its own log this way.
	Logs map[string]*shardlog.Log

	res *runResources
}

// Build adds every INSERT's pipeline to j.
func (p *Program) Build(j *engine.Job, o RunOptions) error {
	// One lock per writer, shared by every print sink of the job (a
	// statement set may print twice to one writer).
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	out := &lockedWriter{w: o.Stdout}
	errw := out
	if !sameWriter(o.Stderr, o.Stdout) {
		errw = &lockedWriter{w: o.Stderr}
	}
	o.Stdout, o.Stderr = out, errw
	if p.res == nil {
		p.res = &runResources{clock: o.LogClock}
		for dir, l := range o.Logs {
			if p.res.shared == nil {
				p.res.shared = map[string]*shardlog.Log{}
			}
			p.res.shared[filepath.Clean(dir)] = l
		}
	}
	o.res = p.res
	if err := p.prepareLogs(o); err != nil {
		return err
	}
	l := &lowering{j: j, o: o, streams: map[*relNode]*engine.Stream[*row.Row]{}}
	l.countConsumers(p.inserts)
	for _, ip := range p.inserts {
		if err := ip.build(l, o); err != nil {
			return err
		}
	}
	return nil
}

// Close releases what Build opened (the logs of shardlog tables, error
// outputs). Call it once the job has ended.
func (p *Program) Close() error {
	if p.res == nil {
		return nil
	}
	return p.res.close()
}

// Explain is the logical plan of each INSERT and the engine operators it
// becomes.
func (p *Program) Explain() string {
	var b strings.Builder
	cfg, _ := p.Config()
	par := max(1, cfg.Parallelism)
	for i, ip := range p.inserts {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("== Logical plan ==\n")
		for _, l := range ip.logical {
			b.WriteString(l)
			b.WriteString("\n")
		}
		b.WriteString("== Engine job ==\n")
		for _, l := range ip.physical {
			fmt.Fprintf(&b, "%s parallelism=%d\n", l, par)
		}
	}
	return b.String()
}

// row layouts of a plan carry their column names for EXPLAIN and JSON.
func layoutOf(names []string, ts []types.Type) *row.Layout { return row.NewLayout(ts, names) }

func layoutNames(l *row.Layout) []string {
	ns := make([]string, l.Len())
	for i := range ns {
		ns[i] = l.Name(i)
	}
	return ns
}

// sameWriter reports whether a and b are one writer. Comparing two
// interfaces that hold one uncomparable type (a func or a map writer)
// panics; such writers are taken as different.
func sameWriter(a, b io.Writer) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}
