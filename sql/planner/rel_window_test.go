package planner

import (
	"testing"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/parser"
)

// TestReplaceNodes: aggregate calls deep in an expression (CASE, a
// function's arguments) are replaced by their columns in a copy; the
// original expression is left as it was.
func TestReplaceNodes(t *testing.T) {
	stmts, err := parser.Parse("SELECT CASE WHEN COUNT(*) > 3 THEN UPPER(k) ELSE CAST(SUM(v) AS STRING) END FROM t")
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].(*ast.QueryStmt).Query.Body.(*ast.Select)
	e := sel.Items[0].Expr
	before := ast.Format(e)
	repl := map[ast.Node]ast.Expr{}
	ast.Inspect(e, func(n ast.Node) bool {
		if f, ok := n.(*ast.FuncCall); ok && (f.Name.Last().Name == "COUNT" || f.Name.Last().Name == "SUM") {
			repl[f] = &ast.Name{Parts: []*ast.Ident{{Name: "$" + f.Name.Last().Name}}}
			return false
		}
		return true
	})
	if len(repl) != 2 {
		t.Fatalf("found %d aggregate calls, want 2", len(repl))
	}
	got := ast.Format(replaceNodes(e, repl))
	if want := "CASE WHEN `$COUNT` > 3 THEN UPPER(k) ELSE CAST(`$SUM` AS STRING) END"; got != want {
		t.Fatalf("replaced: %s\nwant:     %s", got, want)
	}
	if after := ast.Format(e); after != before {
		t.Fatalf("the original changed: %s, was %s", after, before)
	}
	if replaceNodes(e, nil) != e {
		t.Fatal("nothing to replace must give the expression itself")
	}
}
