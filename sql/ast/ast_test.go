package ast

import (
	"fmt"
	"strings"
	"testing"
)

func name(parts ...string) *Name {
	n := &Name{}
	for _, p := range parts {
		n.Parts = append(n.Parts, &Ident{Name: p})
	}
	return n
}

// Trees built by later stages (not by the parser) still print as SQL that
// reads back: names that are reserved or not plain are quoted.
func TestFormatQuotesWhereNeeded(t *testing.T) {
	e := &BinaryExpr{Op: OpAdd, L: name("t", "value"), R: &BinaryExpr{Op: OpMul, L: name("EXPR$0"), R: name("a b")}}
	if got, want := Format(e), "t.`value` + EXPR$0 * `a b`"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	e2 := &BinaryExpr{Op: OpMul, L: &BinaryExpr{Op: OpAdd, L: name("a"), R: name("b")}, R: &UnaryExpr{Op: OpNeg, X: &UnaryExpr{Op: OpNeg, X: name("c")}}}
	if got, want := Format(e2), "(a + b) * -(-c)"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	f := &FuncCall{Name: name("COUNT"), Star: true}
	if got, want := Format(f), "COUNT(*)"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestIsPlainName(t *testing.T) {
	for in, want := range map[string]bool{"a": true, "_a1$": true, "ünï": true, "1a": false, "a-b": false, "": false, "select": false, "Value": false, "data": true} {
		if got := IsPlainName(in); got != want {
			t.Errorf("IsPlainName(%q) = %v", in, got)
		}
	}
	if !IsReserved("timestamp") || IsReserved("temporary") {
		t.Fatal("reserved words")
	}
	words := ReservedWords()
	for i := 1; i < len(words); i++ {
		if words[i-1] >= words[i] {
			t.Fatalf("not sorted or duplicated: %s %s", words[i-1], words[i])
		}
	}
}

func TestInspectVisitsEveryNode(t *testing.T) {
	q := &Query{Body: &Select{
		Items: []*SelectItem{{Expr: &FuncCall{Name: name("f"), Args: []Expr{name("x"), &NumberLit{Text: "1"}}}}},
		From:  &TableName{Name: name("t")},
	}, OrderBy: []*OrderItem{{Expr: name("y")}}}
	var kinds []string
	Inspect(q, func(n Node) bool {
		kinds = append(kinds, strings.TrimPrefix(fmt.Sprintf("%T", n), "*ast."))
		return true
	})
	got := strings.Join(kinds, " ")
	want := "Query Select SelectItem FuncCall Name Ident Name Ident NumberLit TableName Name Ident OrderItem Name Ident"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Returning false prunes.
	n := 0
	Inspect(q, func(Node) bool { n++; return false })
	if n != 1 {
		t.Fatalf("visited %d nodes, want 1", n)
	}
}
