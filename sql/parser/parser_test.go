package parser

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// TestParse runs the scripts in testdata. Directives:
//
//	parse [ast]  the script parses; prints it back as canonical SQL (and,
//	             with ast, the tree). Every parse also checks the round
//	             trip: parsing the printed SQL gives the same tree, and
//	             printing that gives the same SQL.
//	error        the script fails to parse; prints the rendered error(s).
//	expr [ast]   ParseExpr, printed back (round trip checked too).
//	type         ParseType, printed back.
//	spans        the span of every node of the (single) statement.
func TestParse(t *testing.T) {
	datadriven.Walk(t, "testdata/parse", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse":
				stmts, err := Parse(d.Input)
				if err != nil {
					t.Fatalf("%s: %v", d.Pos, err)
				}
				checkRoundTrip(t, d.Pos, d.Input, stmts)
				for _, st := range stmts {
					checkSpans(t, d.Input, st)
				}
				out := ast.FormatScript(stmts)
				if d.HasArg("ast") {
					for _, s := range stmts {
						out += ast.Dump(s)
					}
				}
				return out
			case "error":
				stmts, err := Parse(d.Input)
				if err == nil {
					t.Fatalf("%s: expected an error, parsed %s", d.Pos, ast.FormatScript(stmts))
				}
				checkErrorPositions(t, d.Input, err)
				return err.Error() + "\n"
			case "expr":
				e, err := ParseExpr(d.Input)
				if err != nil {
					return err.Error() + "\n"
				}
				out := ast.Format(e)
				e2, err := ParseExpr(out)
				if err != nil {
					t.Fatalf("%s: printed %q does not parse: %v", d.Pos, out, err)
				}
				if a, b := ast.Dump(e), ast.Dump(e2); a != b {
					t.Fatalf("%s: round trip of %q changed the tree:\n%s\nvs\n%s", d.Pos, out, a, b)
				}
				out += "\n"
				if d.HasArg("ast") {
					out += ast.Dump(e)
				}
				return out
			case "type":
				ty, err := ParseType(d.Input)
				if err != nil {
					return err.Error() + "\n"
				}
				return ast.Format(ty) + "\n"
			case "spans":
				s, err := ParseStatement(d.Input)
				if err != nil {
					t.Fatalf("%s: %v", d.Pos, err)
				}
				return ast.DumpSpans(s, d.Input)
			}
			t.Fatalf("%s: unknown directive %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

// checkRoundTrip requires parse(print(stmts)) to equal stmts and printing
// to be stable.
func checkRoundTrip(t testing.TB, where, src string, stmts []ast.Statement) {
	t.Helper()
	printed := ast.FormatScript(stmts)
	again, err := Parse(printed)
	if err != nil {
		t.Fatalf("%s: the printed form of %q does not parse:\n%s\n%v", where, src, printed, err)
	}
	if len(again) != len(stmts) {
		t.Fatalf("%s: %d statements printed as %d", where, len(stmts), len(again))
	}
	for i := range stmts {
		if a, b := ast.Dump(stmts[i]), ast.Dump(again[i]); a != b {
			t.Fatalf("%s: round trip changed statement %d of %q\nprinted: %s\n%s", where, i, src, printed, firstDifference(a, b))
		}
	}
	if p2 := ast.FormatScript(again); p2 != printed {
		t.Fatalf("%s: printing is not stable:\n%s\n%s", where, printed, p2)
	}
}

// firstDifference shows where two dumps part, with the lines before.
func firstDifference(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			from := max(0, i-12)
			return fmt.Sprintf("before:\n%s\n> %s\nafter:\n> %s", strings.Join(la[from:i], "\n"), la[i], lb[i])
		}
	}
	return fmt.Sprintf("one dump is a prefix of the other (%d vs %d lines)", len(la), len(lb))
}

// checkSpans requires every node's span to be set, to lie within the
// input and within its parent's span, and to agree with its offsets.
func checkSpans(t testing.TB, src string, root ast.Node) {
	t.Helper()
	var stack []ast.Node
	var visit func(n ast.Node)
	visit = func(n ast.Node) {
		sp := n.Span()
		if !sp.IsValid() || sp.Start.Offset > sp.End.Offset || sp.End.Offset > len(src) {
			t.Fatalf("%T has a bad span %v (%d-%d) in %q", n, sp, sp.Start.Offset, sp.End.Offset, src)
		}
		if sp.Start != posOf(src, sp.Start.Offset) || sp.End != posOf(src, sp.End.Offset) {
			t.Fatalf("%T: span %v disagrees with its offsets %d-%d in %q", n, sp, sp.Start.Offset, sp.End.Offset, src)
		}
		if len(stack) > 0 {
			ps := stack[len(stack)-1].Span()
			if sp.Start.Offset < ps.Start.Offset || sp.End.Offset > ps.End.Offset {
				t.Fatalf("%T %q lies outside its parent %T %q", n, sp.Text(src), stack[len(stack)-1], ps.Text(src))
			}
		}
		stack = append(stack, n)
		ast.Inspect(n, func(c ast.Node) bool {
			if c == n {
				return true
			}
			visit(c)
			return false
		})
		stack = stack[:len(stack)-1]
	}
	visit(root)
}

// checkErrorPositions requires every error to point inside the input.
func checkErrorPositions(t testing.TB, src string, err error) {
	t.Helper()
	errs := diag.Errors(err)
	if len(errs) == 0 {
		t.Fatalf("error %T is not a diag error: %v", err, err)
	}
	for _, e := range errs {
		sp := e.Span
		if !sp.IsValid() || sp.Start.Offset < 0 || sp.End.Offset > len(src) || sp.Start.Offset > sp.End.Offset {
			t.Fatalf("error span %v (offsets %d-%d) outside the input of %d bytes: %v", sp, sp.Start.Offset, sp.End.Offset, len(src), e)
		}
		if want := posOf(src, sp.Start.Offset); want != sp.Start {
			t.Fatalf("error position %+v does not match offset %d (%+v): %v", sp.Start, sp.Start.Offset, want, e)
		}
	}
}

// posOf computes the line and column of an offset the slow way.
func posOf(src string, off int) diag.Pos {
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return diag.Pos{Offset: off, Line: line, Col: col}
}

// corpus returns the inputs of every test case in testdata, for the fuzz
// seeds and the benchmark.
func corpus(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("testdata/parse/*")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			if l == "" || strings.HasPrefix(l, "#") || l == "----" {
				continue
			}
			// A directive: its input runs to the ---- line.
			var in []string
			for i++; i < len(lines) && lines[i] != "----"; i++ {
				in = append(in, lines[i])
			}
			out = append(out, strings.Join(in, "\n"))
			// Skip the expected output: up to a blank line, or, when it is
			// fenced by a second ----, up to the closing ---- ----.
			if i+1 < len(lines) && lines[i+1] == "----" {
				for i += 2; i+1 < len(lines) && !(lines[i] == "----" && lines[i+1] == "----"); i++ {
				}
				i++
				continue
			}
			for i++; i < len(lines) && lines[i] != ""; i++ {
			}
		}
	}
	if len(out) == 0 {
		tb.Fatal("no test inputs found in testdata")
	}
	return out
}

func TestCorpusFound(t *testing.T) {
	if n := len(corpus(t)); n < 50 {
		t.Fatalf("only %d test inputs found", n)
	}
}
