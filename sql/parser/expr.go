package parser

import (
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

func (p *parser) expr() ast.Expr { return p.exprPrec(ast.PrecOr) }

// binaryOp returns the binary operator at the current token, if any.
func (p *parser) binaryOp() (ast.BinaryOp, bool) {
	t := p.cur()
	switch t.kind {
	case tOp:
		switch t.val {
		case "=":
			return ast.OpEq, true
		case "<>", "!=":
			return ast.OpNe, true
		case "<":
			return ast.OpLt, true
		case "<=":
			return ast.OpLe, true
		case ">":
			return ast.OpGt, true
		case ">=":
			return ast.OpGe, true
		case "+":
			return ast.OpAdd, true
		case "-":
			return ast.OpSub, true
		case "*":
			return ast.OpMul, true
		case "/":
			return ast.OpDiv, true
		case "%":
			return ast.OpMod, true
		case "||":
			return ast.OpConcat, true
		}
	case tKeyword:
		switch t.kw {
		case "AND":
			return ast.OpAnd, true
		case "OR":
			return ast.OpOr, true
		}
	}
	return 0, false
}

// exprPrec parses an expression whose operators bind at least as tightly
// as min (precedence climbing; every operator but the comparisons'
// quantifiers is left-associative).
func (p *parser) exprPrec(min int) ast.Expr {
	p.enter()
	defer p.leave()
	start := p.start()
	var left ast.Expr
	switch {
	case p.isKw("NOT"):
		p.advance()
		x := p.exprPrec(ast.PrecNot + 1)
		left = &ast.UnaryExpr{Spanned: p.span(start), Op: ast.OpNot, X: x}
	case p.isOp("-") || p.isOp("+"):
		op := ast.OpNeg
		if p.isOp("+") {
			op = ast.OpPlus
		}
		p.advance()
		x := p.exprPrec(ast.PrecUnary)
		left = &ast.UnaryExpr{Spanned: p.span(start), Op: op, X: x}
	default:
		left = p.postfix(start, p.primary())
	}
	// chain counts the operators folded into left, which deepen the tree
	// without recursion here.
	chain := 0
	for {
		if chain++; p.depth+chain/20 > MaxDepth {
			p.failAt("", "expression too long: more than %d chained operators", MaxDepth*20)
		}
		if op, ok := p.binaryOp(); ok {
			prec := op.Precedence()
			if prec < min {
				return left
			}
			p.advance()
			if op.IsComparison() && (p.isKw("ANY") || p.isKw("SOME") || p.isKw("ALL")) && p.isOpAt(1, "(") {
				all := p.isKw("ALL")
				p.advance()
				p.expectOp("(")
				q := p.query()
				p.expectOp(")")
				left = &ast.QuantifiedExpr{Spanned: p.span(start), X: left, Op: op, All: all, Query: q}
				continue
			}
			right := p.exprPrec(prec + 1)
			left = &ast.BinaryExpr{Spanned: p.span(start), Op: op, L: left, R: right}
			continue
		}
		if p.isKw("IS") {
			if ast.PrecIs < min {
				return left
			}
			left = p.isTest(start, left)
			continue
		}
		not := p.isKw("NOT") && (p.isWordAt(1, "BETWEEN") || p.isWordAt(1, "IN") || p.isWordAt(1, "LIKE") || p.isWordAt(1, "SIMILAR"))
		k := 0
		if not {
			k = 1
		}
		switch {
		case p.isWordAt(k, "BETWEEN"), p.isWordAt(k, "IN"), p.isWordAt(k, "LIKE"), p.isWordAt(k, "SIMILAR"):
		default:
			return left
		}
		if ast.PrecIn < min {
			return left
		}
		if not {
			p.advance()
		}
		switch {
		case p.acceptKw("BETWEEN"):
			sym := false
			if p.acceptKw("SYMMETRIC") {
				sym = true
			} else {
				p.acceptKw("ASYMMETRIC")
			}
			lo := p.exprPrec(ast.PrecIn + 1)
			p.expectKw("AND")
			hi := p.exprPrec(ast.PrecIn + 1)
			left = &ast.BetweenExpr{Spanned: p.span(start), X: left, Lo: lo, Hi: hi, Not: not, Symmetric: sym}
		case p.acceptKw("IN"):
			in := &ast.InExpr{X: left, Not: not}
			p.expectOp("(")
			if p.isQueryStart(0) {
				in.Query = p.query()
			} else {
				in.List = p.exprList()
			}
			p.expectOp(")")
			in.Spanned = p.span(start)
			left = in
		default:
			similar := false
			if p.acceptKw("SIMILAR") {
				p.expectKw("TO")
				similar = true
			} else {
				p.expectKw("LIKE")
			}
			like := &ast.LikeExpr{X: left, Not: not, Similar: similar}
			like.Pattern = p.exprPrec(ast.PrecIn + 1)
			if p.acceptKw("ESCAPE") {
				like.Escape = p.exprPrec(ast.PrecIn + 1)
			}
			like.Spanned = p.span(start)
			left = like
		}
	}
}

// isTest parses the rest of x IS [NOT] ....
func (p *parser) isTest(start diag.Pos, x ast.Expr) ast.Expr {
	p.expectKw("IS")
	not := p.acceptKw("NOT")
	if p.acceptKws("DISTINCT", "FROM") {
		r := p.exprPrec(ast.PrecIs + 1)
		return &ast.DistinctFromExpr{Spanned: p.span(start), L: x, R: r, Not: not}
	}
	e := &ast.IsExpr{X: x, Not: not}
	switch {
	case p.acceptKw("NULL"):
		e.What = ast.IsNull
	case p.acceptKw("TRUE"):
		e.What = ast.IsTrue
	case p.acceptKw("FALSE"):
		e.What = ast.IsFalse
	case p.acceptKw("UNKNOWN"):
		e.What = ast.IsUnknown
	case p.acceptKw("JSON"):
		e.What = ast.IsJSON
		e.JSONType = p.oneOfKw("VALUE", "SCALAR", "ARRAY", "OBJECT")
	default:
		p.unexpected()
	}
	e.Spanned = p.span(start)
	return e
}

func (p *parser) exprList() []ast.Expr {
	out := []ast.Expr{p.expr()}
	for p.acceptOp(",") {
		out = append(out, p.expr())
	}
	return out
}

// postfix applies [index] and .field to a primary.
func (p *parser) postfix(start diag.Pos, x ast.Expr) ast.Expr {
	for {
		switch {
		case p.isOp("["):
			p.advance()
			i := p.expr()
			p.expectOp("]")
			x = &ast.IndexExpr{Spanned: p.span(start), X: x, Index: i}
		case p.isOp(".") && (p.peek(1).kind == tIdent || p.peek(1).kind == tQIdent || p.peek(1).kind == tKeyword):
			p.advance()
			f := p.ident("a field name")
			x = &ast.FieldExpr{Spanned: p.span(start), X: x, Field: f}
		default:
			return x
		}
	}
}

// reservedFuncs are reserved words that name functions when a parenthesis
// follows: COUNT(x), LOWER(s), YEAR(d), ....
var reservedFuncs = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`ABS AVG CARDINALITY CHAR_LENGTH CHARACTER_LENGTH CLASSIFIER
		COALESCE COLLECT CORR COUNT COVAR_POP COVAR_SAMP CUME_DIST DENSE_RANK ELEMENT EVERY EXP
		FIRST_VALUE FUSION GROUPING HOUR DAY MINUTE MONTH SECOND YEAR INTERSECTION LAG LAST_VALUE
		LEAD LEFT RIGHT LN LOWER UPPER MATCH_NUMBER MAX MIN MOD NEXT PREV NTH_VALUE NTILE NULLIF
		OCTET_LENGTH PERCENT_RANK PERCENTILE_CONT PERCENTILE_DISC POWER RANK REGR_AVGX REGR_AVGY
		REGR_COUNT REGR_INTERCEPT REGR_R2 REGR_SLOPE REGR_SXX REGR_SXY REGR_SYY ROW_NUMBER SQRT
		STDDEV_POP STDDEV_SAMP SUM TRUNCATE VAR_POP VAR_SAMP WIDTH_BUCKET TRANSLATE CONVERT
		CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP LOCALTIME LOCALTIMESTAMP SOME ANY`) {
		m[w] = true
	}
	return m
}()

// niladic are the functions written without parentheses.
var niladic = map[string]bool{
	"CURRENT_DATE": true, "CURRENT_TIME": true, "CURRENT_TIMESTAMP": true, "LOCALTIME": true,
	"LOCALTIMESTAMP": true, "CURRENT_USER": true, "SESSION_USER": true, "SYSTEM_USER": true,
	"USER": true, "CURRENT_CATALOG": true, "CURRENT_PATH": true, "CURRENT_ROLE": true,
	"CURRENT_SCHEMA": true,
}

// intervalUnits are the units of an interval qualifier, plural spellings
// included, mapped to the singular.
var intervalUnits = map[string]ast.TimeUnit{
	"YEAR": "YEAR", "YEARS": "YEAR", "QUARTER": "QUARTER", "QUARTERS": "QUARTER",
	"MONTH": "MONTH", "MONTHS": "MONTH", "WEEK": "WEEK", "WEEKS": "WEEK", "DAY": "DAY",
	"DAYS": "DAY", "HOUR": "HOUR", "HOURS": "HOUR", "MINUTE": "MINUTE", "MINUTES": "MINUTE",
	"SECOND": "SECOND", "SECONDS": "SECOND",
}

// extractUnits are the units EXTRACT, FLOOR ... TO and TIMESTAMPADD accept.
var extractUnits = func() map[string]ast.TimeUnit {
	m := map[string]ast.TimeUnit{}
	for k, v := range intervalUnits {
		m[k] = v
	}
	for _, w := range strings.Fields(`MILLISECOND MICROSECOND NANOSECOND DOW DOY EPOCH ISODOW
		ISOYEAR DECADE CENTURY MILLENNIUM DAYOFWEEK DAYOFYEAR`) {
		m[w] = ast.TimeUnit(w)
	}
	return m
}()

// timeUnit reads a unit from units.
func (p *parser) timeUnit(units map[string]ast.TimeUnit) ast.TimeUnit {
	t := p.cur()
	if t.kind == tKeyword || t.kind == tIdent {
		if u, ok := units[strings.ToUpper(t.val)]; ok {
			p.advance()
			return u
		}
	}
	p.want("a time unit (SECOND, MINUTE, HOUR, DAY, ...)")
	p.unexpected()
	return ""
}

// isIntervalUnitKeyword reports whether the current token is a reserved
// interval unit (YEAR ... SECOND), as may follow (a - b).
func (p *parser) isIntervalUnitKeyword() bool {
	t := p.cur()
	if t.kind != tKeyword {
		return false
	}
	switch t.kw {
	case "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND":
		return true
	}
	return false
}

// qualifier reads an interval qualifier: unit [(p)] [TO unit [(p)]].
func (p *parser) qualifier() *ast.IntervalQualifier {
	start := p.start()
	q := &ast.IntervalQualifier{StartPrecision: -1, EndPrecision: -1}
	q.Start = p.timeUnit(intervalUnits)
	if p.acceptOp("(") {
		q.StartPrecision = p.intLit("a precision")
		p.expectOp(")")
	}
	if p.acceptKw("TO") {
		q.End = p.timeUnit(intervalUnits)
		if p.acceptOp("(") {
			q.EndPrecision = p.intLit("a precision")
			p.expectOp(")")
		}
	}
	q.Spanned = p.span(start)
	return q
}

// primary parses an operand: a literal, a name, a call, a parenthesised
// expression or subquery, or one of the special forms.
func (p *parser) primary() ast.Expr {
	start := p.start()
	t := p.cur()
	switch t.kind {
	case tNumber:
		p.advance()
		return &ast.NumberLit{Spanned: p.span(start), Text: t.val, Approx: t.approx}
	case tString:
		p.advance()
		return &ast.StringLit{Spanned: p.span(start), Value: t.val}
	case tBinary:
		p.advance()
		return &ast.BinaryLit{Spanned: p.span(start), Hex: t.val}
	case tParam:
		p.advance()
		p.params++
		return &ast.Param{Spanned: p.span(start), Index: p.params}
	case tIdent, tQIdent:
		return p.nameOrCall()
	case tOp:
		if t.val == "(" {
			return p.parenExpr()
		}
	case tKeyword:
		if e := p.keywordExpr(); e != nil {
			return e
		}
	}
	p.want("an expression")
	p.unexpected()
	return nil
}

// parenExpr parses ( subquery ), ( expr ), (a, b) and (a - b) unit.
func (p *parser) parenExpr() ast.Expr {
	start := p.start()
	p.expectOp("(")
	if p.isQueryStart(0) {
		q := p.query()
		p.expectOp(")")
		return &ast.SubqueryExpr{Spanned: p.span(start), Query: q}
	}
	if p.acceptOp(")") {
		return &ast.RowExpr{Spanned: p.span(start)}
	}
	list := p.exprList()
	p.expectOp(")")
	if len(list) > 1 {
		return &ast.RowExpr{Spanned: p.span(start), Elems: list}
	}
	if p.isIntervalUnitKeyword() {
		q := p.qualifier()
		return &ast.IntervalExpr{Spanned: p.span(start), X: list[0], Qualifier: q}
	}
	return list[0]
}

// nameOrCall parses a name, a qualified name, t.*, or a call of a function
// named by one, including the special forms that begin with a non-reserved
// word (TRY_CAST, DESCRIPTOR, STEP, MAP[...], TIMESTAMPADD).
func (p *parser) nameOrCall() ast.Expr {
	start := p.start()
	t := p.cur()
	if t.kind == tIdent && p.isOpAt(1, "(") {
		switch strings.ToUpper(t.val) {
		case "TRY_CAST":
			return p.cast(true)
		case "DESCRIPTOR":
			p.advance()
			p.advance()
			cols := p.idents("a column name")
			p.expectOp(")")
			return &ast.DescriptorExpr{Spanned: p.span(start), Columns: cols}
		case "MAP":
			if p.isQueryStart(2) {
				p.advance()
				return p.collectionQuery(start, "MAP")
			}
		case "STEP":
			if e := p.step(); e != nil {
				return e
			}
		}
	}
	if t.kind == tIdent && strings.EqualFold(t.val, "MAP") && p.isOpAt(1, "[") {
		p.advance()
		return p.collectionElems(start, "MAP")
	}
	parts := []*ast.Ident{p.ident("a name")}
	for p.isOp(".") {
		nt := p.peek(1)
		if nt.kind == tOp && nt.val == "*" {
			p.advance()
			p.advance()
			q := &ast.Name{Spanned: p.span(start), Parts: parts}
			q.Loc.End = parts[len(parts)-1].Loc.End
			return &ast.Star{Spanned: p.span(start), Qualifier: q}
		}
		if nt.kind != tIdent && nt.kind != tQIdent && nt.kind != tKeyword {
			break
		}
		p.advance()
		parts = append(parts, p.ident("a name"))
	}
	name := &ast.Name{Spanned: p.span(start), Parts: parts}
	if p.isOp("(") {
		return p.call(start, name)
	}
	return name
}

// step parses STEP(x BY interval); it returns nil (consuming nothing) when
// the call is an ordinary one named STEP.
func (p *parser) step() ast.Expr {
	start := p.start()
	var e ast.Expr
	ok := p.try(func() {
		p.advance()
		p.advance()
		x := p.expr()
		p.expectKw("BY")
		by := p.expr()
		p.expectOp(")")
		e = &ast.StepExpr{Spanned: p.span(start), X: x, By: by}
	})
	if !ok {
		return nil
	}
	return e
}

// call parses the argument list and the trailing clauses of a call of name.
func (p *parser) call(start diag.Pos, name *ast.Name) *ast.FuncCall {
	f := &ast.FuncCall{Name: name}
	p.expectOp("(")
	upper := strings.ToUpper(name.Last().Name)
	switch {
	case p.isOp("*") && p.isOpAt(1, ")"):
		p.advance()
		f.Star = true
	case p.isOp(")"):
	default:
		if p.acceptKw("DISTINCT") {
			f.Distinct = true
		} else if p.acceptKw("ALL") {
			f.All = true
		}
		if len(name.Parts) == 1 && (upper == "TIMESTAMPADD" || upper == "TIMESTAMPDIFF") {
			us := p.start()
			u := p.timeUnit(extractUnits)
			f.Args = append(f.Args, &ast.TimeUnitArg{Spanned: p.span(us), Unit: u})
			p.expectOp(",")
		}
		f.Args = append(f.Args, p.arg())
		for p.acceptOp(",") {
			f.Args = append(f.Args, p.arg())
		}
		f.Nulls = p.nullTreatment()
	}
	p.expectOp(")")
	if f.Nulls == 0 {
		f.Nulls = p.nullTreatment()
	}
	if p.acceptKw("WITHIN") {
		p.expectKw("GROUP")
		p.expectOp("(")
		p.expectKws("ORDER", "BY")
		f.WithinGroup = p.orderItems()
		p.expectOp(")")
	}
	if p.acceptKw("FILTER") {
		p.expectOp("(")
		p.expectKw("WHERE")
		f.Filter = p.expr()
		p.expectOp(")")
	}
	if p.acceptKw("OVER") {
		if p.isName() {
			f.OverName = p.ident("a window name")
		} else {
			f.Over = p.windowSpec()
		}
	}
	f.Spanned = p.span(start)
	return f
}

func (p *parser) nullTreatment() ast.NullTreatment {
	switch {
	case p.acceptKws("RESPECT", "NULLS"):
		return ast.RespectNulls
	case p.acceptKws("IGNORE", "NULLS"):
		return ast.IgnoreNulls
	}
	return 0
}

// arg parses one argument of a call: name => value, TABLE t [PARTITION BY
// ...] [ORDER BY ...], or an expression.
func (p *parser) arg() ast.Expr {
	start := p.start()
	if p.isName() && p.isOpAt(1, "=>") {
		name := p.ident("an argument name")
		p.advance()
		v := p.argValue()
		return &ast.NamedArg{Spanned: p.span(start), Name: name, Value: v}
	}
	return p.argValue()
}

func (p *parser) argValue() ast.Expr {
	start := p.start()
	if p.isKw("TABLE") && !p.isOpAt(1, "(") {
		p.advance()
		ta := &ast.TableArg{Table: p.name("a table name")}
		if p.acceptKws("PARTITION", "BY") {
			ta.PartitionBy = p.oneOrParenList()
		}
		if p.acceptKws("ORDER", "BY") {
			if p.isOp("(") && !p.isOpAt(1, ")") {
				p.advance()
				ta.OrderBy = p.orderItems()
				p.expectOp(")")
			} else {
				ta.OrderBy = []*ast.OrderItem{p.orderItem()}
			}
		}
		ta.Spanned = p.span(start)
		return ta
	}
	return p.expr()
}

// oneOrParenList reads one expression or a parenthesised list of them, as
// PARTITION BY takes inside a call's argument list.
func (p *parser) oneOrParenList() []ast.Expr {
	if p.isOp("(") {
		p.advance()
		list := p.exprList()
		p.expectOp(")")
		return list
	}
	return []ast.Expr{p.expr()}
}

// keywordExpr parses the forms that begin with a reserved word; it returns
// nil when the word does not begin an expression.
func (p *parser) keywordExpr() ast.Expr {
	start := p.start()
	t := p.cur()
	kw := t.kw
	switch kw {
	case "TRUE", "FALSE":
		p.advance()
		return &ast.BoolLit{Spanned: p.span(start), Value: kw == "TRUE"}
	case "NULL":
		p.advance()
		return &ast.NullLit{Spanned: p.span(start)}
	case "UNKNOWN":
		p.advance()
		return &ast.UnknownLit{Spanned: p.span(start)}
	case "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ":
		if p.peek(1).kind == tString {
			p.advance()
			v := p.cur().val
			p.advance()
			return &ast.TypedLit{Spanned: p.span(start), Type: kw, Value: v}
		}
		return nil
	case "INTERVAL":
		return p.interval()
	case "CASE":
		return p.caseExpr()
	case "CAST":
		return p.cast(false)
	case "EXISTS":
		p.advance()
		p.expectOp("(")
		q := p.query()
		p.expectOp(")")
		return &ast.ExistsExpr{Spanned: p.span(start), Query: q}
	case "ROW":
		if !p.isOpAt(1, "(") {
			return nil
		}
		p.advance()
		p.advance()
		var elems []ast.Expr
		if !p.isOp(")") {
			elems = p.exprList()
		}
		p.expectOp(")")
		return &ast.RowExpr{Spanned: p.span(start), Elems: elems, Explicit: true}
	case "ARRAY", "MULTISET":
		if p.isOpAt(1, "[") {
			p.advance()
			return p.collectionElems(start, kw)
		}
		if p.isOpAt(1, "(") && p.isQueryStart(2) {
			p.advance()
			return p.collectionQuery(start, kw)
		}
		return nil
	case "CURSOR":
		if !p.isOpAt(1, "(") {
			return nil
		}
		p.advance()
		p.advance()
		q := p.query()
		p.expectOp(")")
		return &ast.CursorExpr{Spanned: p.span(start), Query: q}
	case "EXTRACT":
		if !p.isOpAt(1, "(") {
			return nil
		}
		p.advance()
		p.advance()
		u := p.timeUnit(extractUnits)
		p.expectKw("FROM")
		x := p.expr()
		p.expectOp(")")
		return &ast.ExtractExpr{Spanned: p.span(start), Unit: u, X: x}
	case "FLOOR", "CEIL", "CEILING":
		if !p.isOpAt(1, "(") {
			return nil
		}
		nameTok := *t
		p.advance()
		p.advance()
		x := p.expr()
		if p.acceptKw("TO") {
			u := p.timeUnit(extractUnits)
			p.expectOp(")")
			return &ast.FloorCeilExpr{Spanned: p.span(start), Ceil: kw != "FLOOR", X: x, Unit: u}
		}
		// An ordinary call FLOOR(x[, ...]).
		args := []ast.Expr{x}
		for p.acceptOp(",") {
			args = append(args, p.arg())
		}
		p.expectOp(")")
		id := &ast.Ident{Spanned: ast.Spanned{Loc: nameTok.span}, Name: nameTok.val}
		f := &ast.FuncCall{Name: &ast.Name{Spanned: id.Spanned, Parts: []*ast.Ident{id}}, Args: args}
		f.Spanned = p.span(start)
		return f
	case "POSITION":
		if !p.isOpAt(1, "(") {
			return nil
		}
		p.advance()
		p.advance()
		sub := p.exprPrec(ast.PrecIn + 1)
		p.expectKw("IN")
		in := p.expr()
		var from ast.Expr
		if p.acceptKw("FROM") {
			from = p.expr()
		}
		p.expectOp(")")
		return &ast.PositionExpr{Spanned: p.span(start), Sub: sub, In: in, From: from}
	case "TRIM":
		if !p.isOpAt(1, "(") {
			return nil
		}
		return p.trim()
	case "SUBSTRING":
		if !p.isOpAt(1, "(") {
			return nil
		}
		p.advance()
		p.advance()
		e := &ast.SubstringExpr{X: p.expr()}
		if p.acceptKw("FROM") {
			e.From = p.expr()
			if p.acceptKw("FOR") {
				e.For = p.expr()
			}
		} else {
			p.expectOp(",")
			e.From = p.expr()
			if p.acceptOp(",") {
				e.For = p.expr()
			}
		}
		p.expectOp(")")
		e.Spanned = p.span(start)
		return e
	case "OVERLAY":
		if !p.isOpAt(1, "(") {
			return nil
		}
		p.advance()
		p.advance()
		e := &ast.OverlayExpr{X: p.expr()}
		p.expectKw("PLACING")
		e.Placing = p.expr()
		p.expectKw("FROM")
		e.From = p.expr()
		if p.acceptKw("FOR") {
			e.For = p.expr()
		}
		p.expectOp(")")
		e.Spanned = p.span(start)
		return e
	case "JSON_VALUE", "JSON_QUERY", "JSON_EXISTS", "JSON_OBJECT", "JSON_OBJECTAGG", "JSON_ARRAY", "JSON_ARRAYAGG":
		if !p.isOpAt(1, "(") {
			return nil
		}
		return p.jsonCall()
	}
	if niladic[kw] && !p.isOpAt(1, "(") {
		p.advance()
		id := &ast.Ident{Spanned: p.span(start), Name: t.val}
		return &ast.FuncCall{Spanned: p.span(start), Name: &ast.Name{Spanned: id.Spanned, Parts: []*ast.Ident{id}}, NoParens: true}
	}
	if reservedFuncs[kw] && p.isOpAt(1, "(") {
		p.advance()
		id := &ast.Ident{Spanned: p.span(start), Name: t.val}
		return p.call(start, &ast.Name{Spanned: id.Spanned, Parts: []*ast.Ident{id}})
	}
	return nil
}

func (p *parser) collectionElems(start diag.Pos, kind string) ast.Expr {
	p.expectOp("[")
	var elems []ast.Expr
	if !p.isOp("]") {
		elems = p.exprList()
	}
	p.expectOp("]")
	return &ast.CollectionExpr{Spanned: p.span(start), Kind: kind, Elems: elems}
}

func (p *parser) collectionQuery(start diag.Pos, kind string) ast.Expr {
	p.expectOp("(")
	q := p.query()
	p.expectOp(")")
	return &ast.CollectionExpr{Spanned: p.span(start), Kind: kind, Query: q}
}

// interval parses INTERVAL [+|-] 'value' qualifier.
func (p *parser) interval() ast.Expr {
	start := p.start()
	p.expectKw("INTERVAL")
	neg := false
	if p.isOp("-") || p.isOp("+") {
		neg = p.isOp("-")
		p.advance()
	}
	if p.cur().kind == tNumber {
		n := p.cur().val
		p.failAt("write INTERVAL '"+n+"' ... with the value in quotes", "unexpected number %s, expected a string: interval values are quoted", n)
	}
	v := p.str("a string", "")
	q := p.qualifier()
	return &ast.IntervalLit{Spanned: p.span(start), Negative: neg, Value: v.Value, Qualifier: q}
}

func (p *parser) caseExpr() ast.Expr {
	start := p.start()
	p.expectKw("CASE")
	c := &ast.CaseExpr{}
	if !p.isKw("WHEN") {
		c.Operand = p.expr()
	}
	for {
		ws := p.start()
		p.expectKw("WHEN")
		cond := p.expr()
		p.expectKw("THEN")
		res := p.expr()
		c.Whens = append(c.Whens, &ast.When{Spanned: p.span(ws), Cond: cond, Result: res})
		if !p.isKw("WHEN") {
			break
		}
	}
	if p.acceptKw("ELSE") {
		c.Else = p.expr()
	}
	p.expectKw("END")
	c.Spanned = p.span(start)
	return c
}

func (p *parser) cast(try bool) ast.Expr {
	start := p.start()
	p.advance() // CAST or TRY_CAST
	p.expectOp("(")
	x := p.expr()
	p.expectKw("AS")
	t := p.typ()
	p.expectOp(")")
	return &ast.CastExpr{Spanned: p.span(start), X: x, Type: t, Try: try}
}

func (p *parser) trim() ast.Expr {
	start := p.start()
	p.advance()
	p.expectOp("(")
	e := &ast.TrimExpr{Where: p.oneOfKw("BOTH", "LEADING", "TRAILING")}
	if e.Where != "" && p.acceptKw("FROM") {
		e.X = p.expr()
	} else {
		first := p.expr()
		switch {
		case p.acceptKw("FROM"):
			e.Chars = first
			e.X = p.expr()
		case e.Where != "":
			p.expectKw("FROM")
		default:
			e.X = first
		}
	}
	p.expectOp(")")
	e.Spanned = p.span(start)
	return e
}

// jsonCall parses the JSON functions with syntax of their own.
func (p *parser) jsonCall() ast.Expr {
	start := p.start()
	j := &ast.JSONCall{Func: p.cur().kw}
	p.advance()
	p.expectOp("(")
	switch j.Func {
	case "JSON_OBJECT", "JSON_OBJECTAGG":
		if !p.isOp(")") && !p.jsonOnNull(j) {
			for {
				if p.isKw("KEY") && !p.isWordAt(1, "VALUE") && !p.isOpAt(1, ":") {
					p.advance()
				}
				k := p.expr()
				if !p.acceptOp(":") {
					p.expectKw("VALUE")
				}
				j.Keys = append(j.Keys, k)
				j.Values = append(j.Values, p.expr())
				if p.jsonOnNull(j) || !p.acceptOp(",") {
					break
				}
			}
		}
	case "JSON_ARRAY", "JSON_ARRAYAGG":
		if !p.isOp(")") && !p.jsonOnNull(j) {
			j.Args = p.exprList()
			if p.acceptKws("ORDER", "BY") {
				j.OrderBy = p.orderItems()
			}
			p.jsonOnNull(j)
		}
	default:
		j.Args = []ast.Expr{p.expr()}
		p.expectOp(",")
		j.Args = append(j.Args, p.expr())
		for p.jsonClause(j) {
		}
	}
	p.expectOp(")")
	j.Spanned = p.span(start)
	return j
}

// jsonOnNull parses NULL ON NULL or ABSENT ON NULL.
func (p *parser) jsonOnNull(j *ast.JSONCall) bool {
	if (p.isKw("NULL") || p.isKw("ABSENT")) && p.isWordAt(1, "ON") && p.isWordAt(2, "NULL") {
		j.OnNull = strings.ToUpper(p.cur().val)
		p.advance()
		p.advance()
		p.advance()
		return true
	}
	p.want("NULL ON NULL")
	p.want("ABSENT ON NULL")
	return false
}

// jsonClause parses one RETURNING, wrapper or ON EMPTY/ON ERROR clause.
func (p *parser) jsonClause(j *ast.JSONCall) bool {
	start := p.start()
	switch {
	case p.acceptKw("RETURNING"):
		j.Returning = p.typ()
		return true
	case p.acceptKw("WITHOUT"):
		p.acceptKw("ARRAY")
		p.expectKw("WRAPPER")
		j.Wrapper = "WITHOUT"
		return true
	case p.isKw("WITH") && !p.isWordAt(1, "TIME"):
		p.advance()
		j.Wrapper = "WITH UNCONDITIONAL"
		if p.acceptKw("CONDITIONAL") {
			j.Wrapper = "WITH CONDITIONAL"
		} else {
			p.acceptKw("UNCONDITIONAL")
		}
		p.acceptKw("ARRAY")
		p.expectKw("WRAPPER")
		return true
	}
	b := &ast.JSONBehavior{}
	switch {
	case p.acceptKws("EMPTY", "ARRAY"):
		b.Kind = "EMPTY ARRAY"
	case p.acceptKws("EMPTY", "OBJECT"):
		b.Kind = "EMPTY OBJECT"
	case p.acceptKw("DEFAULT"):
		b.Kind = "DEFAULT"
		b.Default = p.expr()
	default:
		b.Kind = p.oneOfKw("NULL", "ERROR", "TRUE", "FALSE", "UNKNOWN")
		if b.Kind == "" {
			return false
		}
	}
	p.expectKw("ON")
	switch {
	case p.acceptKw("EMPTY"):
		b.Spanned = p.span(start)
		j.OnEmpty = b
	case p.acceptKw("ERROR"):
		b.Spanned = p.span(start)
		j.OnError = b
	default:
		p.unexpected()
	}
	return true
}

// windowSpec parses ( [base] [PARTITION BY ...] [ORDER BY ...] [frame] ).
func (p *parser) windowSpec() *ast.WindowSpec {
	start := p.start()
	p.expectOp("(")
	w := &ast.WindowSpec{}
	if p.isName() {
		w.Base = p.ident("a window name")
	}
	if p.acceptKws("PARTITION", "BY") {
		w.PartitionBy = p.exprList()
	}
	if p.acceptKws("ORDER", "BY") {
		w.OrderBy = p.orderItems()
	}
	if p.isKw("ROWS") || p.isKw("RANGE") {
		w.Frame = p.frame()
	} else {
		p.want("ROWS")
		p.want("RANGE")
	}
	p.expectOp(")")
	w.Spanned = p.span(start)
	return w
}

func (p *parser) frame() *ast.Frame {
	start := p.start()
	f := &ast.Frame{Unit: ast.FrameRange}
	if p.acceptKw("ROWS") {
		f.Unit = ast.FrameRows
	} else {
		p.expectKw("RANGE")
	}
	if p.acceptKw("BETWEEN") {
		f.Start = p.bound()
		p.expectKw("AND")
		f.End = p.bound()
	} else {
		f.Start = p.bound()
	}
	f.Spanned = p.span(start)
	return f
}

func (p *parser) bound() *ast.FrameBound {
	start := p.start()
	b := &ast.FrameBound{}
	switch {
	case p.acceptKws("UNBOUNDED", "PRECEDING"):
		b.Kind = ast.UnboundedPreceding
	case p.acceptKws("UNBOUNDED", "FOLLOWING"):
		b.Kind = ast.UnboundedFollowing
	case p.acceptKws("CURRENT", "ROW"):
		b.Kind = ast.CurrentRow
	default:
		b.Offset = p.exprPrec(ast.PrecAdd)
		if p.acceptKw("PRECEDING") {
			b.Kind = ast.Preceding
		} else {
			p.expectKw("FOLLOWING")
			b.Kind = ast.Following
		}
	}
	b.Spanned = p.span(start)
	return b
}

func (p *parser) orderItems() []*ast.OrderItem {
	out := []*ast.OrderItem{p.orderItem()}
	for p.acceptOp(",") {
		out = append(out, p.orderItem())
	}
	return out
}

func (p *parser) orderItem() *ast.OrderItem {
	start := p.start()
	o := &ast.OrderItem{Expr: p.expr()}
	if p.acceptKw("DESC") {
		o.Desc = true
	} else if p.acceptKw("ASC") {
		o.Asc = true
	}
	if p.acceptKw("NULLS") {
		if p.acceptKw("FIRST") {
			o.Nulls = "FIRST"
		} else {
			p.expectKw("LAST")
			o.Nulls = "LAST"
		}
	}
	o.Spanned = p.span(start)
	return o
}
