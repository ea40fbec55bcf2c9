package ast

import (
	"fmt"
	"strconv"
	"strings"
)

// Format prints n as canonical SQL: keywords in upper case, one space between
// tokens, names quoted with backquotes where they were quoted or must be,
// and parentheses exactly where precedence needs them. A statement is
// printed without its terminating semicolon. Parsing the output gives a tree
// equal to n (spans aside).
func Format(n Node) string {
	var p printer
	p.node(n)
	return p.String()
}

// FormatScript prints statements as a script: each statement followed by
// ";" and a newline.
func FormatScript(stmts []Statement) string {
	var p printer
	for _, s := range stmts {
		p.node(s)
		p.WriteString(";\n")
	}
	return p.String()
}

type printer struct {
	strings.Builder
}

func (p *printer) kw(s string) { p.WriteString(s) }

func (p *printer) ident(id *Ident) {
	if id == nil {
		p.WriteString("<nil>")
		return
	}
	if !id.Quoted && IsPlainName(id.Name) {
		p.WriteString(id.Name)
		return
	}
	p.WriteByte('`')
	p.WriteString(strings.ReplaceAll(id.Name, "`", "``"))
	p.WriteByte('`')
}

func (p *printer) name(n *Name) {
	if n == nil {
		p.WriteString("<nil>")
		return
	}
	for i, part := range n.Parts {
		if i > 0 {
			p.WriteByte('.')
		}
		p.ident(part)
	}
}

func (p *printer) str(s string) {
	p.WriteByte('\'')
	p.WriteString(strings.ReplaceAll(s, "'", "''"))
	p.WriteByte('\'')
}

func (p *printer) strLit(s *StringLit) { p.str(s.Value) }

func (p *printer) idents(ids []*Ident) {
	for i, id := range ids {
		if i > 0 {
			p.WriteString(", ")
		}
		p.ident(id)
	}
}

func (p *printer) exprs(es []Expr) {
	for i, e := range es {
		if i > 0 {
			p.WriteString(", ")
		}
		p.expr(e, 0)
	}
}

func (p *printer) options(opts []*Option) {
	p.WriteByte('(')
	for i, o := range opts {
		if i > 0 {
			p.WriteString(", ")
		}
		p.strLit(o.Key)
		p.WriteString(" = ")
		p.strLit(o.Value)
	}
	p.WriteByte(')')
}

func (p *printer) node(n Node) {
	switch n := n.(type) {
	case Statement:
		p.stmt(n)
	case Expr:
		p.expr(n, 0)
	case QueryBody:
		p.queryBody(n)
	case TableExpr:
		p.table(n)
	case *Type:
		p.typ(n)
	case Pattern:
		p.pattern(n)
	case *Ident:
		p.ident(n)
	case *SelectItem:
		p.selectItem(n)
	case *OrderItem:
		p.orderItem(n)
	case *WindowSpec:
		p.windowSpec(n)
	case *IntervalQualifier:
		p.qualifier(n)
	case *Option:
		p.options([]*Option{n})
	case *ColumnDef:
		p.column(n)
	case *Watermark:
		p.watermark(n)
	case *Constraint:
		p.constraint(n)
	case *Hint:
		p.hints([]*Hint{n})
	case nil:
		p.WriteString("<nil>")
	default:
		fmt.Fprintf(p, "<%T>", n)
	}
}

// precedence returns the binding level of e as the parser reads it.
func precedence(e Expr) int {
	switch e := e.(type) {
	case *BinaryExpr:
		return e.Op.Precedence()
	case *UnaryExpr:
		if e.Op == OpNot {
			return PrecNot
		}
		return PrecUnary
	case *IsExpr, *DistinctFromExpr:
		return PrecIs
	case *QuantifiedExpr:
		return PrecCmp
	case *BetweenExpr, *InExpr, *LikeExpr:
		return PrecIn
	case *IndexExpr, *FieldExpr:
		return PrecPostfix
	case *NamedArg, *TableArg:
		// Only ever arguments; never nested in operators by the parser.
		return 0
	}
	return PrecPrimary
}

// expr prints e, in parentheses when it binds looser than min.
func (p *printer) expr(e Expr, min int) {
	if e == nil {
		p.WriteString("<nil>")
		return
	}
	if precedence(e) < min {
		p.WriteByte('(')
		p.expr(e, 0)
		p.WriteByte(')')
		return
	}
	switch e := e.(type) {
	case *Name:
		p.name(e)
	case *NumberLit:
		p.WriteString(e.Text)
	case *StringLit:
		p.str(e.Value)
	case *BinaryLit:
		p.WriteString("X'")
		p.WriteString(e.Hex)
		p.WriteByte('\'')
	case *BoolLit:
		if e.Value {
			p.kw("TRUE")
		} else {
			p.kw("FALSE")
		}
	case *NullLit:
		p.kw("NULL")
	case *UnknownLit:
		p.kw("UNKNOWN")
	case *TypedLit:
		p.kw(e.Type)
		p.WriteByte(' ')
		p.str(e.Value)
	case *IntervalLit:
		p.kw("INTERVAL ")
		if e.Negative {
			p.WriteByte('-')
		}
		p.str(e.Value)
		p.WriteByte(' ')
		p.qualifier(e.Qualifier)
	case *Param:
		p.WriteByte('?')
	case *UnaryExpr:
		switch e.Op {
		case OpNot:
			p.kw("NOT ")
			p.expr(e.X, PrecNot+1)
		default:
			p.WriteString(e.Op.String())
			// -(-x) and -(+x): "--" would start a comment.
			if u, ok := e.X.(*UnaryExpr); ok && u.Op != OpNot {
				p.WriteByte('(')
				p.expr(e.X, 0)
				p.WriteByte(')')
			} else {
				p.expr(e.X, PrecUnary)
			}
		}
	case *BinaryExpr:
		prec := e.Op.Precedence()
		p.expr(e.L, prec)
		p.WriteByte(' ')
		p.WriteString(e.Op.String())
		p.WriteByte(' ')
		p.expr(e.R, prec+1)
	case *IsExpr:
		p.expr(e.X, PrecIs)
		p.kw(" IS ")
		if e.Not {
			p.kw("NOT ")
		}
		switch e.What {
		case IsNull:
			p.kw("NULL")
		case IsTrue:
			p.kw("TRUE")
		case IsFalse:
			p.kw("FALSE")
		case IsUnknown:
			p.kw("UNKNOWN")
		case IsJSON:
			p.kw("JSON")
			if e.JSONType != "" {
				p.WriteByte(' ')
				p.kw(e.JSONType)
			}
		}
	case *DistinctFromExpr:
		p.expr(e.L, PrecIs)
		p.kw(" IS ")
		if e.Not {
			p.kw("NOT ")
		}
		p.kw("DISTINCT FROM ")
		p.expr(e.R, PrecIs+1)
	case *BetweenExpr:
		p.expr(e.X, PrecIn)
		if e.Not {
			p.kw(" NOT")
		}
		p.kw(" BETWEEN ")
		if e.Symmetric {
			p.kw("SYMMETRIC ")
		}
		p.expr(e.Lo, PrecIn+1)
		p.kw(" AND ")
		p.expr(e.Hi, PrecIn+1)
	case *InExpr:
		p.expr(e.X, PrecIn)
		if e.Not {
			p.kw(" NOT")
		}
		p.kw(" IN (")
		if e.Query != nil {
			p.query(e.Query)
		} else {
			p.exprs(e.List)
		}
		p.WriteByte(')')
	case *LikeExpr:
		p.expr(e.X, PrecIn)
		if e.Not {
			p.kw(" NOT")
		}
		if e.Similar {
			p.kw(" SIMILAR TO ")
		} else {
			p.kw(" LIKE ")
		}
		p.expr(e.Pattern, PrecIn+1)
		if e.Escape != nil {
			p.kw(" ESCAPE ")
			p.expr(e.Escape, PrecIn+1)
		}
	case *QuantifiedExpr:
		p.expr(e.X, PrecCmp)
		p.WriteByte(' ')
		p.WriteString(e.Op.String())
		if e.All {
			p.kw(" ALL (")
		} else {
			p.kw(" ANY (")
		}
		p.query(e.Query)
		p.WriteByte(')')
	case *ExistsExpr:
		p.kw("EXISTS (")
		p.query(e.Query)
		p.WriteByte(')')
	case *SubqueryExpr:
		p.WriteByte('(')
		p.query(e.Query)
		p.WriteByte(')')
	case *CaseExpr:
		p.kw("CASE")
		if e.Operand != nil {
			p.WriteByte(' ')
			p.expr(e.Operand, 0)
		}
		for _, w := range e.Whens {
			p.kw(" WHEN ")
			p.expr(w.Cond, 0)
			p.kw(" THEN ")
			p.expr(w.Result, 0)
		}
		if e.Else != nil {
			p.kw(" ELSE ")
			p.expr(e.Else, 0)
		}
		p.kw(" END")
	case *CastExpr:
		if e.Try {
			p.kw("TRY_CAST(")
		} else {
			p.kw("CAST(")
		}
		p.expr(e.X, 0)
		p.kw(" AS ")
		p.typ(e.Type)
		p.WriteByte(')')
	case *ExtractExpr:
		p.kw("EXTRACT(")
		p.kw(string(e.Unit))
		p.kw(" FROM ")
		p.expr(e.X, 0)
		p.WriteByte(')')
	case *FloorCeilExpr:
		if e.Ceil {
			p.kw("CEIL(")
		} else {
			p.kw("FLOOR(")
		}
		// An interval's qualifier would take the TO: FLOOR(x + INTERVAL
		// '1' SECOND TO MINUTE) reads as MINUTE TO ... of the interval.
		if x := Format(e.X); endsWithUnit(x) {
			p.WriteByte('(')
			p.WriteString(x)
			p.WriteByte(')')
		} else {
			p.WriteString(x)
		}
		p.kw(" TO ")
		p.kw(string(e.Unit))
		p.WriteByte(')')
	case *PositionExpr:
		p.kw("POSITION(")
		p.expr(e.Sub, PrecIn+1)
		p.kw(" IN ")
		p.expr(e.In, 0)
		if e.From != nil {
			p.kw(" FROM ")
			p.expr(e.From, 0)
		}
		p.WriteByte(')')
	case *TrimExpr:
		p.kw("TRIM(")
		if e.Where != "" {
			p.kw(e.Where)
			p.WriteByte(' ')
		}
		if e.Chars != nil {
			p.expr(e.Chars, 0)
			p.WriteByte(' ')
		}
		if e.Where != "" || e.Chars != nil {
			p.kw("FROM ")
		}
		p.expr(e.X, 0)
		p.WriteByte(')')
	case *SubstringExpr:
		p.kw("SUBSTRING(")
		p.expr(e.X, 0)
		p.kw(" FROM ")
		p.expr(e.From, 0)
		if e.For != nil {
			p.kw(" FOR ")
			p.expr(e.For, 0)
		}
		p.WriteByte(')')
	case *OverlayExpr:
		p.kw("OVERLAY(")
		p.expr(e.X, 0)
		p.kw(" PLACING ")
		p.expr(e.Placing, 0)
		p.kw(" FROM ")
		p.expr(e.From, 0)
		if e.For != nil {
			p.kw(" FOR ")
			p.expr(e.For, 0)
		}
		p.WriteByte(')')
	case *StepExpr:
		p.kw("STEP(")
		p.expr(e.X, 0)
		p.kw(" BY ")
		p.expr(e.By, 0)
		p.WriteByte(')')
	case *IntervalExpr:
		p.WriteByte('(')
		p.expr(e.X, 0)
		p.WriteString(") ")
		p.qualifier(e.Qualifier)
	case *NamedArg:
		p.ident(e.Name)
		p.WriteString(" => ")
		p.expr(e.Value, 0)
	case *TableArg:
		p.kw("TABLE ")
		p.name(e.Table)
		// Inside an argument list a comma ends the argument, so more than
		// one key goes in parentheses.
		if len(e.PartitionBy) == 1 && !strings.HasPrefix(Format(e.PartitionBy[0]), "(") {
			p.kw(" PARTITION BY ")
			p.expr(e.PartitionBy[0], 0)
		} else if len(e.PartitionBy) > 0 {
			p.kw(" PARTITION BY (")
			p.exprs(e.PartitionBy)
			p.WriteByte(')')
		}
		if len(e.OrderBy) == 1 && !strings.HasPrefix(Format(e.OrderBy[0].Expr), "(") {
			p.kw(" ORDER BY ")
			p.orderItem(e.OrderBy[0])
		} else if len(e.OrderBy) > 0 {
			p.kw(" ORDER BY (")
			p.orderItems(e.OrderBy)
			p.WriteByte(')')
		}
	case *DescriptorExpr:
		p.kw("DESCRIPTOR(")
		p.idents(e.Columns)
		p.WriteByte(')')
	case *CursorExpr:
		p.kw("CURSOR(")
		p.query(e.Query)
		p.WriteByte(')')
	case *TimeUnitArg:
		p.kw(string(e.Unit))
	case *FuncCall:
		p.funcCall(e)
	case *JSONCall:
		p.jsonCall(e)
	case *IndexExpr:
		p.expr(e.X, PrecPostfix)
		p.WriteByte('[')
		p.expr(e.Index, 0)
		p.WriteByte(']')
	case *FieldExpr:
		switch e.X.(type) {
		case *FuncCall, *IndexExpr, *FieldExpr:
			p.expr(e.X, PrecPostfix)
		default:
			// (a).b is not the name a.b, and 1.b does not lex.
			p.WriteByte('(')
			p.expr(e.X, 0)
			p.WriteByte(')')
		}
		p.WriteByte('.')
		p.ident(e.Field)
	case *Star:
		if e.Qualifier != nil {
			p.name(e.Qualifier)
			p.WriteByte('.')
		}
		p.WriteByte('*')
	case *CollectionExpr:
		p.kw(e.Kind)
		if e.Query != nil {
			p.WriteByte('(')
			p.query(e.Query)
			p.WriteByte(')')
		} else {
			p.WriteByte('[')
			p.exprs(e.Elems)
			p.WriteByte(']')
		}
	case *RowExpr:
		if e.Explicit {
			p.kw("ROW")
		}
		p.WriteByte('(')
		p.exprs(e.Elems)
		p.WriteByte(')')
	default:
		fmt.Fprintf(p, "<%T>", e)
	}
}

// endsWithUnit reports whether printed SQL ends with an interval unit,
// optionally with a precision: "SECOND", "DAY(2)".
func endsWithUnit(s string) bool {
	if strings.HasSuffix(s, ")") { // a precision: SECOND(3)
		i := strings.LastIndexByte(s, '(')
		if i < 0 || strings.Trim(s[i+1:len(s)-1], "0123456789") != "" {
			return false
		}
		s = s[:i]
	}
	for _, u := range []string{"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"} {
		if strings.HasSuffix(s, " "+u) {
			return true
		}
	}
	return false
}

func (p *printer) funcCall(f *FuncCall) {
	// A reserved word names a built-in function unquoted: COUNT(*),
	// CURRENT_TIMESTAMP. Quoting it would make it another name.
	if len(f.Name.Parts) == 1 && !f.Name.Parts[0].Quoted && IsReserved(f.Name.Parts[0].Name) {
		p.WriteString(f.Name.Parts[0].Name)
	} else {
		p.name(f.Name)
	}
	if !f.NoParens {
		p.WriteByte('(')
		if f.Distinct {
			p.kw("DISTINCT ")
		} else if f.All {
			p.kw("ALL ")
		}
		if f.Star {
			p.WriteByte('*')
		} else {
			p.exprs(f.Args)
		}
		p.WriteByte(')')
	}
	switch f.Nulls {
	case RespectNulls:
		p.kw(" RESPECT NULLS")
	case IgnoreNulls:
		p.kw(" IGNORE NULLS")
	}
	if len(f.WithinGroup) > 0 {
		p.kw(" WITHIN GROUP (ORDER BY ")
		p.orderItems(f.WithinGroup)
		p.WriteByte(')')
	}
	if f.Filter != nil {
		p.kw(" FILTER (WHERE ")
		p.expr(f.Filter, 0)
		p.WriteByte(')')
	}
	if f.OverName != nil {
		p.kw(" OVER ")
		p.ident(f.OverName)
	} else if f.Over != nil {
		p.kw(" OVER ")
		p.windowSpec(f.Over)
	}
}

func (p *printer) jsonBehavior(b *JSONBehavior, on string) {
	p.WriteByte(' ')
	p.kw(b.Kind)
	if b.Default != nil {
		p.WriteByte(' ')
		p.expr(b.Default, 0)
	}
	p.kw(" ON ")
	p.kw(on)
}

func (p *printer) jsonCall(j *JSONCall) {
	p.kw(j.Func)
	p.WriteByte('(')
	switch j.Func {
	case "JSON_OBJECT", "JSON_OBJECTAGG":
		for i := range j.Keys {
			if i > 0 {
				p.WriteString(", ")
			}
			p.kw("KEY ")
			p.expr(j.Keys[i], 0)
			p.kw(" VALUE ")
			p.expr(j.Values[i], 0)
		}
	default:
		p.exprs(j.Args)
	}
	if len(j.OrderBy) > 0 {
		p.kw(" ORDER BY ")
		p.orderItems(j.OrderBy)
	}
	if j.OnNull != "" {
		p.WriteByte(' ')
		p.kw(j.OnNull)
		p.kw(" ON NULL")
	}
	if j.Returning != nil {
		p.kw(" RETURNING ")
		p.typ(j.Returning)
	}
	if j.Wrapper != "" {
		p.WriteByte(' ')
		p.kw(j.Wrapper)
		p.kw(" ARRAY WRAPPER")
	}
	if j.OnEmpty != nil {
		p.jsonBehavior(j.OnEmpty, "EMPTY")
	}
	if j.OnError != nil {
		p.jsonBehavior(j.OnError, "ERROR")
	}
	p.WriteByte(')')
}

func (p *printer) qualifier(q *IntervalQualifier) {
	if q == nil {
		p.WriteString("<nil>")
		return
	}
	p.kw(string(q.Start))
	if q.StartPrecision >= 0 {
		fmt.Fprintf(p, "(%d)", q.StartPrecision)
	}
	if q.End != "" {
		p.kw(" TO ")
		p.kw(string(q.End))
		if q.EndPrecision >= 0 {
			fmt.Fprintf(p, "(%d)", q.EndPrecision)
		}
	}
}

func (p *printer) orderItems(items []*OrderItem) {
	for i, o := range items {
		if i > 0 {
			p.WriteString(", ")
		}
		p.orderItem(o)
	}
}

func (p *printer) orderItem(o *OrderItem) {
	p.expr(o.Expr, 0)
	if o.Desc {
		p.kw(" DESC")
	} else if o.Asc {
		p.kw(" ASC")
	}
	if o.Nulls != "" {
		p.kw(" NULLS ")
		p.kw(o.Nulls)
	}
}

func (p *printer) windowSpec(w *WindowSpec) {
	p.WriteByte('(')
	sep := ""
	if w.Base != nil {
		p.ident(w.Base)
		sep = " "
	}
	if len(w.PartitionBy) > 0 {
		p.WriteString(sep)
		p.kw("PARTITION BY ")
		p.exprs(w.PartitionBy)
		sep = " "
	}
	if len(w.OrderBy) > 0 {
		p.WriteString(sep)
		p.kw("ORDER BY ")
		p.orderItems(w.OrderBy)
		sep = " "
	}
	if w.Frame != nil {
		p.WriteString(sep)
		if w.Frame.Unit == FrameRows {
			p.kw("ROWS ")
		} else {
			p.kw("RANGE ")
		}
		if w.Frame.End != nil {
			p.kw("BETWEEN ")
			p.bound(w.Frame.Start)
			p.kw(" AND ")
			p.bound(w.Frame.End)
		} else {
			p.bound(w.Frame.Start)
		}
	}
	p.WriteByte(')')
}

func (p *printer) bound(b *FrameBound) {
	switch b.Kind {
	case UnboundedPreceding:
		p.kw("UNBOUNDED PRECEDING")
	case UnboundedFollowing:
		p.kw("UNBOUNDED FOLLOWING")
	case CurrentRow:
		p.kw("CURRENT ROW")
	case Preceding:
		p.expr(b.Offset, PrecAdd)
		p.kw(" PRECEDING")
	case Following:
		p.expr(b.Offset, PrecAdd)
		p.kw(" FOLLOWING")
	}
}

func (p *printer) typ(t *Type) {
	if t == nil {
		p.WriteString("<nil>")
		return
	}
	params := func() {
		if len(t.Params) == 0 {
			return
		}
		p.WriteByte('(')
		for i, n := range t.Params {
			if i > 0 {
				p.WriteString(", ")
			}
			p.WriteString(strconv.Itoa(n))
		}
		p.WriteByte(')')
	}
	switch t.Name {
	case "ARRAY", "MULTISET":
		p.kw(t.Name)
		p.WriteByte('<')
		p.typ(t.Elem)
		p.WriteByte('>')
	case "MAP":
		p.kw("MAP<")
		p.typ(t.Key)
		p.WriteString(", ")
		p.typ(t.Value)
		p.WriteByte('>')
	case "ROW":
		p.kw("ROW<")
		for i, f := range t.Fields {
			if i > 0 {
				p.WriteString(", ")
			}
			p.ident(f.Name)
			p.WriteByte(' ')
			p.typ(f.Type)
			if f.Comment != nil {
				p.WriteByte(' ')
				p.strLit(f.Comment)
			}
		}
		p.WriteByte('>')
	case "RAW":
		p.kw("RAW(")
		p.strLit(t.RawClass)
		if t.RawSnapshot != nil {
			p.WriteString(", ")
			p.strLit(t.RawSnapshot)
		}
		p.WriteByte(')')
	case "INTERVAL":
		p.kw("INTERVAL ")
		p.qualifier(t.Interval)
	case "TIMESTAMP_TZ":
		p.kw("TIMESTAMP")
		params()
		p.kw(" WITH TIME ZONE")
	default:
		p.kw(t.Name)
		params()
	}
	if t.NotNull {
		p.kw(" NOT NULL")
	}
}

func (p *printer) hints(hs []*Hint) {
	if len(hs) == 0 {
		return
	}
	p.WriteString("/*+ ")
	for i, h := range hs {
		if i > 0 {
			p.WriteString(", ")
		}
		p.ident(h.Name)
		if h.Args == nil {
			continue
		}
		p.WriteByte('(')
		for j, a := range h.Args {
			if j > 0 {
				p.WriteString(", ")
			}
			if a.Key != "" || a.KeyQuoted {
				p.hintWord(a.Key, a.KeyQuoted)
				p.WriteString(" = ")
			}
			p.hintWord(a.Value, a.ValueQuoted)
		}
		p.WriteByte(')')
	}
	p.WriteString(" */")
}

func (p *printer) hintWord(s string, quoted bool) {
	if quoted {
		p.str(s)
		return
	}
	p.ident(&Ident{Name: s})
}

// query prints a query; a query with clauses of its own inside a set
// operation or another query's body is parenthesised by queryBody.
func (p *printer) query(q *Query) {
	if q == nil {
		p.WriteString("<nil>")
		return
	}
	if len(q.With) > 0 {
		p.kw("WITH ")
		for i, c := range q.With {
			if i > 0 {
				p.WriteString(", ")
			}
			p.ident(c.Name)
			if len(c.Columns) > 0 {
				p.WriteString(" (")
				p.idents(c.Columns)
				p.WriteByte(')')
			}
			p.kw(" AS (")
			p.query(c.Query)
			p.WriteByte(')')
		}
		p.WriteByte(' ')
	}
	p.setOperand(q.Body, 0)
	if len(q.OrderBy) > 0 {
		p.kw(" ORDER BY ")
		p.orderItems(q.OrderBy)
	}
	if q.Limit != nil {
		p.kw(" LIMIT ")
		p.expr(q.Limit, 0)
	}
	if q.Offset != nil {
		p.kw(" OFFSET ")
		p.expr(q.Offset, 0)
	}
}

// queryBody prints a body on its own (as Format of a body does).
func (p *printer) queryBody(b QueryBody) { p.setOperand(b, 0) }

// setOperand prints b as an operand of a set operation binding at level
// (0: anything, 1: UNION/EXCEPT's right side, 2: INTERSECT's sides).
func (p *printer) setOperand(b QueryBody, level int) {
	switch b := b.(type) {
	case *Select:
		p.selectBody(b)
	case *Values:
		p.kw("VALUES ")
		for i, row := range b.Rows {
			if i > 0 {
				p.WriteString(", ")
			}
			p.WriteByte('(')
			p.exprs(row)
			p.WriteByte(')')
		}
	case *SetOp:
		prec := 1
		if b.Op == Intersect {
			prec = 2
		}
		if prec < level {
			p.WriteByte('(')
			p.setOperand(b, 0)
			p.WriteByte(')')
			return
		}
		p.setOperand(b.L, prec)
		p.WriteByte(' ')
		p.kw(b.Op.String())
		if b.All {
			p.kw(" ALL")
		} else if b.Distinct {
			p.kw(" DISTINCT")
		}
		p.WriteByte(' ')
		p.setOperand(b.R, prec+1)
	case *Query:
		p.WriteByte('(')
		p.query(b)
		p.WriteByte(')')
	case nil:
		p.WriteString("<nil>")
	}
}

func (p *printer) selectBody(s *Select) {
	p.kw("SELECT ")
	if s.Stream {
		p.kw("STREAM ")
	}
	if len(s.Hints) > 0 {
		p.hints(s.Hints)
		p.WriteByte(' ')
	}
	if s.Distinct {
		p.kw("DISTINCT ")
	} else if s.All {
		p.kw("ALL ")
	}
	for i, it := range s.Items {
		if i > 0 {
			p.WriteString(", ")
		}
		p.selectItem(it)
	}
	if s.From != nil {
		p.kw(" FROM ")
		p.table(s.From)
	}
	if s.Where != nil {
		p.kw(" WHERE ")
		p.expr(s.Where, 0)
	}
	if s.Stagger != nil {
		p.kw(" WINDOWED BY STAGGER (PARTITION BY ")
		p.exprs(s.Stagger.PartitionBy)
		p.kw(" RANGE ")
		p.expr(s.Stagger.Range, 0)
		p.WriteByte(')')
	}
	if s.GroupBy != nil {
		p.kw(" GROUP BY ")
		if s.GroupBy.Distinct {
			p.kw("DISTINCT ")
		}
		p.groupingElements(s.GroupBy.Elements)
	}
	if s.Having != nil {
		p.kw(" HAVING ")
		p.expr(s.Having, 0)
	}
	if len(s.Windows) > 0 {
		p.kw(" WINDOW ")
		for i, w := range s.Windows {
			if i > 0 {
				p.WriteString(", ")
			}
			p.ident(w.Name)
			p.kw(" AS ")
			p.windowSpec(w.Spec)
		}
	}
}

func (p *printer) selectItem(it *SelectItem) {
	p.expr(it.Expr, 0)
	if it.Alias != nil {
		p.kw(" AS ")
		p.ident(it.Alias)
	}
}

func (p *printer) groupingElements(els []*GroupingElement) {
	for i, g := range els {
		if i > 0 {
			p.WriteString(", ")
		}
		switch g.Kind {
		case GroupExpr:
			p.expr(g.Exprs[0], 0)
		case GroupEmpty:
			p.WriteString("()")
		case GroupRollup, GroupCube:
			if g.Kind == GroupRollup {
				p.kw("ROLLUP(")
			} else {
				p.kw("CUBE(")
			}
			p.exprs(g.Exprs)
			p.WriteByte(')')
		case GroupingSets:
			p.kw("GROUPING SETS (")
			p.groupingElements(g.Sets)
			p.WriteByte(')')
		}
	}
}

func (p *printer) alias(a *Alias) {
	if a == nil {
		return
	}
	p.kw(" AS ")
	p.ident(a.Name)
	if len(a.Columns) > 0 {
		p.WriteString(" (")
		p.idents(a.Columns)
		p.WriteByte(')')
	}
}

func (p *printer) table(t TableExpr) {
	switch t := t.(type) {
	case *TableName:
		p.name(t.Name)
		if len(t.Hints) > 0 {
			p.WriteByte(' ')
			p.hints(t.Hints)
		}
		if t.SystemTime != nil {
			p.kw(" FOR SYSTEM_TIME AS OF ")
			p.expr(t.SystemTime, 0)
		}
		p.alias(t.Alias)
	case *DerivedTable:
		if t.Lateral {
			p.kw("LATERAL ")
		}
		p.WriteByte('(')
		p.query(t.Query)
		p.WriteByte(')')
		p.alias(t.Alias)
	case *TableFunc:
		if t.Lateral {
			p.kw("LATERAL ")
		}
		p.kw("TABLE(")
		p.funcCall(t.Call)
		p.WriteByte(')')
		p.alias(t.Alias)
	case *Unnest:
		p.kw("UNNEST(")
		p.exprs(t.Exprs)
		p.WriteByte(')')
		if t.WithOrdinality {
			p.kw(" WITH ORDINALITY")
		}
		p.alias(t.Alias)
	case *Join:
		p.table(t.L)
		if t.Kind == CommaJoin {
			p.WriteString(", ")
		} else {
			p.WriteByte(' ')
			if t.Natural {
				p.kw("NATURAL ")
			}
			switch t.Kind {
			case InnerJoin:
				p.kw("JOIN ")
			case LeftJoin:
				p.kw("LEFT JOIN ")
			case RightJoin:
				p.kw("RIGHT JOIN ")
			case FullJoin:
				p.kw("FULL JOIN ")
			case CrossJoin:
				p.kw("CROSS JOIN ")
			}
		}
		// Joins are left-deep: a join on the right came from parentheses.
		if _, ok := t.R.(*Join); ok {
			p.WriteByte('(')
			p.table(t.R)
			p.WriteByte(')')
		} else {
			p.table(t.R)
		}
		if t.On != nil {
			p.kw(" ON ")
			p.expr(t.On, 0)
		}
		if len(t.Using) > 0 {
			p.kw(" USING (")
			p.idents(t.Using)
			p.WriteByte(')')
		}
	case *ParenTable:
		p.WriteByte('(')
		p.table(t.Table)
		p.WriteByte(')')
		p.alias(t.Alias)
	case *MatchRecognize:
		p.matchRecognize(t)
	case nil:
		p.WriteString("<nil>")
	}
}

func (p *printer) matchRecognize(m *MatchRecognize) {
	p.table(m.Input)
	p.kw(" MATCH_RECOGNIZE (")
	sep := ""
	if len(m.PartitionBy) > 0 {
		p.kw("PARTITION BY ")
		p.exprs(m.PartitionBy)
		sep = " "
	}
	if len(m.OrderBy) > 0 {
		p.WriteString(sep)
		p.kw("ORDER BY ")
		p.orderItems(m.OrderBy)
		sep = " "
	}
	if len(m.Measures) > 0 {
		p.WriteString(sep)
		p.kw("MEASURES ")
		for i, ms := range m.Measures {
			if i > 0 {
				p.WriteString(", ")
			}
			p.expr(ms.Expr, 0)
			p.kw(" AS ")
			p.ident(ms.Alias)
		}
		sep = " "
	}
	switch m.RowsPerMatch {
	case OneRowPerMatch:
		p.WriteString(sep)
		p.kw("ONE ROW PER MATCH")
		sep = " "
	case AllRowsPerMatch:
		p.WriteString(sep)
		p.kw("ALL ROWS PER MATCH")
		sep = " "
	}
	if a := m.AfterMatch; a != nil {
		p.WriteString(sep)
		p.kw("AFTER MATCH SKIP ")
		switch a.Kind {
		case SkipPastLastRow:
			p.kw("PAST LAST ROW")
		case SkipToNextRow:
			p.kw("TO NEXT ROW")
		case SkipToFirst:
			p.kw("TO FIRST ")
			p.ident(a.Var)
		case SkipToLast:
			p.kw("TO LAST ")
			p.ident(a.Var)
		}
		sep = " "
	}
	p.WriteString(sep)
	p.kw("PATTERN (")
	p.pattern(m.Pattern)
	p.WriteByte(')')
	if m.Within != nil {
		p.kw(" WITHIN ")
		p.expr(m.Within, 0)
	}
	if len(m.Subsets) > 0 {
		p.kw(" SUBSET ")
		for i, s := range m.Subsets {
			if i > 0 {
				p.WriteString(", ")
			}
			p.ident(s.Name)
			p.WriteString(" = (")
			p.idents(s.Vars)
			p.WriteByte(')')
		}
	}
	if len(m.Defines) > 0 {
		p.kw(" DEFINE ")
		for i, d := range m.Defines {
			if i > 0 {
				p.WriteString(", ")
			}
			p.ident(d.Var)
			p.kw(" AS ")
			p.expr(d.Cond, 0)
		}
	}
	p.WriteByte(')')
	p.alias(m.Alias)
}

// pattern prints a row pattern. Alternation binds loosest, then sequence,
// then quantifiers.
func (p *printer) pattern(pt Pattern) {
	switch pt := pt.(type) {
	case *PatternVar:
		p.ident(pt.Name)
	case *PatternSeq:
		for i, it := range pt.Items {
			if i > 0 {
				p.WriteByte(' ')
			}
			if _, ok := it.(*PatternAlt); ok {
				p.WriteByte('(')
				p.pattern(it)
				p.WriteByte(')')
			} else {
				p.pattern(it)
			}
		}
	case *PatternAlt:
		for i, it := range pt.Alts {
			if i > 0 {
				p.WriteString(" | ")
			}
			p.pattern(it)
		}
	case *PatternGroup:
		p.WriteByte('(')
		if pt.Pattern != nil {
			p.pattern(pt.Pattern)
		}
		p.WriteByte(')')
	case *PatternQuant:
		switch pt.Pattern.(type) {
		case *PatternVar, *PatternGroup, *PatternAnchor, *PatternPermute:
			p.pattern(pt.Pattern)
		default:
			p.WriteByte('(')
			p.pattern(pt.Pattern)
			p.WriteByte(')')
		}
		switch pt.Form {
		case "*", "+", "?":
			p.WriteString(pt.Form)
		default:
			p.WriteByte('{')
			if pt.Min > 0 || pt.Max < 0 || pt.Max == pt.Min {
				p.WriteString(strconv.Itoa(pt.Min))
			}
			if pt.Max != pt.Min {
				p.WriteByte(',')
				if pt.Max >= 0 {
					p.WriteString(strconv.Itoa(pt.Max))
				}
			}
			p.WriteByte('}')
		}
		if pt.Reluctant {
			p.WriteByte('?')
		}
	case *PatternAnchor:
		if pt.Start {
			p.WriteByte('^')
		} else {
			p.WriteByte('$')
		}
	case *PatternPermute:
		p.kw("PERMUTE(")
		for i, it := range pt.Items {
			if i > 0 {
				p.WriteString(", ")
			}
			p.pattern(it)
		}
		p.WriteByte(')')
	case nil:
		p.WriteString("<nil>")
	}
}

func (p *printer) column(c *ColumnDef) {
	p.ident(c.Name)
	switch c.Kind {
	case ComputedColumn:
		p.kw(" AS ")
		p.expr(c.Expr, 0)
	default:
		p.WriteByte(' ')
		p.typ(c.Type)
		if c.Kind == MetadataColumn {
			p.kw(" METADATA")
			if c.MetadataKey != nil {
				p.kw(" FROM ")
				p.strLit(c.MetadataKey)
			}
			if c.Virtual {
				p.kw(" VIRTUAL")
			}
		}
	}
	if c.Constraint != nil {
		p.WriteByte(' ')
		p.constraint(c.Constraint)
	}
	if c.Comment != nil {
		p.kw(" COMMENT ")
		p.strLit(c.Comment)
	}
	if c.Position != nil {
		if c.Position.First {
			p.kw(" FIRST")
		} else {
			p.kw(" AFTER ")
			p.ident(c.Position.After)
		}
	}
}

func (p *printer) constraint(c *Constraint) {
	if c.Name != nil {
		p.kw("CONSTRAINT ")
		p.ident(c.Name)
		p.WriteByte(' ')
	}
	if c.Kind == UniqueKey {
		p.kw("UNIQUE")
	} else {
		p.kw("PRIMARY KEY")
	}
	if len(c.Columns) > 0 {
		p.WriteString(" (")
		p.idents(c.Columns)
		p.WriteByte(')')
	}
	if c.NotEnforced {
		p.kw(" NOT ENFORCED")
	} else if c.Enforced {
		p.kw(" ENFORCED")
	}
}

func (p *printer) watermark(w *Watermark) {
	p.kw("WATERMARK FOR ")
	p.name(w.Column)
	p.kw(" AS ")
	p.expr(w.Expr, 0)
}

// schema prints the parenthesised column list of CREATE TABLE or ALTER
// TABLE ADD/MODIFY.
func (p *printer) schema(cols []*ColumnDef, wms []*Watermark, cons []*Constraint) {
	p.WriteByte('(')
	sep := ""
	for _, c := range cols {
		p.WriteString(sep)
		p.column(c)
		sep = ", "
	}
	for _, w := range wms {
		p.WriteString(sep)
		p.watermark(w)
		sep = ", "
	}
	for _, c := range cons {
		p.WriteString(sep)
		p.constraint(c)
		sep = ", "
	}
	p.WriteByte(')')
}

func (p *printer) comment(c *StringLit) {
	if c != nil {
		p.kw(" COMMENT ")
		p.strLit(c)
	}
}

func (p *printer) with(opts []*Option) {
	if opts != nil {
		p.kw(" WITH ")
		p.options(opts)
	}
}

func (p *printer) insert(s *Insert) {
	if s.Overwrite {
		p.kw("INSERT OVERWRITE ")
	} else {
		p.kw("INSERT INTO ")
	}
	p.name(s.Table)
	if len(s.Hints) > 0 {
		p.WriteByte(' ')
		p.hints(s.Hints)
	}
	if len(s.Partition) > 0 {
		p.kw(" PARTITION (")
		for i, pv := range s.Partition {
			if i > 0 {
				p.WriteString(", ")
			}
			p.ident(pv.Column)
			p.WriteString(" = ")
			p.expr(pv.Value, 0)
		}
		p.WriteByte(')')
	}
	if len(s.Columns) > 0 {
		p.WriteString(" (")
		p.idents(s.Columns)
		p.WriteByte(')')
	}
	p.WriteByte(' ')
	p.query(s.Query)
}

func (p *printer) stmt(s Statement) {
	switch s := s.(type) {
	case *QueryStmt:
		p.query(s.Query)
	case *CreateTable:
		p.kw("CREATE ")
		if s.OrReplace {
			p.kw("OR REPLACE ")
		}
		if s.Temporary {
			p.kw("TEMPORARY ")
		}
		p.kw("TABLE ")
		if s.IfNotExists {
			p.kw("IF NOT EXISTS ")
		}
		p.name(s.Name)
		if len(s.Columns)+len(s.Watermarks)+len(s.Constraints) > 0 {
			p.WriteByte(' ')
			p.schema(s.Columns, s.Watermarks, s.Constraints)
		}
		p.comment(s.Comment)
		if len(s.PartitionedBy) > 0 {
			p.kw(" PARTITIONED BY (")
			p.idents(s.PartitionedBy)
			p.WriteByte(')')
		}
		p.with(s.Options)
		if s.Like != nil {
			p.kw(" LIKE ")
			p.name(s.Like.Source)
			if len(s.Like.Options) > 0 {
				p.WriteString(" (")
				for i, o := range s.Like.Options {
					if i > 0 {
						p.WriteByte(' ')
					}
					p.kw(o.Strategy)
					p.WriteByte(' ')
					p.kw(o.Feature)
				}
				p.WriteByte(')')
			}
		}
		if s.AsQuery != nil {
			p.kw(" AS ")
			p.query(s.AsQuery)
		}
	case *CreateView:
		p.kw("CREATE ")
		if s.OrReplace {
			p.kw("OR REPLACE ")
		}
		if s.Temporary {
			p.kw("TEMPORARY ")
		}
		p.kw("VIEW ")
		if s.IfNotExists {
			p.kw("IF NOT EXISTS ")
		}
		p.name(s.Name)
		if len(s.Columns) > 0 {
			p.WriteString(" (")
			p.idents(s.Columns)
			p.WriteByte(')')
		}
		p.comment(s.Comment)
		p.kw(" AS ")
		p.query(s.Query)
	case *CreateFunction:
		p.kw("CREATE ")
		if s.Temporary {
			p.kw("TEMPORARY ")
			if s.System {
				p.kw("SYSTEM ")
			}
		}
		p.kw("FUNCTION ")
		if s.IfNotExists {
			p.kw("IF NOT EXISTS ")
		}
		p.name(s.Name)
		p.kw(" AS ")
		p.strLit(s.Identifier)
		if s.Language != "" {
			p.kw(" LANGUAGE ")
			p.kw(s.Language)
		}
		if len(s.Jars) > 0 {
			p.kw(" USING ")
			for i, j := range s.Jars {
				if i > 0 {
					p.WriteString(", ")
				}
				p.kw("JAR ")
				p.strLit(j)
			}
		}
	case *CreateCatalog:
		p.kw("CREATE CATALOG ")
		if s.IfNotExists {
			p.kw("IF NOT EXISTS ")
		}
		p.ident(s.Name)
		p.comment(s.Comment)
		p.with(s.Options)
	case *CreateDatabase:
		p.kw("CREATE DATABASE ")
		if s.IfNotExists {
			p.kw("IF NOT EXISTS ")
		}
		p.name(s.Name)
		p.comment(s.Comment)
		p.with(s.Options)
	case *CreateStream:
		p.kw("CREATE ")
		if s.OrReplace {
			p.kw("OR REPLACE ")
		}
		p.kw("STREAM ")
		p.name(s.Name)
		p.WriteByte(' ')
		p.schema(s.Columns, nil, nil)
		if s.Description != nil {
			p.kw(" DESCRIPTION ")
			p.strLit(s.Description)
		}
	case *CreatePump:
		p.kw("CREATE ")
		if s.OrReplace {
			p.kw("OR REPLACE ")
		}
		p.kw("PUMP ")
		p.name(s.Name)
		p.kw(" AS ")
		p.insert(s.Insert)
	case *Drop:
		p.kw("DROP ")
		if s.Temporary {
			p.kw("TEMPORARY ")
			if s.System {
				p.kw("SYSTEM ")
			}
		}
		p.kw(s.Kind)
		p.WriteByte(' ')
		if s.IfExists {
			p.kw("IF EXISTS ")
		}
		p.name(s.Name)
		if s.Cascade {
			p.kw(" CASCADE")
		} else if s.Restrict {
			p.kw(" RESTRICT")
		}
	case *AlterTable:
		p.kw("ALTER TABLE ")
		if s.IfExists {
			p.kw("IF EXISTS ")
		}
		p.name(s.Name)
		switch s.Action {
		case AlterSetOptions:
			p.kw(" SET ")
			p.options(s.Options)
		case AlterResetOptions:
			p.kw(" RESET (")
			for i, k := range s.ResetKeys {
				if i > 0 {
					p.WriteString(", ")
				}
				p.strLit(k)
			}
			p.WriteByte(')')
		case AlterRename:
			p.kw(" RENAME TO ")
			p.name(s.NewName)
		case AlterRenameColumn:
			p.kw(" RENAME ")
			p.ident(s.Column)
			p.kw(" TO ")
			p.ident(s.NewColumn)
		case AlterAdd, AlterModify:
			if s.Action == AlterAdd {
				p.kw(" ADD ")
			} else {
				p.kw(" MODIFY ")
			}
			if s.Paren {
				p.schema(s.Columns, s.Watermarks, s.Constraints)
			} else {
				switch {
				case len(s.Columns) == 1:
					p.column(s.Columns[0])
				case len(s.Watermarks) == 1:
					p.watermark(s.Watermarks[0])
				case len(s.Constraints) == 1:
					p.constraint(s.Constraints[0])
				}
			}
		case AlterDropColumns:
			p.kw(" DROP ")
			if len(s.Names) == 1 {
				p.ident(s.Names[0])
			} else {
				p.WriteByte('(')
				p.idents(s.Names)
				p.WriteByte(')')
			}
		case AlterDropPrimaryKey:
			p.kw(" DROP PRIMARY KEY")
		case AlterDropConstraint:
			p.kw(" DROP CONSTRAINT ")
			p.idents(s.Names)
		case AlterDropWatermark:
			p.kw(" DROP WATERMARK")
		}
	case *AlterView:
		p.kw("ALTER VIEW ")
		p.name(s.Name)
		if s.NewName != nil {
			p.kw(" RENAME TO ")
			p.name(s.NewName)
		} else {
			p.kw(" AS ")
			p.query(s.Query)
		}
	case *Insert:
		p.insert(s)
	case *StatementSet:
		if s.Client {
			p.kw("BEGIN STATEMENT SET;\n")
			for _, ins := range s.Inserts {
				p.insert(ins)
				p.WriteString(";\n")
			}
			p.kw("END")
			return
		}
		p.kw("STATEMENT SET BEGIN ")
		for _, ins := range s.Inserts {
			p.insert(ins)
			p.WriteString("; ")
		}
		p.kw("END")
	case *Execute:
		p.kw("EXECUTE ")
		p.stmt(s.Stmt)
	case *Explain:
		p.kw("EXPLAIN ")
		if s.PlanFor {
			p.kw("PLAN FOR ")
		}
		for i, d := range s.Details {
			if i > 0 {
				p.WriteString(", ")
			}
			p.kw(d)
		}
		if len(s.Details) > 0 {
			p.WriteByte(' ')
		}
		p.stmt(s.Stmt)
	case *Show:
		p.kw("SHOW ")
		p.kw(s.What)
		if s.Name != nil {
			switch s.What {
			case "TABLES", "VIEWS", "FUNCTIONS", "USER FUNCTIONS", "DATABASES", "COLUMNS":
				if s.What == "COLUMNS" {
					p.kw(" FROM ")
				} else {
					p.kw(" IN ")
				}
			default:
				p.WriteByte(' ')
			}
			p.name(s.Name)
		}
		if s.Like != nil {
			if s.NotLike {
				p.kw(" NOT")
			}
			p.kw(" LIKE ")
			p.strLit(s.Like)
		}
	case *Describe:
		p.kw("DESCRIBE ")
		if s.Extended {
			p.kw("EXTENDED ")
		}
		p.name(s.Name)
	case *StopJob:
		p.kw("STOP JOB ")
		p.strLit(s.ID)
		if s.WithSavepoint {
			p.kw(" WITH SAVEPOINT")
		}
		if s.WithDrain {
			p.kw(" WITH DRAIN")
		}
	case *Set:
		p.kw("SET")
		if s.Key != nil {
			p.WriteByte(' ')
			p.strLit(s.Key)
			p.WriteString(" = ")
			p.strLit(s.Value)
		}
	case *Reset:
		p.kw("RESET")
		if s.Key != nil {
			p.WriteByte(' ')
			p.strLit(s.Key)
		}
	case *Use:
		p.kw("USE ")
		if s.Kind != "DATABASE" {
			p.kw(s.Kind)
			p.WriteByte(' ')
		}
		for i, n := range s.Names {
			if i > 0 {
				p.WriteString(", ")
			}
			p.name(n)
		}
	case *Jar:
		if s.Remove {
			p.kw("REMOVE JAR ")
		} else {
			p.kw("ADD JAR ")
		}
		p.strLit(s.Path)
	default:
		fmt.Fprintf(p, "<%T>", s)
	}
}
