package parser

import (
	"slices"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// MaxDepth is how deeply expressions, queries, table expressions, types and
// patterns may nest. Deeper input is refused with an error instead of
// exhausting the stack of this or any later stage that walks the tree
// recursively.
const MaxDepth = 500

// maxErrors is how many errors one script reports before giving up.
const maxErrors = 10

// Parse parses a script: statements separated by semicolons. Empty
// statements are skipped. On error it returns the statements it could
// parse and a diag.ErrorList with every error found (parsing resumes after
// the next semicolon), at most ten.
func Parse(src string) ([]ast.Statement, error) {
	s, err := ParseScript(src)
	return s.Statements, err
}

// ParseScript is Parse returning the script with its source, for the
// later stages that render errors against it.
func ParseScript(src string) (*ast.Script, error) {
	p := newParser(src)
	var stmts []ast.Statement
	for len(p.errs) < maxErrors {
		for p.isOp(";") {
			p.advance()
		}
		if p.cur().kind == tEOF {
			break
		}
		if s := p.statementRecovering(); s != nil {
			stmts = append(stmts, s)
		}
	}
	return &ast.Script{Source: src, Statements: stmts}, p.errs.Err()
}

// ParseStatement parses exactly one statement, optionally followed by a
// semicolon.
func ParseStatement(src string) (ast.Statement, error) {
	p := newParser(src)
	var s ast.Statement
	err := p.run(func() {
		s = p.statement()
		p.acceptOp(";")
		p.expectEOF()
	})
	return s, err
}

// ParseQuery parses one query (SELECT, VALUES, WITH, set operations).
func ParseQuery(src string) (*ast.Query, error) {
	p := newParser(src)
	var q *ast.Query
	err := p.run(func() {
		q = p.query()
		p.expectEOF()
	})
	return q, err
}

// ParseExpr parses one expression.
func ParseExpr(src string) (ast.Expr, error) {
	p := newParser(src)
	var e ast.Expr
	err := p.run(func() {
		e = p.expr()
		p.expectEOF()
	})
	return e, err
}

// ParseType parses one data type, as in a column definition.
func ParseType(src string) (*ast.Type, error) {
	p := newParser(src)
	var t *ast.Type
	err := p.run(func() {
		t = p.typ()
		p.expectEOF()
	})
	return t, err
}

// bailout is the panic value that unwinds the parser to the statement
// being parsed after an error has been recorded.
type bailout struct{}

type parser struct {
	src  string
	toks []token
	pos  int
	// expected collects what was tried at token index expectedAt, for the
	// "expected ..." of an error there.
	expected   []string
	expectedAt int
	errs       diag.ErrorList
	depth      int
	params     int
}

func newParser(src string) *parser {
	return &parser{src: src, toks: lex(src)}
}

// run calls f, turning a bailout into the recorded errors.
func (p *parser) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			err = p.errs.Err()
		}
	}()
	f()
	return p.errs.Err()
}

// statementRecovering parses one statement and its terminator. After an
// error it skips to the next semicolon so the rest of the script is still
// checked.
func (p *parser) statementRecovering() (s ast.Statement) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			s = nil
			p.depth = 0
			for p.cur().kind != tEOF && !p.isOp(";") {
				p.advance()
			}
		}
	}()
	s = p.statement()
	if !p.acceptOp(";") && p.cur().kind != tEOF {
		p.unexpected()
	}
	return s
}

func (p *parser) cur() *token { return &p.toks[p.pos] }

// peek returns the token k places after the current one (EOF past the end).
func (p *parser) peek(k int) *token {
	if p.pos+k < len(p.toks) {
		return &p.toks[p.pos+k]
	}
	return &p.toks[len(p.toks)-1]
}

func (p *parser) advance() {
	if p.cur().kind != tEOF {
		p.pos++
	}
}

// start returns the position of the current token, where a node begins.
func (p *parser) start() diag.Pos { return p.cur().span.Start }

// span returns the span from start to the end of the last token consumed.
func (p *parser) span(start diag.Pos) ast.Spanned {
	end := start
	if p.pos > 0 {
		end = p.toks[p.pos-1].span.End
	}
	if end.Offset < start.Offset {
		end = start
	}
	return ast.Spanned{Loc: diag.Span{Start: start, End: end}}
}

// want records that what would have been accepted at the current token.
func (p *parser) want(what string) {
	if p.expectedAt != p.pos {
		p.expected = p.expected[:0]
		p.expectedAt = p.pos
	}
	if !slices.Contains(p.expected, what) {
		p.expected = append(p.expected, what)
	}
}

func (p *parser) isOp(op string) bool {
	t := p.cur()
	return t.kind == tOp && t.val == op
}

func (p *parser) isOpAt(k int, op string) bool {
	t := p.peek(k)
	return t.kind == tOp && t.val == op
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.advance()
		return true
	}
	p.want(op)
	return false
}

func (p *parser) expectOp(op string) {
	if !p.acceptOp(op) {
		p.unexpected()
	}
}

// isWordAt reports whether the token k places on is the word w: a reserved
// word, or a name spelled w in any case (a non-reserved keyword).
func (p *parser) isWordAt(k int, w string) bool {
	t := p.peek(k)
	switch t.kind {
	case tKeyword:
		return t.kw == w
	case tIdent:
		return strings.EqualFold(t.val, w)
	}
	return false
}

func (p *parser) isKw(w string) bool { return p.isWordAt(0, w) }

func (p *parser) acceptKw(w string) bool {
	if p.isKw(w) {
		p.advance()
		return true
	}
	p.want(w)
	return false
}

// takeKw accepts w without listing it among the expected words: for
// optional words that would only clutter an error message.
func (p *parser) takeKw(w string) bool {
	if p.isKw(w) {
		p.advance()
		return true
	}
	return false
}

func (p *parser) expectKw(w string) {
	if !p.acceptKw(w) {
		p.unexpected()
	}
}

// acceptKws accepts the words ws in sequence, all or none; it records
// them as one expectation ("GROUP BY").
func (p *parser) acceptKws(ws ...string) bool {
	for i, w := range ws {
		if !p.isWordAt(i, w) {
			p.want(strings.Join(ws, " "))
			return false
		}
	}
	for range ws {
		p.advance()
	}
	return true
}

// acceptClause accepts a two-word clause keyword such as GROUP BY: when the
// first word is there but the second is not, that is an error at the
// second word rather than another alternative.
func (p *parser) acceptClause(first, second string) bool {
	if !p.isKw(first) {
		p.want(first + " " + second)
		return false
	}
	p.advance()
	p.expectKw(second)
	return true
}

func (p *parser) expectKws(ws ...string) {
	if !p.acceptKws(ws...) {
		p.unexpected()
	}
}

// oneOfKw accepts whichever of ws is next and returns it, or "".
func (p *parser) oneOfKw(ws ...string) string {
	for _, w := range ws {
		if p.acceptKw(w) {
			return w
		}
	}
	return ""
}

func (p *parser) expectEOF() {
	if p.cur().kind != tEOF {
		p.want("end of input")
		p.unexpected()
	}
}

// describe names a token for "unexpected ...".
func describe(t *token) string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tKeyword:
		return t.kw
	case tIdent:
		return "name " + t.val
	case tQIdent:
		return "name `" + strings.ReplaceAll(t.val, "`", "``") + "`"
	case tString:
		return "string " + quoteString(t.val)
	case tNumber:
		return "number " + t.val
	case tBinary:
		return "binary string X'" + t.val + "'"
	case tParam:
		return `"?"`
	case tHintStart:
		return "hint /*+"
	case tHintEnd:
		return `"*/"`
	}
	return `"` + t.val + `"`
}

func quoteString(s string) string {
	if len(s) > 30 {
		s = s[:30] + "..."
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// fail records an error about span and unwinds.
func (p *parser) fail(span diag.Span, hint, format string, args ...any) {
	e := diag.New(p.src, span, format, args...)
	e.Hint = hint
	p.errs = append(p.errs, e)
	panic(bailout{})
}

// failAt records an error about the current token.
func (p *parser) failAt(hint, format string, args ...any) {
	p.fail(p.cur().span, hint, format, args...)
}

// unexpected fails at the current token with what was expected there.
func (p *parser) unexpected() {
	t := p.cur()
	if t.kind == tIllegal {
		p.fail(t.span, t.hint, "%s", t.val)
	}
	var exp []string
	if p.expectedAt == p.pos {
		exp = expectedList(p.expected)
	}
	e := diag.New(p.src, t.span, "unexpected %s", describe(t))
	e.Expected = exp
	if t.kind == tKeyword && !structural[t.kw] && wantsName(exp) {
		e.Hint = reservedHint(t)
	}
	p.errs = append(p.errs, e)
	panic(bailout{})
}

// expectedList orders what was expected for reading: descriptions ("an
// expression", "a table name") first, then words and symbols as tried. A
// comma is quoted so the list stays readable.
func expectedList(exp []string) []string {
	out := make([]string, 0, len(exp))
	for _, e := range exp {
		if strings.HasPrefix(e, "a ") || strings.HasPrefix(e, "an ") {
			out = append(out, e)
		}
	}
	for _, e := range exp {
		switch {
		case strings.HasPrefix(e, "a ") || strings.HasPrefix(e, "an "):
		case e == ",":
			out = append(out, `","`)
		default:
			out = append(out, e)
		}
	}
	return out
}

// wantsName reports whether a name was among the expected things.
func wantsName(exp []string) bool {
	for _, e := range exp {
		if strings.HasSuffix(e, "name") || e == "an expression" || e == "an alias" {
			return true
		}
	}
	return false
}

func reservedHint(t *token) string {
	return t.kw + " is a reserved word; to use it as a name, quote it: `" + strings.ReplaceAll(t.val, "`", "``") + "`"
}

// structural are the reserved words that shape statements; meeting one
// where a name was expected is a misplaced clause, not a name to quote.
var structural = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT OFFSET FETCH UNION
		INTERSECT EXCEPT MINUS JOIN ON USING AND OR NOT AS WITH INSERT INTO VALUES SET CREATE DROP
		ALTER WHEN THEN ELSE END CASE IN IS BETWEEN LIKE LEFT RIGHT FULL INNER CROSS OUTER NATURAL
		WINDOW PARTITION OVER ALL DISTINCT EXPLAIN SHOW DESCRIBE EXECUTE BEGIN FOR TO ESCAPE
		SIMILAR DEFINE PATTERN MEASURES ROWS RANGE ASYMMETRIC SYMMETRIC FILTER WITHIN LATERAL`) {
		m[w] = true
	}
	return m
}()

// enter and leave bound the nesting depth.
func (p *parser) enter() {
	p.depth++
	if p.depth > MaxDepth {
		p.failAt("", "too deeply nested: more than %d levels of expressions, queries or types", MaxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

// try runs f; if f fails, it undoes what f consumed and recorded and
// reports false.
func (p *parser) try(f func()) (ok bool) {
	pos, nerrs, depth := p.pos, len(p.errs), p.depth
	params := p.params
	defer func() {
		if r := recover(); r != nil {
			if _, isBail := r.(bailout); !isBail {
				panic(r)
			}
			p.pos, p.errs, p.depth, p.params = pos, p.errs[:nerrs], depth, params
			p.expected, p.expectedAt = p.expected[:0], -1
			ok = false
		}
	}()
	f()
	return true
}

// isName reports whether the current token can be a name.
func (p *parser) isName() bool {
	k := p.cur().kind
	return k == tIdent || k == tQIdent
}

// ident reads a name; what says which ("a column name") for the error.
func (p *parser) ident(what string) *ast.Ident {
	t := p.cur()
	switch t.kind {
	case tIdent:
		p.advance()
		return &ast.Ident{Spanned: ast.Spanned{Loc: t.span}, Name: t.val}
	case tQIdent:
		p.advance()
		return &ast.Ident{Spanned: ast.Spanned{Loc: t.span}, Name: t.val, Quoted: true}
	}
	p.want(what)
	p.unexpected()
	return nil
}

// idents reads a comma-separated list of names.
func (p *parser) idents(what string) []*ast.Ident {
	out := []*ast.Ident{p.ident(what)}
	for p.acceptOp(",") {
		out = append(out, p.ident(what))
	}
	return out
}

// parenIdents reads ( name, ... ).
func (p *parser) parenIdents(what string) []*ast.Ident {
	p.expectOp("(")
	ids := p.idents(what)
	p.expectOp(")")
	return ids
}

// name reads a possibly qualified name a.b.c.
func (p *parser) name(what string) *ast.Name {
	start := p.start()
	parts := []*ast.Ident{p.ident(what)}
	for p.isOp(".") && (p.peek(1).kind == tIdent || p.peek(1).kind == tQIdent || p.peek(1).kind == tKeyword) {
		p.advance()
		parts = append(parts, p.ident(what))
	}
	return &ast.Name{Spanned: p.span(start), Parts: parts}
}

// str reads a string literal; hint is shown when something else is there.
func (p *parser) str(what, hint string) *ast.StringLit {
	t := p.cur()
	if t.kind == tString {
		p.advance()
		return &ast.StringLit{Spanned: ast.Spanned{Loc: t.span}, Value: t.val}
	}
	p.want(what)
	if hint != "" && t.kind != tIllegal && t.kind != tEOF {
		exp := p.expected
		e := diag.New(p.src, t.span, "unexpected %s", describe(t))
		e.Expected = expectedList(exp)
		e.Hint = hint
		p.errs = append(p.errs, e)
		panic(bailout{})
	}
	p.unexpected()
	return nil
}

// isQueryStart reports whether the token k places on starts a query.
func (p *parser) isQueryStart(k int) bool {
	return p.isWordAt(k, "SELECT") || p.isWordAt(k, "WITH") || p.isWordAt(k, "VALUES")
}

// intLit reads a non-negative integer literal.
func (p *parser) intLit(what string) int {
	t := p.cur()
	if t.kind != tNumber || strings.ContainsAny(t.val, ".eE") {
		p.want(what)
		p.unexpected()
	}
	n := 0
	for i := 0; i < len(t.val); i++ {
		n = n*10 + int(t.val[i]-'0')
		if n > 1<<31-1 {
			p.failAt("", "number %s is too large", t.val)
		}
	}
	p.advance()
	return n
}
