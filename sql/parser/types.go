package parser

import (
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// typeNames are the type names a user may write, for "did you mean".
var typeNames = strings.Fields(`BOOLEAN TINYINT SMALLINT INT INTEGER BIGINT FLOAT REAL DOUBLE
	DECIMAL DEC NUMERIC CHAR CHARACTER VARCHAR STRING BINARY VARBINARY BYTES DATE TIME TIMESTAMP
	TIMESTAMP_LTZ INTERVAL ARRAY MULTISET MAP ROW RAW`)

// typ parses a data type: a base type, then any number of ARRAY or
// MULTISET suffixes, each optionally NOT NULL or NULL.
func (p *parser) typ() *ast.Type {
	p.enter()
	defer p.leave()
	start := p.start()
	t := p.baseType()
	p.nullability(t)
	for p.isKw("ARRAY") || p.isKw("MULTISET") {
		kind := p.cur().kw
		p.advance()
		t = &ast.Type{Spanned: p.span(start), Name: kind, Elem: t}
		p.nullability(t)
	}
	t.Spanned = p.span(start)
	return t
}

func (p *parser) nullability(t *ast.Type) {
	if p.acceptKws("NOT", "NULL") {
		t.NotNull = true
	} else {
		p.takeKw("NULL")
	}
}

// params reads an optional ( n [, m] ).
func (p *parser) typeParams(max int) []int {
	if !p.acceptOp("(") {
		return nil
	}
	out := []int{p.intLit("a number")}
	for len(out) < max && p.acceptOp(",") {
		out = append(out, p.intLit("a number"))
	}
	p.expectOp(")")
	return out
}

func (p *parser) baseType() *ast.Type {
	start := p.start()
	tok := p.cur()
	if tok.kind != tKeyword && tok.kind != tIdent {
		p.want("a type")
		p.unexpected()
	}
	word := strings.ToUpper(tok.val)
	t := &ast.Type{}
	p.advance()
	switch word {
	case "BOOLEAN", "TINYINT", "SMALLINT", "BIGINT", "BYTES", "DATE", "STRING":
		t.Name = word
	case "INT", "INTEGER":
		t.Name = "INT"
	case "FLOAT", "REAL":
		t.Name = "FLOAT"
	case "DOUBLE":
		t.Name = "DOUBLE"
		p.takeKw("PRECISION")
	case "DECIMAL", "DEC", "NUMERIC":
		t.Name = "DECIMAL"
		t.Params = p.typeParams(2)
	case "CHAR", "CHARACTER":
		t.Name = "CHAR"
		if p.takeKw("VARYING") {
			t.Name = "VARCHAR"
		}
		t.Params = p.typeParams(1)
	case "VARCHAR", "VARBINARY":
		t.Name = word
		t.Params = p.typeParams(1)
	case "BINARY":
		t.Name = "BINARY"
		if p.takeKw("VARYING") {
			t.Name = "VARBINARY"
		}
		t.Params = p.typeParams(1)
	case "TIME":
		t.Name = "TIME"
		t.Params = p.typeParams(1)
		if p.acceptKw("WITHOUT") {
			p.expectKws("TIME", "ZONE")
		}
	case "TIMESTAMP":
		t.Name = "TIMESTAMP"
		t.Params = p.typeParams(1)
		switch {
		case p.acceptKw("WITHOUT"):
			p.expectKws("TIME", "ZONE")
		case p.acceptKws("WITH", "LOCAL"):
			p.expectKws("TIME", "ZONE")
			t.Name = "TIMESTAMP_LTZ"
		case p.isKw("WITH") && p.isWordAt(1, "TIME"):
			p.advance()
			p.expectKws("TIME", "ZONE")
			t.Name = "TIMESTAMP_TZ"
		}
	case "TIMESTAMP_LTZ":
		t.Name = word
		t.Params = p.typeParams(1)
	case "INTERVAL":
		t.Name = "INTERVAL"
		t.Interval = p.qualifier()
	case "ARRAY", "MULTISET":
		t.Name = word
		p.expectOp("<")
		t.Elem = p.typ()
		p.expectOp(">")
	case "MAP":
		t.Name = "MAP"
		p.expectOp("<")
		t.Key = p.typ()
		p.expectOp(",")
		t.Value = p.typ()
		p.expectOp(">")
	case "ROW":
		t.Name = "ROW"
		if p.acceptOp("<>") { // ROW<> lexes as the operator <>
			t.Fields = []*ast.RowField{}
			break
		}
		closer := ">"
		if p.acceptOp("(") {
			closer = ")"
		} else {
			p.expectOp("<")
		}
		t.Fields = []*ast.RowField{}
		if !p.isOp(closer) {
			for {
				fs := p.start()
				f := &ast.RowField{Name: p.ident("a field name"), Type: p.typ()}
				if p.cur().kind == tString {
					f.Comment = p.str("a string", "")
				}
				f.Spanned = p.span(fs)
				t.Fields = append(t.Fields, f)
				if !p.acceptOp(",") {
					break
				}
			}
		}
		p.expectOp(closer)
	case "RAW":
		t.Name = "RAW"
		p.expectOp("(")
		t.RawClass = p.str("a string", "")
		if p.acceptOp(",") {
			t.RawSnapshot = p.str("a string", "")
		}
		p.expectOp(")")
	default:
		hint := ""
		if c, ok := diag.Closest(word, typeNames); ok {
			hint = "did you mean " + c + "?"
		}
		name := `"` + tok.val + `"`
		if tok.kind == tKeyword {
			name = tok.kw
		}
		p.fail(tok.span, hint, "unknown type %s", name)
	}
	t.Spanned = p.span(start)
	return t
}
