package parser

import (
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// query parses [WITH ...] body [ORDER BY ...] [LIMIT|OFFSET|FETCH ...].
func (p *parser) query() *ast.Query {
	p.enter()
	defer p.leave()
	start := p.start()
	q := &ast.Query{}
	if p.acceptKw("WITH") {
		for {
			cs := p.start()
			c := &ast.CTE{Name: p.ident("a name")}
			if p.isOp("(") {
				c.Columns = p.parenIdents("a column name")
			}
			p.expectKw("AS")
			p.expectOp("(")
			c.Query = p.query()
			p.expectOp(")")
			c.Spanned = p.span(cs)
			q.With = append(q.With, c)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	q.Body = p.setExpr()
	if p.acceptClause("ORDER", "BY") {
		q.OrderBy = p.orderItems()
	}
	for {
		switch {
		case q.Limit == nil && p.acceptKw("LIMIT"):
			q.Limit = p.limitValue()
		case q.Offset == nil && p.acceptKw("OFFSET"):
			q.Offset = p.limitValue()
			if !p.acceptKw("ROWS") {
				p.acceptKw("ROW")
			}
		case q.Limit == nil && p.takeKw("FETCH"):
			if !p.acceptKw("FIRST") {
				p.expectKw("NEXT")
			}
			if p.isKw("ROW") || p.isKw("ROWS") {
				q.Limit = &ast.NumberLit{Spanned: p.span(p.start()), Text: "1"}
			} else {
				q.Limit = p.limitValue()
			}
			if !p.acceptKw("ROWS") {
				p.expectKw("ROW")
			}
			p.expectKw("ONLY")
		default:
			q.Spanned = p.span(start)
			return q
		}
	}
}

// limitValue reads the count of LIMIT, OFFSET or FETCH: a number or ?.
func (p *parser) limitValue() ast.Expr {
	start := p.start()
	t := p.cur()
	switch t.kind {
	case tNumber:
		p.advance()
		return &ast.NumberLit{Spanned: p.span(start), Text: t.val, Approx: t.approx}
	case tParam:
		p.advance()
		p.params++
		return &ast.Param{Spanned: p.span(start), Index: p.params}
	}
	p.want("a number")
	p.unexpected()
	return nil
}

// setExpr parses bodies joined by UNION and EXCEPT (MINUS), over
// intersections.
func (p *parser) setExpr() ast.QueryBody {
	start := p.start()
	left := p.intersectExpr()
	for {
		var op ast.SetOpKind
		switch {
		case p.acceptKw("UNION"):
			op = ast.Union
		case p.acceptKw("EXCEPT"):
			op = ast.Except
		case p.takeKw("MINUS"):
			op = ast.Except
		default:
			return left
		}
		s := &ast.SetOp{Op: op, L: left}
		if p.acceptKw("ALL") {
			s.All = true
		} else if p.acceptKw("DISTINCT") {
			s.Distinct = true
		}
		s.R = p.intersectExpr()
		s.Spanned = p.span(start)
		left = s
	}
}

func (p *parser) intersectExpr() ast.QueryBody {
	start := p.start()
	left := p.queryPrimary()
	for p.acceptKw("INTERSECT") {
		s := &ast.SetOp{Op: ast.Intersect, L: left}
		if p.acceptKw("ALL") {
			s.All = true
		} else if p.acceptKw("DISTINCT") {
			s.Distinct = true
		}
		s.R = p.queryPrimary()
		s.Spanned = p.span(start)
		left = s
	}
	return left
}

// queryPrimary parses SELECT ..., VALUES ... or ( query ).
func (p *parser) queryPrimary() ast.QueryBody {
	p.enter()
	defer p.leave()
	switch {
	case p.isKw("SELECT"):
		return p.selectBody()
	case p.isKw("VALUES"):
		return p.values()
	case p.isOp("("):
		p.advance()
		q := p.query()
		p.expectOp(")")
		if q.With == nil && q.OrderBy == nil && q.Limit == nil && q.Offset == nil {
			return q.Body
		}
		return q
	}
	p.want("SELECT")
	p.want("VALUES")
	p.want("(")
	if p.isKw("WITH") {
		p.failAt("put the WITH clause first, before the whole query", "unexpected WITH: WITH belongs at the start of a query")
	}
	p.unexpected()
	return nil
}

func (p *parser) values() ast.QueryBody {
	start := p.start()
	p.expectKw("VALUES")
	v := &ast.Values{}
	for {
		if p.isOp("(") || (p.isKw("ROW") && p.isOpAt(1, "(")) {
			p.acceptKw("ROW")
			p.expectOp("(")
			var row []ast.Expr
			if !p.isOp(")") {
				row = p.exprList()
			}
			p.expectOp(")")
			v.Rows = append(v.Rows, row)
		} else {
			v.Rows = append(v.Rows, []ast.Expr{p.expr()})
		}
		if !p.acceptOp(",") {
			break
		}
	}
	v.Spanned = p.span(start)
	return v
}

func (p *parser) selectBody() *ast.Select {
	start := p.start()
	p.expectKw("SELECT")
	s := &ast.Select{}
	s.Stream = p.takeKw("STREAM")
	if p.cur().kind == tHintStart {
		s.Hints = p.hints()
	}
	if p.takeKw("DISTINCT") {
		s.Distinct = true
	} else if p.takeKw("ALL") {
		s.All = true
	}
	for {
		s.Items = append(s.Items, p.selectItem())
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("FROM") {
		s.From = p.tableExpr()
	}
	if p.acceptKw("WHERE") {
		s.Where = p.expr()
	}
	if p.isKw("WINDOWED") && p.isWordAt(1, "BY") {
		s.Stagger = p.stagger()
	}
	if p.acceptClause("GROUP", "BY") {
		s.GroupBy = p.groupBy()
	}
	if p.acceptKw("HAVING") {
		s.Having = p.expr()
	}
	if p.acceptKw("WINDOW") {
		for {
			ws := p.start()
			w := &ast.NamedWindow{Name: p.ident("a window name")}
			p.expectKw("AS")
			w.Spec = p.windowSpec()
			w.Spanned = p.span(ws)
			s.Windows = append(s.Windows, w)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	s.Spanned = p.span(start)
	return s
}

func (p *parser) selectItem() *ast.SelectItem {
	start := p.start()
	it := &ast.SelectItem{}
	if p.isOp("*") {
		p.advance()
		it.Expr = &ast.Star{Spanned: p.span(start)}
	} else {
		it.Expr = p.expr()
	}
	it.Alias = p.optAlias()
	it.Spanned = p.span(start)
	return it
}

// optAlias reads [AS] name after a select item.
func (p *parser) optAlias() *ast.Ident {
	if p.acceptKw("AS") {
		return p.ident("an alias")
	}
	if p.isName() {
		return p.ident("an alias")
	}
	p.want("AS")
	return nil
}

// stagger parses Kinesis Data Analytics' WINDOWED BY STAGGER (PARTITION BY
// ... RANGE interval).
func (p *parser) stagger() *ast.StaggerWindow {
	start := p.start()
	p.expectKws("WINDOWED", "BY")
	p.expectKw("STAGGER")
	p.expectOp("(")
	p.expectKws("PARTITION", "BY")
	w := &ast.StaggerWindow{PartitionBy: p.exprList()}
	p.expectKw("RANGE")
	w.Range = p.expr()
	p.expectOp(")")
	w.Spanned = p.span(start)
	return w
}

func (p *parser) groupBy() *ast.GroupBy {
	start := p.start()
	g := &ast.GroupBy{}
	if p.acceptKw("DISTINCT") {
		g.Distinct = true
	} else {
		p.acceptKw("ALL")
	}
	g.Elements = p.groupingElements()
	g.Spanned = p.span(start)
	return g
}

func (p *parser) groupingElements() []*ast.GroupingElement {
	out := []*ast.GroupingElement{p.groupingElement()}
	for p.acceptOp(",") {
		out = append(out, p.groupingElement())
	}
	return out
}

func (p *parser) groupingElement() *ast.GroupingElement {
	p.enter()
	defer p.leave()
	start := p.start()
	g := &ast.GroupingElement{}
	switch {
	case p.isOp("(") && p.isOpAt(1, ")"):
		p.advance()
		p.advance()
		g.Kind = ast.GroupEmpty
	case (p.isKw("ROLLUP") || p.isKw("CUBE")) && p.isOpAt(1, "("):
		g.Kind = ast.GroupRollup
		if p.isKw("CUBE") {
			g.Kind = ast.GroupCube
		}
		p.advance()
		p.advance()
		g.Exprs = p.exprList()
		p.expectOp(")")
	case p.acceptKws("GROUPING", "SETS"):
		g.Kind = ast.GroupingSets
		p.expectOp("(")
		g.Sets = p.groupingElements()
		p.expectOp(")")
	default:
		g.Kind = ast.GroupExpr
		g.Exprs = []ast.Expr{p.expr()}
	}
	g.Spanned = p.span(start)
	return g
}

// hints parses /*+ name[(args)], ... */.
func (p *parser) hints() []*ast.Hint {
	if p.cur().kind != tHintStart {
		p.want("a hint")
		p.unexpected()
	}
	p.advance()
	var out []*ast.Hint
	for {
		start := p.start()
		h := &ast.Hint{Name: p.ident("a hint name")}
		if p.acceptOp("(") {
			h.Args = []*ast.HintArg{}
			if !p.isOp(")") {
				for {
					h.Args = append(h.Args, p.hintArg())
					if !p.acceptOp(",") {
						break
					}
				}
			}
			p.expectOp(")")
		}
		h.Spanned = p.span(start)
		out = append(out, h)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.cur().kind != tHintEnd {
		p.want("*/")
		p.unexpected()
	}
	p.advance()
	return out
}

func (p *parser) hintArg() *ast.HintArg {
	start := p.start()
	a := &ast.HintArg{}
	word := func() (string, bool) {
		t := p.cur()
		switch t.kind {
		case tString:
			p.advance()
			return t.val, true
		case tIdent, tQIdent:
			p.advance()
			return t.val, false
		}
		p.want("a name")
		p.want("a string")
		p.unexpected()
		return "", false
	}
	v, q := word()
	if p.acceptOp("=") {
		a.Key, a.KeyQuoted = v, q
		v, q = word()
	}
	a.Value, a.ValueQuoted = v, q
	a.Spanned = p.span(start)
	return a
}

// tableExpr parses FROM's items: references joined by commas and JOINs.
func (p *parser) tableExpr() ast.TableExpr {
	p.enter()
	defer p.leave()
	start := p.start()
	left := p.tableRef()
	for {
		if p.acceptOp(",") {
			right := p.tableRef()
			left = &ast.Join{Spanned: p.span(start), Kind: ast.CommaJoin, L: left, R: right}
			continue
		}
		// Only JOIN is listed among the expected words; its prefixes
		// (INNER, LEFT [OUTER], ...) would only lengthen the list.
		natural := p.takeKw("NATURAL")
		kind := ast.JoinKind(0)
		switch {
		case p.acceptKw("JOIN"):
			kind = ast.InnerJoin
		case p.takeKw("INNER"):
			p.expectKw("JOIN")
			kind = ast.InnerJoin
		case p.takeKw("LEFT"):
			p.takeKw("OUTER")
			p.expectKw("JOIN")
			kind = ast.LeftJoin
		case p.takeKw("RIGHT"):
			p.takeKw("OUTER")
			p.expectKw("JOIN")
			kind = ast.RightJoin
		case p.takeKw("FULL"):
			p.takeKw("OUTER")
			p.expectKw("JOIN")
			kind = ast.FullJoin
		case p.takeKw("CROSS"):
			p.expectKw("JOIN")
			kind = ast.CrossJoin
		}
		if kind == 0 {
			if natural {
				p.unexpected()
			}
			return left
		}
		j := &ast.Join{Kind: kind, Natural: natural, L: left}
		j.R = p.tableRef()
		if kind != ast.CrossJoin && !natural {
			// Calcite leaves this to its validator; saying it here puts
			// the caret where the condition is missing.
			if p.acceptKw("ON") {
				j.On = p.expr()
			} else if p.acceptKw("USING") {
				j.Using = p.parenIdents("a column name")
			} else {
				p.unexpected()
			}
		}
		j.Spanned = p.span(start)
		left = j
	}
}

// tableRef parses one table primary with its MATCH_RECOGNIZE and alias.
func (p *parser) tableRef() ast.TableExpr {
	p.enter()
	defer p.leave()
	start := p.start()
	t := p.tablePrimary()
	if p.isKw("MATCH_RECOGNIZE") {
		t = p.matchRecognize(start, t)
	}
	if a := p.tableAlias(); a != nil {
		setAlias(t, a)
		t = withSpan(t, p.span(start))
	}
	return t
}

func withSpan(t ast.TableExpr, s ast.Spanned) ast.TableExpr {
	switch t := t.(type) {
	case *ast.TableName:
		t.Spanned = s
	case *ast.DerivedTable:
		t.Spanned = s
	case *ast.TableFunc:
		t.Spanned = s
	case *ast.Unnest:
		t.Spanned = s
	case *ast.ParenTable:
		t.Spanned = s
	case *ast.MatchRecognize:
		t.Spanned = s
	}
	return t
}

func setAlias(t ast.TableExpr, a *ast.Alias) {
	switch t := t.(type) {
	case *ast.TableName:
		t.Alias = a
	case *ast.DerivedTable:
		t.Alias = a
	case *ast.TableFunc:
		t.Alias = a
	case *ast.Unnest:
		t.Alias = a
	case *ast.ParenTable:
		t.Alias = a
	case *ast.MatchRecognize:
		t.Alias = a
	}
}

// tableAlias reads [AS] name [(cols)] after a table reference. A name that
// begins a clause of its own (Kinesis Data Analytics' WINDOWED BY) is not
// an alias.
func (p *parser) tableAlias() *ast.Alias {
	start := p.start()
	if !p.acceptKw("AS") {
		if !p.isName() || (p.isKw("WINDOWED") && p.isWordAt(1, "BY")) {
			p.want("AS")
			return nil
		}
	}
	a := &ast.Alias{Name: p.ident("an alias")}
	if p.isOp("(") {
		a.Columns = p.parenIdents("a column name")
	}
	a.Spanned = p.span(start)
	return a
}

func (p *parser) tablePrimary() ast.TableExpr {
	start := p.start()
	lateral := p.acceptKw("LATERAL")
	switch {
	case p.isKw("TABLE") && p.isOpAt(1, "("):
		p.advance()
		p.advance()
		cs := p.start()
		e := p.expr()
		call, ok := e.(*ast.FuncCall)
		if !ok || call.NoParens {
			p.fail(diag.Span{Start: cs, End: p.span(cs).Loc.End}, "", "TABLE(...) takes a table function call, such as TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)")
		}
		p.expectOp(")")
		return &ast.TableFunc{Spanned: p.span(start), Lateral: lateral, Call: call}
	case p.isOp("("):
		if p.isQueryStart(1) {
			p.advance()
			q := p.query()
			p.expectOp(")")
			return &ast.DerivedTable{Spanned: p.span(start), Lateral: lateral, Query: q}
		}
		if lateral {
			p.want("SELECT")
			p.advance()
			p.unexpected()
		}
		if p.isOpAt(1, "(") {
			// ((SELECT ...) UNION ...) or ((a JOIN b) JOIN c): try the query.
			var q *ast.Query
			if p.try(func() {
				p.advance()
				q = p.query()
				p.expectOp(")")
			}) {
				return &ast.DerivedTable{Spanned: p.span(start), Query: q}
			}
		}
		p.advance()
		inner := p.tableExpr()
		p.expectOp(")")
		return &ast.ParenTable{Spanned: p.span(start), Table: inner}
	case p.isKw("UNNEST") && !lateral:
		p.advance()
		p.expectOp("(")
		u := &ast.Unnest{Exprs: p.exprList()}
		p.expectOp(")")
		if p.acceptKws("WITH", "ORDINALITY") {
			u.WithOrdinality = true
		}
		u.Spanned = p.span(start)
		return u
	}
	if lateral {
		p.want("TABLE")
		p.want("(")
		p.unexpected()
	}
	if !p.isName() {
		p.want("a table name")
		p.want("(")
		p.want("TABLE")
		p.want("UNNEST")
		p.want("LATERAL")
		p.unexpected()
	}
	t := &ast.TableName{Name: p.name("a table name")}
	if p.cur().kind == tHintStart {
		t.Hints = p.hints()
	}
	if p.acceptKws("FOR", "SYSTEM_TIME") {
		p.expectKws("AS", "OF")
		t.SystemTime = p.expr()
	}
	t.Spanned = p.span(start)
	return t
}

// matchRecognize parses input MATCH_RECOGNIZE ( ... ).
func (p *parser) matchRecognize(start diag.Pos, input ast.TableExpr) ast.TableExpr {
	p.expectKw("MATCH_RECOGNIZE")
	p.expectOp("(")
	m := &ast.MatchRecognize{Input: input}
	if p.acceptKws("PARTITION", "BY") {
		m.PartitionBy = p.exprList()
	}
	if p.acceptKws("ORDER", "BY") {
		m.OrderBy = p.orderItems()
	}
	if p.acceptKw("MEASURES") {
		for {
			ms := p.start()
			x := p.expr()
			p.expectKw("AS")
			m.Measures = append(m.Measures, &ast.Measure{Expr: x, Alias: p.ident("an alias")})
			m.Measures[len(m.Measures)-1].Spanned = p.span(ms)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	switch {
	case p.acceptKws("ONE", "ROW", "PER", "MATCH"):
		m.RowsPerMatch = ast.OneRowPerMatch
	case p.acceptKws("ALL", "ROWS", "PER", "MATCH"):
		m.RowsPerMatch = ast.AllRowsPerMatch
	}
	if p.isKw("AFTER") {
		as := p.start()
		p.advance()
		p.expectKws("MATCH", "SKIP")
		a := &ast.AfterMatch{}
		switch {
		case p.acceptKws("PAST", "LAST", "ROW"):
			a.Kind = ast.SkipPastLastRow
		case p.acceptKws("TO", "NEXT", "ROW"):
			a.Kind = ast.SkipToNextRow
		case p.acceptKws("TO", "FIRST"):
			a.Kind = ast.SkipToFirst
			a.Var = p.ident("a pattern variable")
		case p.acceptKws("TO", "LAST"):
			a.Kind = ast.SkipToLast
			a.Var = p.ident("a pattern variable")
		default:
			p.expectKw("TO")
			a.Kind = ast.SkipToLast
			a.Var = p.ident("a pattern variable")
		}
		a.Spanned = p.span(as)
		m.AfterMatch = a
	} else {
		p.want("AFTER MATCH SKIP")
	}
	p.expectKw("PATTERN")
	p.expectOp("(")
	// The pattern itself must not be empty (an empty group inside it may
	// be): a MATCH_RECOGNIZE needs at least one variable to match.
	m.Pattern = p.patternAlt()
	p.expectOp(")")
	if p.acceptKw("WITHIN") {
		m.Within = p.expr()
	}
	if p.acceptKw("SUBSET") {
		for {
			ss := p.start()
			s := &ast.Subset{Name: p.ident("a subset name")}
			p.expectOp("=")
			s.Vars = p.parenIdents("a pattern variable")
			s.Spanned = p.span(ss)
			m.Subsets = append(m.Subsets, s)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	p.expectKw("DEFINE")
	for {
		ds := p.start()
		d := &ast.Define{Var: p.ident("a pattern variable")}
		p.expectKw("AS")
		d.Cond = p.expr()
		d.Spanned = p.span(ds)
		m.Defines = append(m.Defines, d)
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	m.Spanned = p.span(start)
	return m
}

// patternAlt parses alternatives: seq | seq ....
func (p *parser) patternAlt() ast.Pattern {
	p.enter()
	defer p.leave()
	start := p.start()
	first := p.patternSeq()
	if !p.isOp("|") {
		return first
	}
	alt := &ast.PatternAlt{Alts: []ast.Pattern{first}}
	for p.acceptOp("|") {
		alt.Alts = append(alt.Alts, p.patternSeq())
	}
	alt.Spanned = p.span(start)
	return alt
}

func (p *parser) patternSeq() ast.Pattern {
	start := p.start()
	var items []ast.Pattern
	for {
		items = append(items, p.patternQuant())
		if p.isOp(")") || p.isOp("|") || p.isOp(",") {
			break
		}
	}
	if len(items) == 1 {
		return items[0]
	}
	return &ast.PatternSeq{Spanned: p.span(start), Items: items}
}

func (p *parser) patternQuant() ast.Pattern {
	start := p.start()
	x := p.patternPrimary()
	q := &ast.PatternQuant{Pattern: x}
	switch {
	case p.acceptOp("*"):
		q.Min, q.Max, q.Form = 0, -1, "*"
	case p.acceptOp("+"):
		q.Min, q.Max, q.Form = 1, -1, "+"
	case p.cur().kind == tParam:
		p.advance()
		q.Min, q.Max, q.Form = 0, 1, "?"
	case p.acceptOp("{"):
		q.Form = "{}"
		q.Max = -1
		if p.cur().kind == tNumber {
			q.Min = p.intLit("a number")
			if !p.isOp(",") {
				q.Max = q.Min
			}
		}
		if p.acceptOp(",") {
			if p.cur().kind == tNumber {
				q.Max = p.intLit("a number")
			}
		} else if q.Max != q.Min {
			// {} with neither bound
			p.want("a number")
			p.unexpected()
		}
		p.expectOp("}")
		if q.Max >= 0 && q.Max < q.Min {
			p.fail(p.span(start).Loc, "", "bad quantifier: the upper bound %d is below the lower bound %d", q.Max, q.Min)
		}
	default:
		p.want("*")
		p.want("+")
		p.want("?")
		p.want("{")
		return x
	}
	if p.cur().kind == tParam {
		p.advance()
		q.Reluctant = true
	}
	q.Spanned = p.span(start)
	return q
}

func (p *parser) patternPrimary() ast.Pattern {
	start := p.start()
	switch {
	case p.isName():
		name := p.ident("a pattern variable")
		return &ast.PatternVar{Spanned: p.span(start), Name: name}
	case p.isOp("("):
		p.advance()
		g := &ast.PatternGroup{}
		if !p.isOp(")") {
			g.Pattern = p.patternAlt()
		}
		p.expectOp(")")
		g.Spanned = p.span(start)
		return g
	case p.isOp("^"), p.isOp("$"):
		s := p.isOp("^")
		p.advance()
		return &ast.PatternAnchor{Spanned: p.span(start), Start: s}
	case p.isKw("PERMUTE") && p.isOpAt(1, "("):
		p.advance()
		p.advance()
		perm := &ast.PatternPermute{}
		for {
			perm.Items = append(perm.Items, p.patternAlt())
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
		perm.Spanned = p.span(start)
		return perm
	}
	p.want("a pattern variable")
	p.want("(")
	p.unexpected()
	return nil
}
