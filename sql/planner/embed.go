package planner

import (
	"fmt"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Extensions are what an embedding Go program (package sql/tableenv)
// adds to a script: its functions, its streams as tables, and the engine
// operator names its other programs in the same job took.
type Extensions struct {
	// Functions replaces the built-in registry (a functions.Registry
	// Clone with the program's functions added); nil keeps Builtins.
	Functions *functions.Registry
	// Tables are registered before the script's statements. A table
	// whose Factory is an ExternalSource is read from
	// RunOptions.Source; its Watermark column, if any, is its rowtime
	// attribute, filled from the records' timestamps, with the stream's
	// own watermarks.
	Tables []*catalog.Table
	// TableFuncs are the table functions LATERAL TABLE(f(...)) calls
	// (rel_lateral.go), by upper-case name.
	TableFuncs map[string]*TableFunc
	// Used are the engine operator names taken in the job: the program
	// adds its own, so that two programs built into one job never share
	// an operator name (an operator's name is its state's uid). nil: the
	// program is the job's only one.
	Used map[string]bool
}

// ExternalSource marks the factory of a table whose rows come from the
// embedding program's stream (RunOptions.Source) rather than a connector.
type ExternalSource interface {
	catalog.Factory
	ExternalSource()
}

func (e Extensions) apply(p *Program, c *compiler, rp *relPlanner) error {
	if e.Functions != nil {
		c.reg = e.Functions
	}
	for _, t := range e.Tables {
		if err := p.Catalog.Register(t); err != nil {
			return err
		}
	}
	if e.Used != nil {
		rp.used = e.Used
	}
	rp.tableFuncs = e.TableFuncs
	return nil
}

// planExternalSource is an embedding program's table: every column
// physical, the watermark column the rowtime attribute.
func planExternalSource(t *catalog.Table) *sourcePlan {
	sc := &scope{}
	for _, col := range t.Columns {
		sc.names = append(sc.names, col.Name)
		sc.types = append(sc.types, col.Type)
	}
	sp := &sourcePlan{table: t, sc: sc, rowtime: -1}
	if t.Watermark != nil {
		i := sc.index(t.Watermark.Column)
		sp.rowtime = i
		sc.types[i] = sc.types[i].WithAttr(types.Rowtime)
	}
	sp.layout = layoutOf(sc.names, sc.types)
	sp.computed = newPooled(func() (func(*row.Row) error, error) { return func(*row.Row) error { return nil }, nil })
	return sp
}

// externalScan is the stream of an ExternalSource table, nil for any
// other table.
func (l *lowering) externalScan(n *relNode) (*engine.Stream[*row.Row], error) {
	t := n.src.table
	if _, ok := t.Factory.(ExternalSource); !ok {
		return nil, nil
	}
	if l.o.Source == nil {
		return nil, fmt.Errorf("table %s is a Go stream's: the program must be built with RunOptions.Source", t.Name)
	}
	s, err := l.o.Source(t.Name)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	return s, nil
}

// BadRow is a row an operator sent to its error output: a function
// registered from Go failed on it (returned an error or panicked).
type BadRow struct {
	Operator string // the engine operator
	Row      string // the input row's print form, +I[...]
	Err      string
}

// BadRowTag is the side output of a calc's (and a table function's)
// bad rows.
var BadRowTag = engine.NewOutputTag[BadRow]("sql-bad-rows")

// CounterBadRows counts an operator's bad rows.
const CounterBadRows = "error_records"

// reject sends in to the error output when err is a Go function's
// failure (functions.UserError), reporting whether it did; any other
// error fails the job as before.
func (p *rowProcess) reject(in *row.Row, ctx *engine.Context[*row.Row], err error) bool {
	if !functions.IsUserError(err) {
		return false
	}
	sendBad(ctx, p.name, in, err)
	return true
}

func sendBad[Out any](ctx *engine.Context[Out], op string, in *row.Row, err error) {
	BadRowTag.Emit(ctx, BadRow{Operator: op, Row: in.String(), Err: err.Error()})
	ctx.Operator().Counter(CounterBadRows).Inc()
}

// badRows hands the error output of operator op (stream s) to
// RunOptions.BadRows.
func (l *lowering) badRows(op string, s *engine.Stream[*row.Row]) {
	if l.o.BadRows != nil {
		l.o.BadRows(op, engine.SideOutput(s, BadRowTag))
	}
}

// ResultChangelog reports whether the script's top-level SELECT makes
// updates, and the node that makes them.
func (p *Program) ResultChangelog() (updates bool, producer string) {
	for _, ip := range p.inserts {
		if ip.sink.Name == ResultTable {
			m := ip.root.changelog()
			return m.updates, m.producer
		}
	}
	return false, ""
}

// Selects counts the script's top-level SELECTs.
func (p *Program) Selects() int {
	n := 0
	for _, ip := range p.inserts {
		if ip.sink.Name == ResultTable {
			n++
		}
	}
	return n
}

// resultPlan is the script's top-level SELECT.
func (p *Program) resultPlan() *insertPlan {
	for _, ip := range p.inserts {
		if ip.sink.Name == ResultTable {
			return ip
		}
	}
	return nil
}

// ResultError is an error at the script's top-level SELECT.
func (p *Program) ResultError(format string, args ...any) error {
	ip := p.resultPlan()
	if ip == nil {
		return fmt.Errorf(format, args...)
	}
	return diag.New(p.Catalog.Source(), ip.sink.Span, format, args...)
}

// RefuseUpdates is the error for the top-level SELECT's updating result
// taken by an append-only consumer named sink (Flink's message for an
// append-only sink), nil when the result appends.
func (p *Program) RefuseUpdates(sink, hint string) error {
	updates, producer := p.ResultChangelog()
	if !updates {
		return nil
	}
	e := diag.New(p.Catalog.Source(), p.resultPlan().sink.Span, "Table sink '%s' doesn't support consuming update and delete changes which is produced by node %s", sink, producer)
	e.Hint = hint
	return e
}

// externalDesc is an embedding program's table's line in EXPLAIN.
func externalDesc(sp *sourcePlan) string {
	if sp.rowtime >= 0 {
		return fmt.Sprintf("a Go stream, its records' timestamps as %s, its own watermarks", sp.sc.names[sp.rowtime])
	}
	return "a Go stream"
}
