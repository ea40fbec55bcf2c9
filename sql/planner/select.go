package planner

import (
	"errors"
	"slices"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/row"
)

// ResultTable is the sink a top-level SELECT writes to: a print sink of
// the query's columns, named so that no declared table can clash with it
// (a quoted identifier could: a query beside such a table is refused). An
// interactive client takes its rows with RunOptions.SinkTo(ResultTable);
// otherwise they are printed on RunOptions.Stdout in their changelog
// print form, as Flink's SQL client prints a query's result.
const ResultTable = "$result"

// ErrNoJob is Plan's error for a script with nothing to run or show (no
// INSERT, query, SHOW or DESCRIBE): DDL and SETs alone.
var ErrNoJob = errors.New("the script has no INSERT INTO: nothing to run")

// planSelect plans a query statement (SELECT, VALUES, WITH ...) as one
// INSERT of the program into the result sink.
func (p *Program) planSelect(rp *relPlanner, s *ast.QueryStmt) error {
	if slices.Contains(p.Catalog.TableNames(), ResultTable) {
		return diag.New(rp.c.src, s.Span(), "a query cannot run beside a table named '%s', the name of its result", ResultTable)
	}
	root, err := rp.query(s.Query)
	if err != nil {
		return err
	}
	names := layoutNames(root.layout)
	t := &catalog.Table{Name: ResultTable, Factory: catalog.Print{}, Options: map[string]string{}, Span: s.Span()}
	for i, n := range names {
		t.Columns = append(t.Columns, catalog.Column{Name: n, Type: root.layout.Type(i)})
	}
	ip := &insertPlan{c: rp.c, sink: t, root: root, sinkL: root.layout}
	if v, ok := p.Catalog.Settings["table.exec.source.idle-timeout"]; ok {
		if ip.idle, err = parseDuration(v); err != nil {
			return err
		}
	}
	rp.nameInsert(ip)
	p.inserts = append(p.inserts, ip)
	p.result = root.layout
	return nil
}

// Result is the layout of the rows of the script's top-level SELECT (its
// column names and types), or nil when the script has none.
func (p *Program) Result() *row.Layout { return p.result }
